"""The fluvius command line: spec checking, project generation and the service verbs."""

__version__ = "0.1.0"
