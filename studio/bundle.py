"""Project bundles: the project folder as one .zip, and a safe import of such a zip.

Export checkpoints the WAL into project.db first (so the zip holds a complete database)
and leaves out what is disposable or transient (cache/, WAL/SHM files, temp files, db
backups). The zip is written to a temp file and renamed.

Import treats the zip as hostile: every member name is checked before anything is
written (no absolute paths, drive letters or backslashes, no `..`, no symlinks or other
special files, no duplicate names), member sizes and the total are capped, and the
compression ratio is capped (zip bombs). Members are streamed with a byte count, so a
header that lies about its size cannot overflow the caps. Everything is extracted into a
fresh temp folder beside the destination and renamed into place only when complete and
when the project opens, so a refused bundle writes nothing outside that temp folder (which
is removed).

Only the project's known layout is taken from a bundle: project.db, media/<sha256><ext>
(content-addressed), renders/<file> and exports/<file>; everything else (cache/, unknown
top-level files, dot files, deeper folders) is dropped unread, so nothing the app would
later load (an analysis cache, say) can be smuggled in. Names are capped per component and
in total, nesting depth and the number of entries are capped, and a bundle whose
project.db is empty is refused. Messages name the zip the user gave, never the staging
folder, and the imported folder gets the umask's ordinary permissions.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from core.errors import InputError
from core.fsutil import DEFAULT_MODE, TEMP_PREFIX, atomic_path, check_input_file
from studio.paths import DB_NAME
from studio.safepaths import validate_rows

MAX_MEMBER_BYTES = 4 << 30  # one file
MAX_TOTAL_BYTES = 16 << 30  # everything
MAX_MEMBERS = 20_000
"""Entries in one bundle (a project has a few hundred files; 100,000 empty entries is an
attack on the importer, not a project)."""
MAX_NAME_BYTES = 1024  # one entry's whole name, UTF-8
MAX_PART_BYTES = 255  # one folder or file name (the usual file-system limit)
MAX_DEPTH = 16  # folders in one entry name
MAX_RATIO = 200  # uncompressed / compressed, per member (above 1 MiB)
_SKIP_DIRS = {"cache"}
_SKIP_SUFFIXES = ("-wal", "-shm", "-journal")


_LAYOUT_DIRS = ("media", "renders", "exports")
_MEDIA_RE = re.compile(r"^[0-9a-f]{64}(\.[a-z0-9]{1,10})?$")
# a folder's mode from the umask, like DEFAULT_MODE for files (x wherever r is allowed)
_DIR_MODE = DEFAULT_MODE | ((DEFAULT_MODE & 0o444) >> 2)
log = logging.getLogger(__name__)


def _included(rel: PurePosixPath) -> bool:
    if rel.parts and rel.parts[0] in _SKIP_DIRS:
        return False
    name = rel.name
    if name.startswith(TEMP_PREFIX) or name.startswith(".") and (
            ".tmp-" in name or name.endswith((".part", ".tmp"))):
        return False
    return not (name.endswith(_SKIP_SUFFIXES) or ".bak-" in name)


def export_bundle(project, zip_path: str | Path, progress=None) -> Path:
    """Zip the project folder (db checkpointed first) to `zip_path`, atomically."""
    zip_path = Path(zip_path).expanduser().resolve()
    root = project.path
    if root in zip_path.parents:
        raise InputError(zip_path, "the bundle cannot be written inside the project folder")
    if not zip_path.parent.is_dir():
        raise InputError(zip_path, f"the folder {zip_path.parent} does not exist")
    project.checkpoint()
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            rel = PurePosixPath(p.relative_to(root).as_posix())
            if _included(rel) and not p.is_symlink():
                files.append((p, rel))
    with atomic_path(zip_path, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
        for i, (p, rel) in enumerate(files):
            # media and renders are already compressed: store them
            comp = zipfile.ZIP_DEFLATED if rel.name == DB_NAME else zipfile.ZIP_STORED
            zf.write(p, rel.as_posix(), compress_type=comp)
            if progress:
                progress((i + 1) / len(files), f"added {rel}")
    return zip_path


def check_members(zf: zipfile.ZipFile, zip_path: Path) -> list[tuple[zipfile.ZipInfo, str]]:
    """Validate every member; return (info, safe relative posix path) for files.

    Raises InputError naming the first offending member."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise InputError(zip_path, f"has {len(infos)} entries (limit {MAX_MEMBERS})")
    seen: set[str] = set()
    total = 0
    out = []
    for info in infos:
        name = info.filename
        if name.count("/") > MAX_DEPTH:
            raise InputError(zip_path, f"entry {_show(name)} is nested more than {MAX_DEPTH} "
                             "folders deep; refused")
        raw = name.encode("utf-8", "surrogateescape")
        if len(raw) > MAX_NAME_BYTES:
            raise InputError(zip_path, f"entry {_show(name)} has a name of {len(raw)} bytes "
                             f"(limit {MAX_NAME_BYTES}); refused")
        if "\x00" in name or "\\" in name:
            raise InputError(zip_path, f"entry {_show(name)} has an invalid name; refused")
        if any(len(p.encode("utf-8", "surrogateescape")) > MAX_PART_BYTES
               for p in name.split("/")):
            raise InputError(zip_path, f"entry {_show(name)} has a folder or file name over "
                             f"{MAX_PART_BYTES} bytes; refused")
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise InputError(zip_path, f"entry {_show(name)} is an absolute path; refused")
        parts = PurePosixPath(name).parts
        if any(p == ".." for p in parts):
            raise InputError(zip_path, f"entry {_show(name)} points outside the folder (..); "
                             "refused")
        mode = (info.external_attr >> 16) & 0xFFFF
        ftype = stat.S_IFMT(mode)
        if ftype == stat.S_IFLNK:
            raise InputError(zip_path, f"entry {_show(name)} is a symbolic link; refused")
        if ftype not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise InputError(zip_path, f"entry {_show(name)} is not a regular file; refused")
        if info.is_dir():
            continue
        clean = "/".join(p for p in parts if p not in ("", "."))
        if not clean:
            raise InputError(zip_path, f"entry {_show(name)} has an empty name; refused")
        if clean.lower() in seen:
            raise InputError(zip_path, f"entry {_show(name)} appears twice; refused")
        seen.add(clean.lower())
        if info.file_size > MAX_MEMBER_BYTES:
            raise InputError(zip_path, f"entry {_show(name)} is {info.file_size} bytes (limit "
                             f"{MAX_MEMBER_BYTES}); refused")
        if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(
                1, info.compress_size):
            raise InputError(zip_path, f"entry {_show(name)} expands {info.file_size} bytes from "
                             f"{info.compress_size} (a zip bomb?); refused")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise InputError(zip_path, f"expands to more than {MAX_TOTAL_BYTES} bytes; refused")
        out.append((info, clean))
    return out


