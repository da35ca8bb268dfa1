"""Schema: Alembic scripts shipped in the package bring an empty db to head, and the head
schema matches the models exactly (autogenerate finds nothing to do)."""

from __future__ import annotations

import sqlite3

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from studio.db import migrate
from studio.db.models import Base
from studio.db.session import make_engine
from studio.project import Project


def test_empty_db_upgrades_to_head_and_matches_models(tmp_path):
    db = tmp_path / "project.db"
    engine = make_engine(db)
    assert migrate.upgrade(engine, db) is None  # nothing to back up
    assert migrate.current_revision(db) == migrate.head_revision()
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []
    engine.dispose()
    # the migration scripts really are inside the package
    assert (migrate.MIGRATIONS_DIR / "env.py").is_file()
    assert list((migrate.MIGRATIONS_DIR / "versions").glob("v*.py"))


def test_models_differ_is_detected(tmp_path):
    """The comparison is not vacuous: a db missing a column shows a diff."""
    db = tmp_path / "project.db"
    engine = make_engine(db)
    migrate.upgrade(engine, db)
    engine.dispose()
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE presets DROP COLUMN blink_rate")
    con.commit()
    con.close()
    e2 = create_engine(f"sqlite:///{db}")
    with e2.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    e2.dispose()
    assert any("blink_rate" in str(d) for d in diffs)


def test_pragmas_and_reopen(tmp_path):
    with Project.create(tmp_path / "p", name="P") as p, p.db.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    with Project.open(tmp_path / "p") as p:
        assert p.name == "P"
    for sub in ("media", "renders", "exports"):
        assert (tmp_path / "p" / sub).is_dir()


def test_old_db_is_backed_up_before_upgrade(tmp_path):
    """A db at an older revision is copied aside (with its data) before it is upgraded."""
    from alembic import command

    db = tmp_path / "project.db"
    engine = make_engine(db)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0001")
    with engine.begin() as c:
        c.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('name', 'old one')")
    assert migrate.current_revision(db) == "0001" != migrate.head_revision()
    assert migrate.upgrade(engine, db) == "0001"
    engine.dispose()
    assert migrate.current_revision(db) == migrate.head_revision()
    backup = tmp_path / "project.db.bak-0001"
    con = sqlite3.connect(backup)
    assert con.execute("SELECT value FROM meta WHERE key='name'").fetchone() == ("old one",)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    con.close()


def test_unknown_newer_revision_is_refused(tmp_path):
    import pytest

    from core.errors import InputError

    db = tmp_path / "project.db"
    engine = make_engine(db)
    migrate.upgrade(engine, db)
    with engine.begin() as c:
        c.exec_driver_sql("UPDATE alembic_version SET version_num='9999'")
    with pytest.raises(InputError, match="newer"):
        migrate.upgrade(engine, db)
    engine.dispose()
