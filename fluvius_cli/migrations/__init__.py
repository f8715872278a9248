"""`fluvius migrate`: alembic revisions that follow the spec, and what autogenerate misses."""
