"""Hostile project databases: rows whose file paths lead outside the project, damaged or
empty project.db files, and SQLite failing at open (disk full, read-only folder).

Every case goes through the CLI (studio.cli.main) where a command exists, and checks that
the user gets one line + exit 2 naming the project (or bundle) and the row, and that the
file outside the project is neither read, chmod-ed nor deleted. The crafted projects are
built with Project.create and raw SQL, so no samples are needed.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import zipfile
from pathlib import Path

import pytest

from core.errors import InputError
from studio import pipeline
from studio.cli import main
from studio.project import Project
from studio.safepaths import UnsafeRowError

HEX = "ab" * 32
HEX2 = "cd" * 32


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *argv, match: tuple[str, ...] = ()) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for m in match:
        assert m in lines[0], lines[0]
    return lines[0]


def make_project(folder: Path) -> Path:
    Project.create(folder, name="crafted").close()
    return folder


def sql(folder: Path, statement: str, *params) -> list:
    con = sqlite3.connect(folder / "project.db")
    try:
        rows = con.execute(statement, params).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def add_portrait(folder: Path, sha: str, ext: str = ".png") -> None:
    sql(folder, "INSERT INTO portraits (name, sha256, ext, width, height, created) "
        "VALUES ('face', ?, ?, 64, 64, 0)", sha, ext)


def add_audio(folder: Path, sha: str, ext: str = ".wav") -> None:
    sql(folder, "INSERT INTO audio_tracks (name, sha256, ext, duration, sample_rate, created) "
        "VALUES ('speech', ?, ?, 1.0, 16000, 0)", sha, ext)


def add_timeline(folder: Path, n_frames: int = 10) -> None:
    """Timeline 1 on portrait 1 + audio 1 with one segment [0, n_frames)."""
    sql(folder, "INSERT INTO timelines (name, portrait_id, audio_id, engine, fps, size, seed, "
        "n_frames, settings_json, created) VALUES ('t', 1, 1, 'warp', 25, 64, 0, ?, '{}', 0)",
        n_frames)
    sql(folder, "INSERT INTO segments (timeline_id, start_frame, end_frame) VALUES (1, 0, ?)",
        n_frames)


def add_render(folder: Path, file: str, spec_hash: str = HEX2) -> None:
    sql(folder, "INSERT INTO renders (timeline_id, segment_id, spec_hash, engine, file, status,"
        " start_frame, end_frame, render_seconds, created) VALUES (1, 1, ?, 'warp', ?, 'done', "
        "0, 10, 1.0, 0)", spec_hash, file)


@pytest.fixture
def victim(tmp_path) -> Path:
    """A file outside every project, read-only like the media store would make it."""
    v = tmp_path / "outside" / "victim"
    v.parent.mkdir()
    v.write_bytes(b"precious")
    v.chmod(0o400)
    return v


def intact(v: Path) -> bool:
    return v.is_file() and v.read_bytes() == b"precious" and stat.S_IMODE(
        v.stat().st_mode) == 0o400


def traversal(folder: Path, target: Path) -> str:
    """The sha256 value that makes media/<sha> point at `target`."""
    return os.path.relpath(target, folder / "media")


# ---------------------------------------------------------------- media rows
@pytest.mark.parametrize("kind", ["portrait", "audio"])
def test_asset_remove_refuses_traversal_sha(capsys, tmp_path, victim, kind):
    folder = make_project(tmp_path / "proj")
    sha = traversal(folder, victim)
    assert (folder / "media" / sha).resolve() == victim.resolve()  # the attack would work
    (add_portrait if kind == "portrait" else add_audio)(folder, sha, "")
    table = "portraits" if kind == "portrait" else "audio_tracks"
    refused(capsys, "asset", "remove", kind, 1, "--project", folder,
            match=(str(folder), f"{table} row 1", "64 lowercase hex"))
    assert intact(victim)
    # the API path (what the UI calls) refuses before touching the row or the file
    with Project.open(folder) as p, pytest.raises(UnsafeRowError) as err:
        (p.remove_portrait if kind == "portrait" else p.remove_audio)(1)
    assert err.value.table == table and err.value.row_id == 1
    assert intact(victim)
    assert sql(folder, f"SELECT count(*) FROM {table}") == [(1,)]


@pytest.mark.parametrize("ext", ["/../../outside/victim", ".png\n", ".PNG", "..", ".a/b"])
def test_bad_ext_refused(capsys, tmp_path, victim, ext):
    folder = make_project(tmp_path / "proj")
    add_portrait(folder, HEX, ext)
    refused(capsys, "asset", "list", "--project", folder,
            match=("portraits row 1", "ext"))
    assert intact(victim)


def test_render_refuses_portrait_outside(capsys, tmp_path, monkeypatch):
    folder = make_project(tmp_path / "proj")
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0")
    add_portrait(folder, traversal(folder, secret), "")
    add_audio(folder, HEX)
    add_timeline(folder)
    opened: list[Path] = []
    real_image, real_audio = pipeline.load_image, pipeline.load_audio
    monkeypatch.setattr(pipeline, "load_image",
                        lambda p, *a, **k: opened.append(Path(p)) or real_image(p, *a, **k))
    monkeypatch.setattr(pipeline, "load_audio",
                        lambda p, *a, **k: opened.append(Path(p)) or real_audio(p, *a, **k))
    refused(capsys, "render", "--project", folder, "--quiet",
            match=("portraits row 1", str(folder)))
    assert not [p for p in opened if folder not in p.resolve().parents]  # nothing outside read


def test_symlink_in_media_refused(capsys, tmp_path, victim, monkeypatch):
    folder = make_project(tmp_path / "proj")
    link = folder / "media" / f"{HEX}.png"
    link.symlink_to(victim)
    add_portrait(folder, HEX, ".png")
    refused(capsys, "asset", "remove", "portrait", 1, "--project", folder,
            match=("portraits row 1", "outside the project"))
    assert intact(victim) and link.is_symlink()
    add_audio(folder, HEX2)
    add_timeline(folder)
    opened: list[Path] = []
    monkeypatch.setattr(pipeline, "load_image", lambda p, *a, **k: opened.append(Path(p)))
    refused(capsys, "render", "--project", folder, "--quiet", match=("portraits row 1",))
    assert opened == []


def test_symlinked_media_folder_refuses_import_writes(tmp_path):
    """media/ itself pointing outside: a new import would write there; refused."""
    folder = make_project(tmp_path / "proj")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / "media").rmdir()
    (folder / "media").symlink_to(elsewhere)
    add_portrait(folder, HEX, ".png")
    with Project.open(folder) as p, pytest.raises(UnsafeRowError, match="outside"):
        p.portraits()


# ---------------------------------------------------------------- render rows
@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_remove_timeline_keeps_outside_file(tmp_path, victim, how):
    folder = make_project(tmp_path / "proj")
    add_portrait(folder, HEX)
    add_audio(folder, HEX2)
    add_timeline(folder)
    if how == "absolute":
        add_render(folder, str(victim))
    elif how == "dotdot":
        add_render(folder, os.path.relpath(victim, folder))
    else:
        (folder / "renders" / f"{HEX}.mp4").symlink_to(victim)
        add_render(folder, f"renders/{HEX}.mp4")
    with Project.open(folder) as p:
        with pytest.raises(UnsafeRowError) as err:
            p.remove_timeline(1)
        assert err.value.table == "renders" and err.value.row_id == 1
        assert "\n" not in str(err.value)
        assert [t.id for t in p.timelines()] == [1]  # nothing removed
        # bulk listings check each row too (verify_renders sees only `done` rows: open
        # already marked rows whose name is not in renders/ `missing`)
        for listing in (p.renders, p.verify_renders) if how == "symlink" else (p.renders,):
            with pytest.raises(UnsafeRowError, match="renders row 1"):
                listing()
    assert intact(victim)


def test_symlinked_renders_folder_refused(tmp_path, victim):
    """renders/ itself leading out of the project: listing and planning refuse (a render
    would otherwise be written there)."""
    folder = make_project(tmp_path / "proj")
    add_portrait(folder, HEX)
    add_audio(folder, HEX2)
    add_timeline(folder)
    (folder / "renders").rmdir()
    (folder / "renders").symlink_to(victim.parent)
    (victim.parent / f"{HEX}.mp4").write_bytes(b"vid")
    add_render(folder, f"renders/{HEX}.mp4")
    with Project.open(folder) as p:
        with pytest.raises(UnsafeRowError, match="outside"):
            p.renders()
        with pytest.raises(InputError, match="refused to write renders/"):
            p.render_plan(1)
        with pytest.raises(UnsafeRowError):
            p.remove_timeline(1)
    assert (victim.parent / f"{HEX}.mp4").read_bytes() == b"vid" and intact(victim)


@pytest.mark.parametrize("how", ["absolute", "symlink"])
def test_render_row_refused_where_segments_are_listed(capsys, tmp_path, how):
    """A done render matching a segment's spec hash but leading to an outside file: `timeline
    show` and `export` (preview and export read segment render paths) refuse it. (Open
    marks a render whose name is not in renders/ `missing`, so the crafted row here keeps a
    same-named file there to stay `done`.)"""
    folder = make_project(tmp_path / "proj")
    add_portrait(folder, HEX)
    add_audio(folder, HEX2)
    add_timeline(folder)
    with Project.open(folder) as p:
        spec_hash = p.segments(1)[0].spec_hash
    outside = tmp_path / "outside" / f"{spec_hash}.mp4"
    outside.parent.mkdir()
    outside.write_bytes(b"precious")
    local = folder / "renders" / f"{spec_hash}.mp4"
    if how == "absolute":
        local.write_bytes(b"decoy")
        add_render(folder, str(outside), spec_hash=spec_hash)
    else:
        local.symlink_to(outside)
        add_render(folder, f"renders/{spec_hash}.mp4", spec_hash=spec_hash)
    refused(capsys, "timeline", "show", "--project", folder, match=("renders row 1",))
    refused(capsys, "export", "--project", folder, match=("renders row 1",))
    assert outside.read_bytes() == b"precious"
    assert not list((folder / "exports").iterdir())


def test_good_rows_still_work(capsys, tmp_path):
    """The checks accept what the code writes: 64-hex media names with any import ext."""
    folder = make_project(tmp_path / "proj")
    add_portrait(folder, HEX, ".jpeg")
    add_audio(folder, HEX2, "")
    (folder / "media" / f"{HEX}.jpeg").write_bytes(b"x")
    code, out, err = run(capsys, "asset", "list", "--project", folder)
    assert code == 0 and "face" in out and "speech" in out, err
    code, out, err = run(capsys, "asset", "remove", "portrait", 1, "--project", folder)
    assert code == 0, err
    assert not (folder / "media" / f"{HEX}.jpeg").exists()


# ---------------------------------------------------------------- bundles
def _zip_project(folder: Path, zip_path: Path) -> Path:
    with zipfile.ZipFile(zip_path, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file() and not p.is_symlink():
                zf.write(p, p.relative_to(folder).as_posix())
    return zip_path


BAD_ROWS = {
    "portrait_sha": ("portraits", lambda f: add_portrait(f, "../../../../tmp/x/victim", "")),
    "portrait_ext": ("portraits", lambda f: add_portrait(f, HEX, "/../../../etc/passwd")),
    "audio_sha": ("audio_tracks", lambda f: add_audio(f, "/etc/passwd", "")),
    "audio_upper": ("audio_tracks", lambda f: add_audio(f, HEX.upper(), ".wav")),
    "render_abs": ("renders", lambda f: add_render(f, "/etc/passwd")),
    "render_dotdot": ("renders", lambda f: add_render(f, "renders/../../../x.mp4")),
    "render_elsewhere": ("renders", lambda f: add_render(f, f"media/{HEX}.mp4")),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bundle_with_bad_row_refused(capsys, tmp_path, case):
    folder = make_project(tmp_path / "src")
    table, craft = BAD_ROWS[case]
    if table == "renders":
        add_portrait(folder, HEX)
        add_audio(folder, HEX2)
        add_timeline(folder)
    craft(folder)
    with Project.open(folder) as p:
        p.checkpoint()
    area = tmp_path / "area"
    area.mkdir()
    z = _zip_project(folder, tmp_path / "evil.zip")
    refused(capsys, "bundle", "import", z, area / "dest",
            match=(str(z), f"{table} row 1", "nothing was imported"))
    assert list(area.iterdir()) == []  # no project, no staging folder left


def test_bundle_with_empty_db_refused(capsys, tmp_path):
    z = tmp_path / "empty.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("project.db", b"")
        zf.writestr(f"media/{HEX}.png", b"x")
    refused(capsys, "bundle", "import", z, tmp_path / "dest", match=(str(z), "empty"))
    assert not (tmp_path / "dest").exists()


def test_bundle_with_good_rows_imports(capsys, tmp_path):
    folder = make_project(tmp_path / "src")
    add_portrait(folder, HEX, ".png")
    add_audio(folder, HEX2, ".wav")
    add_timeline(folder)
    add_render(folder, f"renders/{HEX}.mp4")
    with Project.open(folder) as p:
        p.checkpoint()
    z = _zip_project(folder, tmp_path / "good.zip")
    code, out, err = run(capsys, "bundle", "import", z, tmp_path / "dest")
    assert code == 0, err
    with Project.open(tmp_path / "dest") as p:
        assert len(p.portraits()) == 1 and len(p.renders()) == 1


# ---------------------------------------------------------------- damaged project.db
def _populated(tmp_path) -> Path:
    """A project with 3 media files, 2 renders and a pre-migration backup of its db."""
    folder = make_project(tmp_path / "proj")
    for i in range(3):
        (folder / "media" / f"{i:064x}.png").write_bytes(b"img")
    for i in range(2):
        (folder / "renders" / f"{i:064x}.mp4").write_bytes(b"vid")
    (folder / "media" / ".leftover.part").write_bytes(b"")  # temp files are not counted
    add_portrait(folder, HEX)
    with Project.open(folder) as p:
        p.checkpoint()
    (folder / "project.db.bak-v0001").write_bytes((folder / "project.db").read_bytes())
    return folder


def _corrupt_page(data: bytes) -> bytes:
    b = bytearray(data)
    b[2 * 4096:3 * 4096] = b"\xa5" * 4096  # page 3: a b-tree page of the schema
    return bytes(b)


@pytest.mark.parametrize("damage", ["empty", "garbage", "bad_page"])
def test_damaged_db_refused_not_recreated(capsys, tmp_path, damage):
    folder = _populated(tmp_path)
    db = folder / "project.db"
    content = {"empty": b"", "garbage": b"not a database at all " * 50,
               "bad_page": _corrupt_page(db.read_bytes())}[damage]
    db.write_bytes(content)
    line = refused(capsys, "asset", "list", "--project", folder,
                   match=(str(db), "3 media file(s)", "2 render(s)", "project.db.bak-v0001",
                          "copy project.db.bak-v0001 to project.db", "never re-created"))
    assert re.search({"empty": "is empty", "garbage": "is not a SQLite database",
                      "bad_page": "fails its integrity check|is damaged"}[damage], line)
    assert db.read_bytes() == content  # left exactly as it was
    assert not (folder / "project.db-wal").exists() or damage == "bad_page"
    # the advice works: restoring the backup opens the project with its rows
    (folder / "project.db").write_bytes((folder / "project.db.bak-v0001").read_bytes())
    with Project.open(folder) as p:
        assert len(p.portraits()) == 1


def test_damaged_db_without_backup_says_so(capsys, tmp_path):
    folder = make_project(tmp_path / "proj")
    (folder / "project.db").write_bytes(b"")
    # a backup cut short (disk full during an upgrade) is not recommended
    (folder / "project.db.bak-v0001").write_bytes(b"SQLite format 3\x00" + b"\xa5" * 5000)
    refused(capsys, "project", "info", "--project", folder,
            match=("empty", "0 media file(s)", "no backup"))
    assert (folder / "project.db").read_bytes() == b""
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
        "project.db", "project.db.bak-v0001"]  # nothing created beside them


def test_unopenable_db_is_not_called_damaged(tmp_path, monkeypatch):
    """A db SQLite cannot open (read-only folder without -shm, locked...) is not damage:
    no restore advice; the open's own error (one line) is what the user sees."""
    from studio.db import health

    folder = make_project(tmp_path / "proj")

    def cannot_open(*a, **k):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(health.sqlite3, "connect", cannot_open)
    assert health.db_problem(folder / "project.db") is None
    (folder / "project.db").write_bytes(b"")
    assert "empty" in health.db_problem(folder / "project.db")


def test_new_project_still_created(capsys, tmp_path):
    code, out, err = run(capsys, "project", "new", "fresh")
    assert code == 0, err
    with Project.open(tmp_path / "projects" / "fresh") as p:
        assert p.name == "fresh"


# ---------------------------------------------------------------- SQLite errors at open
@pytest.mark.parametrize("message, expect", [
    ("database or disk is full", "disk is full"),
    ("attempt to write a readonly database", "read-only"),
    ("unable to open database file", "cannot be opened"),
])
def test_sqlite_error_at_open_is_one_line(capsys, tmp_path, monkeypatch, message, expect):
    """Tests run as root (chmod cannot make a folder read-only), so the failure of the WAL
    switch every connection makes is injected into the sqlite3 module SQLAlchemy uses."""
    folder = make_project(tmp_path / "proj")

    class FailingCursor(sqlite3.Cursor):
        def execute(self, statement, *args):
            if "journal_mode" in statement.lower():
                raise sqlite3.OperationalError(message)
            return super().execute(statement, *args)

    class FailingConnection(sqlite3.Connection):
        def cursor(self, factory=FailingCursor):
            return super().cursor(factory)

    real = sqlite3.dbapi2.connect
    monkeypatch.setattr(sqlite3.dbapi2, "connect",
                        lambda *a, **k: real(*a, factory=FailingConnection, **k))
    refused(capsys, "asset", "list", "--project", folder,
            match=(str(folder / "project.db"), expect))
    with pytest.raises(InputError, match=expect):
        Project.create(tmp_path / "other")
