"""Business rules of scheduling.appointment.

An appointment is opened by the schedule that booked it (the open-appointment worker). Its
cancellation names that schedule, so that the release-appointment worker frees the time there.
"""

from fluvius.domain import Event

from clinic.scheduling._generated.appointment import AppointmentBase, CancelAppointment


class Appointment(AppointmentBase):
    """scheduling.appointment, with the rules of the business on top of the spec's."""

    def cancel_appointment(self, command: CancelAppointment) -> list[Event]:
        schedule = {"schedule_id": self.state.schedule_id}
        return [event.model_copy(update=schedule) for event in super().cancel_appointment(command)]
