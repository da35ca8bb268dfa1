"""One SQLAlchemy engine per open Project, tuned for several processes on one file.

- WAL journal: readers never block the writer and vice versa (a CLI render and a UI list
  can run at once); `synchronous=NORMAL` is durable across application crashes in WAL mode.
- `busy_timeout`: a writer waits for another writer instead of failing at once.
- Write transactions start with `BEGIN IMMEDIATE` (the write lock is taken up front, where
  busy_timeout applies); a deferred transaction that reads first and writes later can hit
  SQLITE_BUSY without waiting in WAL mode. `write()` retries what still fails with "locked".
- Foreign keys on (SQLite leaves them off by default).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")


def make_engine(db_path: str | Path) -> Engine:
    engine = create_engine(
        f"sqlite:///{Path(db_path)}",
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False,
                      "isolation_level": None},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see "begin" below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def is_locked(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "locked" in text or "busy" in text


def retry_locked(fn: Callable[[], T], attempts: int = 8, delay: float = 0.05) -> T:
    """Run fn(), retrying on 'database is locked' (rare with busy_timeout, but a WAL
    snapshot conflict returns BUSY immediately)."""
    for i in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if not is_locked(exc) or i == attempts - 1:
                raise
            time.sleep(delay * (2**i))
    raise AssertionError("unreachable")


class Database:
    """Session factory of one project db: `read()` and `write()` context managers."""

    def __init__(self, db_path: str | Path):
        self.path = Path(db_path)
        self.engine = make_engine(self.path)
        self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            yield s

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE), committed on success."""
        with Session(self._writer, expire_on_commit=False) as s, s.begin():
            yield s

    def run_write(self, fn: Callable[[Session], T]) -> T:
        """fn(session) in a write transaction, retried as a whole when the db is locked."""

        def once() -> T:
            with self.write() as s:
                return fn(s)

        return retry_locked(once)

    def run_read(self, fn: Callable[[Session], T]) -> T:
        def once() -> T:
            with self.read() as s:
                return fn(s)

        return retry_locked(once)

    def checkpoint(self) -> None:
        with self.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        self.engine.dispose()
