"""Safe file output and input checks: the one way this project writes a file that must never
be seen half written (videos, renders, exports, media, caches, bundles, PNGs), and the one
check every user-named input file goes through.

`atomic_path(dest)` hands out a temporary path in dest's own folder (so the final rename
stays on one file system and is atomic); when the block finishes the temp file gets
ordinary permissions and replaces `dest`; if the block raises (an error, Cancelled,
Ctrl-C) the temp file is removed and `dest` is left as it was.

Why the extra rules around it (each one was a real bug):
- A destination that exists and is not a regular file (a FIFO, a device such as /dev/full,
  a socket, a folder, or a symlink to one) is refused BEFORE anything is written, and again
  just before the rename: `os.replace` would otherwise swap a device node or a pipe for a
  regular MP4 (as root, `render --out /dev/full` destroyed the device node).
- The temp name is short and fixed-length (`.avs-tmp-<pid>-<host>-<8 hex><suffix>`), so
  every destination name the file system accepts works; the old `.<stem>.tmp-XXXXXXXX`
  name made a 252-character output name fail with "File name too long".
- The writer's pid (and a tag of its host: a folder on a network share is written by other
  machines, whose pids mean nothing here) is part of the temp name, so temp files left by a
  killed process can be recognised and removed later (`clean_stale_temps`) without touching
  anything else.
- An OSError while writing (disk full, read-only file system, permission denied, name too
  long) becomes one `InputError` line naming the destination, not a traceback, and not a
  bare "[Errno 28] No space left on device" that names no file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import InputError


def _default_mode() -> int:
    # The permissions a plain open() would give: private temp files are owner-only (0600),
    # which would make every finished video unreadable to other users and apps.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


DEFAULT_MODE = _default_mode()

TEMP_PREFIX = ".avs-tmp-"
"""Start of every temp file name `atomic_path` creates (hidden, and ours alone)."""
STALE_AFTER_S = 3600.0
"""A temp file untouched for this long is stale even if its pid is alive (pid reuse): an
active writer (an encoder) modifies its file far more often than that."""
NAME_MAX = 255
"""File name limit in bytes where the file system cannot tell (Linux, macOS, Windows)."""

HOST_TAG = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]
"""This machine in temp names: only temps of this host are judged by their pid."""

_TEMP_RE = re.compile(
    r"^\.avs-tmp-(\d{1,10})-([0-9a-f]{6})-[0-9a-f]{8}(\.[A-Za-z0-9_.-]{1,32})?$")
# the naming of earlier versions (tempfile.mkstemp with prefix ".<stem>.tmp-"): no pid, so
# only the age says it is stale
_LEGACY_TEMP_RE = re.compile(r"^\..+\.tmp-[a-z0-9_]{8}(\.[A-Za-z0-9]{1,10})?$")

# errors that can only come from writing: they are about the destination whatever file the
# exception names
_WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
# errors that are about the destination when they name our temp file (or no file at all);
# the same errno naming another file (an input read inside the block) is left alone
_MAYBE_WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENAMETOOLONG, errno.EIO,
                       errno.EISDIR, errno.ENOTDIR, errno.ELOOP}

# ---------------------------------------------------------------- messages
def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _reason(exc: OSError) -> str:
    """A user's reading of an errno: what happened and what to do."""
    code = exc.errno
    text = exc.strerror or str(exc)
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"the disk is full ({text}); free some space or choose another folder"
    if code == errno.EROFS:
        return f"the folder is on a read-only file system ({text}); choose another folder"
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied ({text}); choose a folder you can write to"
    if code == errno.ENAMETOOLONG:
        return f"the file name or path is too long ({text}); choose a shorter one"
    if code == errno.EFBIG:
        return f"the file is too large for this file system or limit ({text})"
    return text


def write_error(dest: str | Path, exc: OSError) -> InputError:
    """The one-line error for an OSError raised while writing `dest`."""
    return InputError(dest, f"cannot write the file: {_reason(exc)}")


def is_write_error(exc: BaseException, tmp: str | Path | None = None) -> bool:
    """True when `exc` is an OSError about writing (to `tmp`, when it names a file)."""
    if not isinstance(exc, OSError) or exc.errno is None:
        return False
    if exc.errno in _WRITE_ERRNOS:
        return True
    if exc.errno in _MAYBE_WRITE_ERRNOS:
        name = exc.filename
        if name is None:
            return True
        return tmp is not None and os.fsdecode(name) == os.fsdecode(tmp)
    return False


# ---------------------------------------------------------------- output
def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return NAME_MAX


