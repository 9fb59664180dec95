"""Alembic environment and revisions of the tracking database (driven from code, no alembic.ini)."""
