"""Testing generated services: given/when/then scenarios and pytest fixtures."""

from fluvius.testing.api import Api, AppFactory
from fluvius.testing.scenario import Given, Outcome, Scenario

__all__ = ["Api", "AppFactory", "Given", "Outcome", "Scenario"]