def _strip_top_folder(members: list[tuple[zipfile.ZipInfo, str]]) -> list:
    """Accept both a zip of the folder's contents and a zip of the folder itself."""
    names = [c for _, c in members]
    if DB_NAME in names:
        return members
    tops = {c.split("/", 1)[0] for c in names}
    if len(tops) == 1 and all("/" in c for c in names):
        top = tops.pop()
        stripped = [(i, c.split("/", 1)[1]) for i, c in members]
        if DB_NAME in [c for _, c in stripped]:
            return stripped
        del top
    return []


def _show(name: str, limit: int = 60) -> str:
    """A member name for a one-line message: quoted, shortened when long."""
    if len(name) <= limit:
        return repr(name)
    return repr(name[: limit // 2] + "…" + name[-(limit // 3):]) + f" ({len(name)} characters)"


def in_layout(rel: str) -> bool:
    """Whether `rel` (a clean member path) is part of a project's known layout: project.db,
    media/<sha256><ext>, renders/<file>, exports/<file> (no dot files, no sub-folders)."""
    if rel == DB_NAME:
        return True
    parts = rel.split("/")
    if len(parts) != 2 or parts[0] not in _LAYOUT_DIRS or parts[1].startswith("."):
        return False
    return parts[0] != "media" or bool(_MEDIA_RE.match(parts[1]))


def import_bundle(zip_path: str | Path, dest_folder: str | Path) -> Path:
    """Extract a bundle into `dest_folder` (must not exist, or be empty), verify it opens
    as a project (migrating it if it is older), and return the folder. Only the known
    layout is extracted (see `in_layout`); every refusal is an InputError naming the zip."""
    zip_path = check_input_file(zip_path, "a project bundle (.zip)")
    dest = Path(dest_folder).expanduser().resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError(dest, "already exists and is not empty; choose a new folder")
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(zip_path, f"is not a readable zip file ({exc})") from None
    with zf:
        members = _strip_top_folder(check_members(zf, zip_path))
        if not members:
            raise InputError(zip_path, f"is not a project bundle (no {DB_NAME} inside)")
        dropped = [rel for _, rel in members if not in_layout(rel)]
        if dropped:
            log.info("%s: not imported (not part of a project): %s", zip_path,
                     ", ".join(dropped[:10]) + (" ..." if len(dropped) > 10 else ""))
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.import-", dir=dest.parent))
        except OSError as exc:
            raise InputError(zip_path, f"cannot be unpacked into {dest.parent} "
                             f"({exc.strerror or exc})") from None
        try:
            _extract(zf, members, staging, zip_path)
            validate_rows(staging / DB_NAME, zip_path)  # every row's paths, before accepting
            _open_check(staging, zip_path)
            os.chmod(staging, _DIR_MODE)  # mkdtemp made it owner-only
            if dest.exists():
                dest.rmdir()
            os.replace(staging, dest)
        except zipfile.BadZipFile as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise InputError(zip_path, f"is damaged ({exc})") from None
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise InputError(zip_path, f"cannot be unpacked into {dest} "
                             f"({exc.strerror or exc})") from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return dest


def _extract(zf: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, str]],
             staging: Path, zip_path: Path) -> None:
    """Stream the members of the layout into `staging`, counting bytes (headers can lie).
    The others are read and counted but never written: a zip whose headers lie anywhere is
    damaged or hostile, and refused as a whole."""
    total = 0
    root = staging.resolve()
    for info, rel in members:
        target = None
        if in_layout(rel):
            target = (staging / rel).resolve()
            if root not in target.parents:
                raise InputError(zip_path, f"entry {_show(info.filename)} escapes the folder")
            target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with zf.open(info) as src, (open(target, "xb") if target else
                                    contextlib.nullcontext()) as dst:
            while block := src.read(1 << 20):
                written += len(block)
                total += len(block)
                if written > info.file_size or written > MAX_MEMBER_BYTES or (
                        total > MAX_TOTAL_BYTES):
                    raise InputError(zip_path, f"entry {_show(info.filename)} is larger "
                                     "than its header says; refused")
                if dst is not None:
                    dst.write(block)


def _open_check(staging: Path, zip_path: Path) -> None:
    """The extracted folder must hold a non-empty database that opens as a project
    (migrated if older); its problems are reported against the zip, not the staging path."""
    from studio.project import Project

    if (staging / DB_NAME).stat().st_size == 0:
        raise InputError(zip_path, f"its {DB_NAME} is empty (0 bytes); not a project bundle")
    try:
        Project.open(staging).close()
    except InputError as exc:
        problem = exc.problem.replace(str(staging) + os.sep, "").replace(str(staging), "")
        what = f"{DB_NAME} {problem}" if exc.path else problem
        raise InputError(zip_path, f"does not hold a usable project ({what})") from None