def check_output_file(dest: str | Path) -> Path:
    """Raise InputError unless `dest` may be created or replaced by a regular file.

    Refused: a name longer than the file system allows, and an existing destination that
    is not a regular file (FIFO, device, socket, folder, or a symlink to one). A missing
    destination (or a dangling symlink, which the rename replaces) is fine.
    """
    p = Path(dest)
    n = len(os.fsencode(p.name))
    limit = _name_max(p.parent if str(p.parent) else Path("."))
    if n > limit:
        raise InputError(p, f"the file name is too long ({n} bytes; the limit is {limit}); "
                         "choose a shorter name")
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        return p
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(p, "is a symbolic link loop, not a regular file; choose "
                             "another output") from None
        raise write_error(p, exc) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(p, f"is {_kind(st.st_mode)}, not a regular file; choose another output")
    return p


def temp_name(suffix: str = ".tmp") -> str:
    """A fresh temp file name of our pattern: `.avs-tmp-<pid>-<host>-<8 hex><suffix>`."""
    return f"{TEMP_PREFIX}{os.getpid()}-{HOST_TAG}-{secrets.token_hex(4)}{suffix}"


def create_temp(folder: str | Path, suffix: str = ".tmp", *, for_dest: str | Path | None = None
                ) -> Path:
    """Create an empty private (0600) temp file of our pattern in `folder`; return its path.

    An OSError becomes the one-line InputError naming `for_dest` (the file being written),
    or the folder when there is none.
    """
    folder = Path(folder)
    if not re.fullmatch(r"(\.[A-Za-z0-9_.-]{1,32})?", suffix):
        raise ValueError(f"temp suffix must be '' or an extension like '.mp4', got {suffix!r}")
    for _ in range(100):
        path = folder / temp_name(suffix)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                         0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise write_error(for_dest if for_dest is not None else folder, exc) from None
        os.close(fd)
        return path
    raise InputError(for_dest or folder, "cannot create a temporary file there")


@contextmanager
def atomic_path(dest: str | Path, suffix: str = ".tmp", mode: int | None = None) -> Iterator[Path]:
    """Yield a temp path beside `dest`; on success it becomes `dest` (with `mode`, default
    the umask's), on any exception it is deleted. `suffix` lets writers that pick a format
    from the extension (FFmpeg, PIL) see the right one.

    InputError (one line naming `dest`) when `dest` is not a regular file or its name is too
    long (before anything is written), and for OSErrors of the write itself (disk full,
    read-only, permission denied); other exceptions pass through unchanged.
    """
    dest = check_output_file(dest)
    folder = dest.parent if str(dest.parent) else Path(".")
    clean_stale_temps(folder)  # leftovers of killed writers (one scandir: cheap)
    tmp = create_temp(folder, suffix, for_dest=dest)
    try:
        try:
            yield tmp
        except OSError as exc:
            if is_write_error(exc, tmp):
                raise write_error(dest, exc) from None
            raise
        check_output_file(dest)  # a FIFO or device may have appeared there meanwhile
        try:
            os.chmod(tmp, DEFAULT_MODE if mode is None else mode)
            os.replace(tmp, dest)
        except OSError as exc:
            raise write_error(dest, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- stale temp files
def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name != "posix":
        return True  # no cheap check: leave it to the age rule
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    except OSError:
        return True
    return True


def is_stale_temp(name: str, mtime: float, now: float | None = None,
                  max_age: float = STALE_AFTER_S) -> bool:
    """True when `name` is one of our temp files and its writer is gone: it was written on
    this host by a pid that is dead, or it was not modified for `max_age` seconds (a live
    writer modifies it all the time; an old one with a live pid is a reused pid). Other
    names are never stale."""
    now = time.time() if now is None else now
    old = now - mtime > max_age
    m = _TEMP_RE.match(name)
    if m is not None:
        return old or (m.group(2) == HOST_TAG and not _pid_alive(int(m.group(1))))
    return old and _LEGACY_TEMP_RE.match(name) is not None


def clean_stale_temps(folder: str | Path, max_age: float = STALE_AFTER_S) -> list[Path]:
    """Remove the temp files of interrupted writes (ours only) from `folder`; return them.

    Only regular files whose names match our temp pattern are considered; symlinks,
    folders and every other name are left alone. Never raises (a folder that cannot be
    listed is simply skipped).
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(TEMP_PREFIX) or ".tmp-" in name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or not is_stale_temp(name, st.st_mtime, now, max_age):
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


# ---------------------------------------------------------------- input
def check_input_file(path: str | Path, what: str = "a file") -> Path:
    """Raise InputError unless `path` is an existing regular file (symlinks followed).

    `what` names the expected content for the message ("an image", "an audio file", "a
    transcript"). A FIFO, a device (/dev/zero) or a folder get an accurate message ("is a
    FIFO (named pipe), not a regular file") instead of "file not found" or a hang: reading
    one would block forever or never end. Returns the path (user-expanded).
    """
    p = Path(path).expanduser()
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(p, "file not found") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(p, "is a symbolic link loop, not a file") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise InputError(p, "the file name or path is too long") from None
        raise InputError(p, f"cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(p, f"is a folder, not {what}")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(p, f"is {_kind(st.st_mode)}, not a regular file ({what} was expected)")
    return p
