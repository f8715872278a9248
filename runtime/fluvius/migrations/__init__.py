"""Schema migrations of generated services, on alembic."""
