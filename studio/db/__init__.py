"""The project database: SQLAlchemy 2 models and the engine/session setup (SQLite, WAL)."""
