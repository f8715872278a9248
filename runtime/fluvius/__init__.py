"""The fluvius runtime: event store, command processing, projections, HTTP and workers."""

__version__ = "0.1.0"
