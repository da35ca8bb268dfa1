"""Alembic migrations of project.db, shipped inside the package (run on Project.open)."""
