"""The fluvius runtime: event store, command processing, projections, HTTP and workers."""
