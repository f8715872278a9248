"""fluvius-cli: the spec checker, the generator and the authoring verbs of the fluvius command."""

__version__ = "0.1.0"
