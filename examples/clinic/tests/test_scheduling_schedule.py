"""The clinic's rules on scheduling.schedule: no clinician is booked twice at once, and no
patient of another clinic is booked at all."""

import datetime as dt
import uuid

import pytest
from fluvius.domain import Rejected, UnknownReference
from fluvius.testing import Scenario

from clinic.scheduling._generated.patient import PatientRegistered
from clinic.scheduling._generated.schedule import (
    AppointmentBooked,
    AppointmentReleased,
    BookAppointment,
    OpenSchedule,
    ScheduleOpened,
)
from clinic.scheduling.patient import Patient
from clinic.scheduling.schedule import Schedule

NINE = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)
OPENED = ScheduleOpened(clinician_id="dr-who")


async def _patient(scenario: Scenario) -> uuid.UUID:
    registered = PatientRegistered(
        account_id="p-1",
        full_name="Ada",
        birth_date=dt.date(1990, 5, 1),
        phone="1",
        sms_reminders=False,
    )
    return await scenario.given(Patient, registered).record()


def _booking(patient_id: uuid.UUID, starts_at: dt.datetime, minutes: int = 30) -> BookAppointment:
    return BookAppointment(
        patient_id=patient_id,
        patient_account="p-1",
        starts_at=starts_at,
        duration_minutes=minutes,
        reason="check-up",
    )


def _booked(patient_id: uuid.UUID, starts_at: dt.datetime, minutes: int = 30) -> AppointmentBooked:
    return AppointmentBooked(
        appointment_id=uuid.uuid4(),
        clinician_id="dr-who",
        patient_id=patient_id,
        patient_account="p-1",
        starts_at=starts_at,
        duration_minutes=minutes,
        reason="check-up",
    )


async def test_schedule_is_created(scenario: Scenario) -> None:
    outcome = await scenario.given(Schedule).when(OpenSchedule(clinician_id="dr-who"))

    assert outcome.events == [OPENED]
    assert outcome.state.bookings is None


async def test_a_booking_names_its_appointment_and_holds_its_time(scenario: Scenario) -> None:
    patient = await _patient(scenario)
    outcome = await scenario.given(Schedule, OPENED).when(_booking(patient, NINE))

    [booked] = outcome.events
    assert isinstance(booked, AppointmentBooked)
    assert booked.appointment_id is not None
    assert booked.clinician_id == "dr-who"
    assert outcome.state.bookings == [
        {
            "appointment_id": str(booked.appointment_id),
            "starts_at": "2030-01-07T09:00:00+00:00",
            "ends_at": "2030-01-07T09:30:00+00:00",
        }
    ]


@pytest.mark.parametrize(
    "starts_at", [NINE, NINE + dt.timedelta(minutes=20), NINE - dt.timedelta(minutes=10)]
)
async def test_an_overlapping_booking_is_refused(
    scenario: Scenario, starts_at: dt.datetime
) -> None:
    patient = await _patient(scenario)
    given = scenario.given(Schedule, OPENED, _booked(patient, NINE))

    with pytest.raises(Rejected, match="dr-who is booked from 2030-01-07T09:00") as refused:
        await given.when(_booking(patient, starts_at))
    assert refused.value.code == "clinician-already-booked"


async def test_back_to_back_bookings_are_fine(scenario: Scenario) -> None:
    patient = await _patient(scenario)
    given = scenario.given(Schedule, OPENED, _booked(patient, NINE))

    outcome = await given.when(_booking(patient, NINE + dt.timedelta(minutes=30)))
    assert outcome.state.bookings is not None
    assert len(outcome.state.bookings) == 2  # type: ignore[arg-type]


async def test_a_released_time_can_be_booked_again(scenario: Scenario) -> None:
    patient = await _patient(scenario)
    first = _booked(patient, NINE)
    assert first.appointment_id is not None
    released = AppointmentReleased(appointment_id=first.appointment_id)

    outcome = await scenario.given(Schedule, OPENED, first, released).when(_booking(patient, NINE))
    assert outcome.state.version == 4


async def test_a_visit_ending_after_the_calendar_is_refused(scenario: Scenario) -> None:
    patient = await _patient(scenario)
    late = dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC)
    with pytest.raises(Rejected) as refused:
        await scenario.given(Schedule, OPENED).when(_booking(patient, late, minutes=90))
    assert refused.value.code == "beyond-the-calendar"


async def test_a_patient_unknown_to_the_clinic_is_refused(scenario: Scenario) -> None:
    with pytest.raises(UnknownReference, match="patient_id refers to"):
        await scenario.given(Schedule, OPENED).when(_booking(uuid.uuid4(), NINE))
