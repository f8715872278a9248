"""Workers of the scheduling domain: what runs after events, and on schedules.

fluvius created this file once and never rewrites it; when fluvius.yaml declares a new worker,
`fluvius generate` appends its function here. A worker runs at least once per event (or tick)
and is retried when it raises, so make it safe to run twice: commands sent with `ctx.send` are
recorded once per event, however often the worker runs.
"""

import logging

from fluvius.domain import RecordedEvent
from fluvius.worker import WorkerContext

from clinic.scheduling._generated.appointment import (
    AppointmentCancelled,
    OpenAppointment,
    PatientCheckedIn,
)
from clinic.scheduling._generated.schedule import AppointmentBooked, ReleaseAppointment
from clinic.scheduling.appointment import Appointment
from clinic.scheduling.schedule import Schedule

logger = logging.getLogger(__name__)


async def open_appointment(event: RecordedEvent[AppointmentBooked], ctx: WorkerContext) -> None:
    """Open the appointment a schedule booked, under the id the booking gave it."""
    booked = event.data
    if booked.appointment_id is None or booked.clinician_id is None:
        raise ValueError(f"{event.name} {event.id} names no appointment or clinician")
    command = OpenAppointment(
        schedule_id=event.aggregate_id,
        patient_id=booked.patient_id,
        patient_account=booked.patient_account,
        clinician_id=booked.clinician_id,
        starts_at=booked.starts_at,
        duration_minutes=booked.duration_minutes,
        reason=booked.reason,
    )
    await ctx.send(Appointment, command, booked.appointment_id)


async def release_appointment(
    event: RecordedEvent[AppointmentCancelled], ctx: WorkerContext
) -> None:
    """Free a cancelled appointment's time in the schedule that booked it."""
    schedule_id = event.data.schedule_id
    if schedule_id is None:
        logger.warning("release-appointment: %s names no schedule", event.aggregate_id)
        return
    await ctx.send(Schedule, ReleaseAppointment(appointment_id=event.aggregate_id), schedule_id)


async def notify_clinician_of_arrival(
    event: RecordedEvent[PatientCheckedIn], ctx: WorkerContext
) -> None:
    """Runs once for every patient-checked-in of scheduling.appointment (3 retries)."""
    logger.info(
        "notify-clinician-of-arrival: %s of %s at version %s",
        event.name,
        event.aggregate_id,
        event.version,
    )


async def send_reminders(ctx: WorkerContext) -> None:
    """Runs on the schedule 0 16 * * mon-fri (UTC), with 5 retries."""
    logger.info("send-reminders: the run scheduled at %s", ctx.scheduled_at)
