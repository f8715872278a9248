"""The rules across parts of a spec: names, references, types of values and projections.

`checker` reports and knows the spec's names; `domains` walks the project, its domains, workers
and streams; `fields` checks declared fields; `part` holds what an aggregate's and a view's
rules share, `aggregate` and `view` what is their own.
"""

from fluvius_cli.spec.rules.domains import check_rules

__all__ = ["check_rules"]
