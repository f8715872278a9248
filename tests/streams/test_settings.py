"""Where a stream goes is a setting; a wrong one is refused with the setting to fix."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pytest

from fluvius.service import Service
from fluvius.settings import Settings, SettingsError
from fluvius.streams.envelope import Message
from fluvius.streams.publishers import Target, publisher_for
from fluvius.streams.relay import StreamRelays

TARGET = Target("bank", "money")


def test_an_unknown_scheme_names_the_ones_there_are() -> None:
    with pytest.raises(SettingsError, match=r"no publisher for 'ftp://'; schemes: nats, redis"):
        publisher_for("ftp://example", TARGET)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [(None, "needs a signing secret"), ("whsec_not base64!", "must be whsec_ and base64")],
)
def test_a_webhook_needs_a_base64_signing_secret(secret: str | None, problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        publisher_for("https://hooks.example/money", Target("bank", "money", secret=secret))


@pytest.mark.skipif(importlib.util.find_spec("aiokafka") is not None, reason="aiokafka installed")
async def test_kafka_without_its_extra_says_how_to_install_it() -> None:
    publisher = publisher_for("kafka://127.0.0.1:9092", TARGET)
    message = Message(str(uuid.uuid4()), "banking", "money-deposited", "key", b"{}")
    with pytest.raises(SettingsError, match=r'pip install "fluvius\[kafka\]"'):
        await publisher.publish([message])


def test_a_stream_runs_only_when_its_url_is_set(service: Service, tmp_path: Path) -> None:
    assert StreamRelays(service, Settings.load("bank", tmp_path, {})).relays == []
    environment = {"FLUVIUS_STREAM_MONEY_URL": "redis://127.0.0.1:6379/0"}
    (relay,) = StreamRelays(service, Settings.load("bank", tmp_path, environment)).relays
    assert relay.stream.name == "money"
