"""The replica settings, and where a commit's WAL records end, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluvius.data import Database
from fluvius.data.replicas import lsn_number, lsn_text, written_by
from fluvius.settings import Settings, SettingsError

PRIMARY = "postgresql://app@primary/bank"


def test_read_database_url_lists_replicas_and_the_wait_has_a_default(tmp_path: Path) -> None:
    listed = " postgresql://app@replica1/bank, ,postgresql://app@replica2/bank "
    settings = Settings.load(
        "bank",
        tmp_path,
        {
            "FLUVIUS_DATABASE_URL": PRIMARY,
            "FLUVIUS_READ_DATABASE_URL": listed,
            "FLUVIUS_CONSISTENCY_WAIT": "0.5",
        },
    )
    assert settings.replica_urls == (
        "postgresql://app@replica1/bank",
        "postgresql://app@replica2/bank",
    )
    assert settings.consistency_wait_s == 0.5
    defaults = Settings.load("bank", tmp_path, {"FLUVIUS_DATABASE_URL": PRIMARY})
    assert (defaults.replica_urls, defaults.consistency_wait_s) == ((), 2.0)


@pytest.mark.parametrize(
    ("primary", "replicas"),
    [(None, "postgresql://app@replica/bank"), (PRIMARY, f"{PRIMARY},sqlite:///copy.db")],
)
def test_replicas_need_postgresql(tmp_path: Path, primary: str | None, replicas: str) -> None:
    environment = {"FLUVIUS_READ_DATABASE_URL": replicas}
    if primary is not None:
        environment["FLUVIUS_DATABASE_URL"] = primary
    with pytest.raises(SettingsError, match="FLUVIUS_READ_DATABASE_URL"):
        Settings.load("bank", tmp_path, environment)
    with pytest.raises(ValueError, match="PostgreSQL"):
        Database(primary or f"sqlite:///{tmp_path / 'bank.db'}", replicas=replicas.split(","))


@pytest.mark.parametrize(
    ("inserted", "written"),
    [
        ("0/3000148", "0/3000148"),  # the end of the last record
        ("0/3002018", "0/3002000"),  # past the header of the page after a record that filled one
        ("1/28", "1/0"),  # past the long header of a segment's first page
        ("0/3002028", "0/3002000"),  # a record ending 16 bytes into a page began before it
        ("0/3002030", "0/3002030"),
        ("A/FF000000", "A/FF000000"),
    ],
)
def test_the_records_written_end_where_a_standby_replays_to(inserted: str, written: str) -> None:
    assert written_by(inserted, 8192) == written


@pytest.mark.parametrize("lsn", ["0/0", "0/16B3748", "16/B374D848", "FFFFFFFF/FFFFFFFF"])
def test_an_lsn_reads_back_as_written(lsn: str) -> None:
    assert lsn_text(lsn_number(lsn)) == lsn
    assert lsn_number("1/0") > lsn_number("0/FFFFFFFF")
