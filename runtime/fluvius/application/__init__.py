"""The application layer: runs commands against stored aggregates.

It composes the domain model (`fluvius.domain`) with storage (`fluvius.data`); the adapters (the
HTTP app, the workers, the test harness) call it and nothing below it calls them.
"""

from fluvius.application.processor import (
    CommandContext,
    CommandProcessor,
    CommandResult,
    Scope,
)

__all__ = ["CommandContext", "CommandProcessor", "CommandResult", "Scope"]
