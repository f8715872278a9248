"""Event streams to external consumers: the events a spec makes public, published to a broker
or a webhook that a setting names, as CloudEvents, in log order and at least once."""

from fluvius.application.streams import Stream

__all__ = ["Stream"]
