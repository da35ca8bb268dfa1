"""Refuse a damaged project.db on open instead of re-creating it, and say what is left.

Why: SQLite treats a 0-byte file as an empty database, so a project.db truncated by an
interrupted copy used to be migrated into a brand-new empty project, silently orphaning its
media and renders (and making the damage permanent once anything was written). Opening now
checks the file first: empty, not SQLite, or failing `PRAGMA quick_check` is refused with
one line that counts what the folder still holds and names the newest pre-migration backup
(studio.db.migrate writes project.db.bak-<old revision>) with how to restore it. The file
is only read: nothing is written, created or re-created.

Also here: `open_problem`, which turns the SQLite errors that opening a project can hit on a
full disk or a read-only folder into a user-facing sentence (CLI: one line, exit 2).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.exc import DBAPIError

from core.errors import InputError

SQLITE_HEADER = b"SQLite format 3\x00"


def db_problem(db_path: Path, immutable: bool = False) -> str | None:
    """Why `db_path` is not a usable SQLite database, or None when it passes quick_check.

    The db is opened read-only (mode=ro URI): its content is never changed (SQLite may
    create the usual -wal/-shm companions of a WAL database). A file that cannot be read
    at all (permissions) is not judged here: the real open reports it. `immutable`: read
    the file alone, creating nothing beside it (for backups, which have no WAL)."""
    try:
        size = db_path.stat().st_size
        with open(db_path, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError:
        return None
    if size == 0:
        return "is empty (0 bytes; typically left by an interrupted copy)"
    if head != SQLITE_HEADER:
        return f"is not a SQLite database ({size} bytes that do not start with its header)"
    try:
        flags = "immutable=1" if immutable else "mode=ro"
        con = sqlite3.connect(f"file:{quote(str(db_path))}?{flags}", uri=True, timeout=30)
        try:
            rows = con.execute("PRAGMA quick_check").fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:
        # cannot open / read-only folder / locked / disk full: not damage to the file;
        # the real open reports it (see open_errors) instead of advising a restore
        return None
    except sqlite3.DatabaseError as exc:  # SQLITE_CORRUPT, SQLITE_NOTADB
        return f"is damaged ({' '.join(str(exc).split())})"
    # quick_check reports several lines per problem: one line for the user
    result = "; ".join(" ".join(str(r[0]).split()) for r in rows[:3])
    return None if result == "ok" else f"fails its integrity check ({result[:200]})"


def backups(db_path: Path) -> list[Path]:
    """Usable pre-migration backups beside the db (project.db.bak-<revision>), newest
    first. Each is checked like the db itself: a backup cut short (e.g. by a full disk
    during an upgrade) is never the one recommended."""
    try:
        found = [p for p in db_path.parent.glob(f"{db_path.name}.bak-*") if p.is_file()
                 and not p.name.endswith(("-wal", "-shm", "-journal"))]
        found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    return [p for p in found if db_problem(p, immutable=True) is None]


def _count(folder: Path, suffix: str = "") -> int:
    try:
        return sum(1 for e in os.scandir(folder)
                   if e.is_file() and not e.name.startswith(".") and e.name.endswith(suffix))
    except OSError:
        return 0


def check_project_db(folder: Path, db_path: Path) -> None:
    """Raise InputError (one line) when the project's db is damaged; see the module."""
    problem = db_problem(db_path)
    if problem is None:
        return
    media = _count(folder / "media")
    renders = _count(folder / "renders", ".mp4")
    baks = backups(db_path)
    left = f"the folder still holds {media} media file(s) and {renders} render(s)"
    if baks:
        left += f" and the backup {baks[0].name}"
        how = (f"to recover, copy {baks[0].name} to {db_path.name} (the project as it was "
               "before its last schema upgrade; later edits are not in it), or put back a "
               f"good copy of {db_path.name}")
    else:
        left += ", but no backup of the database"
        how = f"to recover, put back a good copy of {db_path.name} (e.g. from the original)"
    raise InputError(db_path, f"{problem}; refused to open the project (the file is left "
                     f"as it is, never re-created); {left}; {how}")


_OPEN_ERRORS = (
    ("database or disk is full", "the disk is full (SQLite could not write); free some "
     "space and open the project again"),
    ("readonly database", "cannot be written (read-only file or folder); open a copy in a "
     "writable folder"),
    ("unable to open database file", "cannot be opened for writing (the folder is "
     "read-only, or a file beside it cannot be created); open a copy in a writable folder"),
    ("disk i/o error", "disk I/O error while opening it; check the drive"),
)


def open_problem(exc: BaseException) -> str | None:
    """The user-facing sentence for a SQLite error hit while opening (disk full, read-only
    folder...), or None for anything else (a bug, raised as is)."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    for needle, sentence in _OPEN_ERRORS:
        if needle in text:
            return sentence
    return None


@contextlib.contextmanager
def open_errors(db_path: Path) -> Iterator[None]:
    """Turn disk-full / read-only SQLite errors (and a folder that cannot be written) met
    while opening or creating a project into one InputError naming the db; anything else
    passes through unchanged."""
    try:
        yield
    except (sqlite3.Error, DBAPIError) as exc:
        problem = open_problem(exc)
        if problem is None:
            raise
        raise InputError(db_path, problem) from None
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT):
            raise
        raise InputError(db_path.parent, f"cannot be written ({exc.strerror or exc})") from None
