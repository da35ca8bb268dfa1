"""Crash recovery run when a project opens.

Why a module of its own: recovery touches jobs, renders and leftover temp files of every
part of a project, and it must run before any of them is used, so it belongs to none.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.fsutil import clean_stale_temps
from studio.db.models import Job, Render
from studio.db.session import Database

STALE_TEMP_SECONDS = 3600
"""Temp files of exports/imports younger than this may belong to another live process."""
REMOTE_HEARTBEAT_SECONDS = 600
"""A job of another machine (shared folder) that beat this recently is still alive."""


def pid_alive(pid: int | None) -> bool:
    """Whether process `pid` of this machine still runs."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(folder: Path, db: Database) -> None:
    """After a crash: jobs whose process is gone become `interrupted`; renders whose
    file vanished become `missing`; leftover temp files of dead renders are removed."""
    host = socket.gethostname()

    def fix_jobs(s: Session) -> int:
        live = 0
        rows = s.execute(select(Job).where(Job.state == "running")).scalars().all()
        for j in rows:
            if j.host in (None, host) and pid_alive(j.pid):
                live += 1
                continue
            if j.host not in (None, host) and j.heartbeat and (
                    time.time() - j.heartbeat < REMOTE_HEARTBEAT_SECONDS):
                live += 1  # another machine on a shared folder, still beating
                continue
            j.state = "interrupted"
            j.message = "interrupted: the rendering process stopped; retry or render"
            j.finished = time.time()
        return live

    running = db.run_read(
        lambda s: s.scalar(select(func.count()).select_from(Job).where(
            Job.state == "running")))
    live = db.run_write(fix_jobs) if running else 0

    renders_dir = folder / "renders"
    try:
        present = set(os.listdir(renders_dir))
    except OSError:
        present = set()
    rows = db.run_read(lambda s: s.execute(
        select(Render.id, Render.file).where(Render.status == "done")).all())
    gone = [rid for rid, f in rows if Path(f).name not in present]
    if gone:
        db.run_write(lambda s: s.execute(
            update(Render).where(Render.id.in_(gone)).values(status="missing")))
    if not live:
        for name in present:
            if name.startswith(".") and ".tmp-" in name:
                with contextlib.suppress(OSError):
                    (renders_dir / name).unlink()
    for sub in ("renders", "media", "exports"):  # dead writers' temps (core.fsutil)
        clean_stale_temps(folder / sub)
    # exports and imports of another live process may be in flight: only old leftovers
    for sub, marker in (("exports", ".tmp-"), ("media", ".part"), ("cache", ".tmp")):
        with contextlib.suppress(OSError):
            for e in os.scandir(folder / sub):
                if e.name.startswith(".") and marker in e.name and (
                        time.time() - e.stat().st_mtime > STALE_TEMP_SECONDS):
                    with contextlib.suppress(OSError):
                        os.unlink(e.path)
