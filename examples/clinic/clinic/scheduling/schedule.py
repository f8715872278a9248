"""Business rules of scheduling.schedule: a clinician is never booked twice at once.

The schedule holds the clinician's bookings (the `bookings` state field, a JSON list), so its own
state decides whether a new appointment overlaps one of them. A booking names the appointment it
makes; the open-appointment worker opens it (workers.py). A patient from another clinic is
refused before this code runs: `patient_id` is a ref, looked up in the caller's tenant.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from fluvius.domain import Event, Rejected
from fluvius.ids import uuid7

from clinic.scheduling._generated.schedule import (
    AppointmentBooked,
    AppointmentReleased,
    BookAppointment,
    ScheduleBase,
    ScheduleState,
)


@dataclass(frozen=True)
class Booking:
    """An appointment's time in the schedule: from `starts_at` until `ends_at`."""

    appointment_id: uuid.UUID
    starts_at: dt.datetime
    ends_at: dt.datetime

    @classmethod
    def from_json(cls, data: dict[str, str]) -> "Booking":
        return cls(
            uuid.UUID(data["appointment_id"]),
            dt.datetime.fromisoformat(data["starts_at"]),
            dt.datetime.fromisoformat(data["ends_at"]),
        )

    def to_json(self) -> dict[str, str]:
        return {
            "appointment_id": str(self.appointment_id),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
        }

    def overlaps(self, starts_at: dt.datetime, ends_at: dt.datetime) -> bool:
        return starts_at < self.ends_at and self.starts_at < ends_at


def ending(starts_at: dt.datetime, duration_minutes: int) -> dt.datetime:
    """When a visit ends; refused when that is past the calendar's last day (year 9999)."""
    try:
        return starts_at + dt.timedelta(minutes=duration_minutes)
    except OverflowError:
        raise Rejected("beyond-the-calendar", "the visit would end after the year 9999") from None


class Schedule(ScheduleBase):
    """scheduling.schedule, with the rules of the business on top of the spec's."""

    def bookings(self) -> list[Booking]:
        """The appointments booked in this schedule and not released."""
        stored: list[dict[str, Any]] = self.state.bookings or []  # type: ignore[assignment]
        return [Booking.from_json(booking) for booking in stored]

    def book_appointment(self, command: BookAppointment) -> list[Event]:
        ends_at = ending(command.starts_at, command.duration_minutes)
        for booking in self.bookings():
            if booking.overlaps(command.starts_at, ends_at):
                raise Rejected(
                    "clinician-already-booked",
                    f"{self.state.clinician_id} is booked from {booking.starts_at.isoformat()} "
                    f"until {booking.ends_at.isoformat()}",
                    appointment_id=str(booking.appointment_id),
                )
        named = {"appointment_id": uuid7(), "clinician_id": self.state.clinician_id}
        return [event.model_copy(update=named) for event in super().book_appointment(command)]

    def apply_appointment_booked(self, event: AppointmentBooked) -> ScheduleState:
        assert event.appointment_id is not None, "the booking names its appointment"
        ends_at = ending(event.starts_at, event.duration_minutes)
        booking = Booking(event.appointment_id, event.starts_at, ends_at)
        return self.state.evolve(
            bookings=[*(b.to_json() for b in self.bookings()), booking.to_json()]
        )

    def apply_appointment_released(self, event: AppointmentReleased) -> ScheduleState:
        kept = [b for b in self.bookings() if b.appointment_id != event.appointment_id]
        return self.state.evolve(bookings=[booking.to_json() for booking in kept])
