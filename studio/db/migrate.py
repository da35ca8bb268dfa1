"""Bring project.db to the newest schema on open (Alembic, scripts shipped in the package).

Opening must be fast (a project with thousands of renders opens in well under a second),
so the current revision is read with one query and compared with the head of the shipped
scripts; Alembic's upgrade machinery only runs when they differ. Before upgrading a db that
already holds data, a consistent copy is saved beside it (sqlite backup API, so pages still
in the WAL are included): project.db.bak-<old revision>.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from pathlib import Path

from sqlalchemy.engine import Engine

from core.errors import InputError

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads: {heads}")
    return heads[0]


def current_revision(db_path: Path) -> str | None:
    """The alembic revision stored in the db (None: new/empty db)."""
    if not db_path.exists():
        return None
    con = sqlite3.connect(str(db_path), timeout=30)
    try:
        row = con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'"
        ).fetchone()
        if row is None:
            return None
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.DatabaseError as exc:
        raise InputError(db_path, f"is not a readable project database ({exc})") from None
    finally:
        con.close()


def backup(db_path: Path, suffix: str) -> Path:
    dest = db_path.with_name(f"{db_path.name}.bak-{suffix}")
    src = sqlite3.connect(str(db_path), timeout=30)
    dst = sqlite3.connect(str(dest))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return dest


def upgrade(engine: Engine, db_path: Path) -> str | None:
    """Migrate to head if needed. Returns the backup path's suffix (old revision) when an
    upgrade of an existing db happened, else None."""
    current = current_revision(db_path)
    head = head_revision()
    if current == head:
        return None
    if current is not None and current not in _known_revisions():
        raise InputError(
            db_path,
            f"was written by a newer Avatar Studio (schema {current}); update the application",
        )
    backed_up = None
    if current is not None:
        backup(db_path, current)
        backed_up = current
    from alembic import command

    # BEGIN IMMEDIATE: two processes opening a new project at once migrate one after the
    # other; the second finds the db at head (alembic reads the version in the transaction)
    with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    return backed_up


@lru_cache(maxsize=1)
def _known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    sd = ScriptDirectory.from_config(alembic_config())
    return frozenset(s.revision for s in sd.walk_revisions())
