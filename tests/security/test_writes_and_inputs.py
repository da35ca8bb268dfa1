"""Writes never replace anything but a regular file, fail in one line naming the file, never
lose the old output or leave a temp behind; inputs are bounded and special files get an
accurate message. End to end through the CLI on real samples (short 256 px renders)."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from core import fsutil
from core.errors import InputError
from core.fsutil import HOST_TAG, TEMP_PREFIX, atomic_path, check_input_file, clean_stale_temps
from studio.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = "hallo_2.jpg"
SPEECH = "asterisk_hello-world.wav"  # 1.4 s: a render takes a few seconds


# ------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def portrait(samples) -> Path:
    return samples / "portraits" / PORTRAIT


@pytest.fixture(scope="module")
def speech(samples) -> Path:
    return samples / "audio" / SPEECH


@pytest.fixture(scope="module")
def template(samples, tmp_path_factory) -> Path:
    """A project whose segments are all rendered (built once per module)."""
    from studio.project import Project

    folder = tmp_path_factory.mktemp("sec") / "proj"
    with Project.create(folder, name="sec") as p:
        por = p.add_portrait(samples / "portraits" / PORTRAIT)
        aud = p.add_audio(samples / "audio" / SPEECH)
        tl = p.new_timeline(por.id, aud.id, size=256)
        p.export_video(tl.id, folder / "exports" / "warmup.mp4")
        p.checkpoint()
    return folder


@pytest.fixture
def project(template, tmp_path) -> Path:
    dest = tmp_path / "proj"
    shutil.copytree(template, dest)
    return dest


def run(args, capsys) -> tuple[int, str, str]:
    code = cli([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_line(code: int, err: str, *words: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [x for x in err.strip().splitlines() if x]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for w in words:
        assert w.lower() in lines[0].lower(), f"{w!r} not in {lines[0]!r}"
    return lines[0]


def render_args(portrait, audio, out, *extra):
    return ["render", "--portrait", portrait, "--audio", audio, "--out", out, "--size", "256",
            "--quiet", *extra]


def temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


class _FullDisk:
    """A PyAV output container whose disk fills up after `after` packets: `mux` raises the
    OSError PyAV raises for ENOSPC (errno set, the file being written as filename)."""

    def __init__(self, inner, path: str, after: int, code: int):
        self._inner, self._path, self._left, self._code = inner, path, after, code

    def mux(self, packet):
        self._left -= 1
        if self._left < 0:
            raise OSError(self._code, os.strerror(self._code), self._path)
        return self._inner.mux(packet)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._inner.__exit__(*exc)


def fill_disk(monkeypatch, after: int = 3, code: int = errno.ENOSPC) -> None:
    real = av.open

    def fake(file, mode="r", *a, **k):
        c = real(file, mode, *a, **k)
        return _FullDisk(c, str(file), after, code) if mode == "w" else c

    monkeypatch.setattr(av, "open", fake)


# ------------------------------------------------------------------ special destinations
def _special_outputs(tmp_path: Path) -> list[Path]:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    link = tmp_path / "link.mp4"
    link.symlink_to(fifo)
    return [fifo, folder, link]


def test_render_onto_fifo_folder_or_symlink_to_fifo_is_refused(tmp_path, portrait, speech,
                                                              capsys):
    for out in _special_outputs(tmp_path):
        before = os.lstat(out)
        code, _, err = run(render_args(portrait, speech, out), capsys)
        line = one_line(code, err, str(out))
        assert "not a regular file" in line
        assert ("FIFO" in line) == (out.name != "folder.mp4")
        after = os.lstat(out)
        assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode)
        assert after.st_ino == before.st_ino
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe.mp4").st_mode)
    assert not temps(tmp_path)


def test_render_onto_dev_full_keeps_the_device(tmp_path, portrait, speech, capsys):
    full = Path("/dev/full")
    if not full.exists() or not stat.S_ISCHR(os.stat(full).st_mode):
        pytest.skip("/dev/full is not a character device here")
    before = os.stat(full)
    try:
        code, _, err = run(render_args(portrait, speech, full), capsys)
        assert "character device" in one_line(code, err, "/dev/full", "not a regular file")
        after = os.stat(full)
        assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    finally:  # a regression must not leave the machine without its device node
        if not stat.S_ISCHR(os.lstat(full).st_mode) and os.geteuid() == 0:
            full.unlink()
            os.mknod(full, 0o666 | stat.S_IFCHR, before.st_rdev)
            os.chmod(full, stat.S_IMODE(before.st_mode))


def test_export_onto_fifo_is_refused(project, tmp_path, capsys):
    fifo = tmp_path / "out.mp4"
    os.mkfifo(fifo)
    code, _, err = run(["export", "--project", project, "--out", fifo, "--quiet"], capsys)
    one_line(code, err, str(fifo), "FIFO", "not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_atomic_path_refuses_a_fifo_that_appears_during_the_write(tmp_path):
    dest = tmp_path / "out.png"
    with pytest.raises(InputError, match="FIFO") as e, atomic_path(dest, suffix=".png") as tmp:
        tmp.write_bytes(b"data")
        os.mkfifo(dest)  # another process puts a pipe there before the rename
    assert str(dest) in str(e.value)
    assert stat.S_ISFIFO(os.lstat(dest).st_mode)
    assert not temps(tmp_path)


# ------------------------------------------------------------------ names
def test_a_252_character_output_name_renders(tmp_path, portrait, speech, capsys):
    out = tmp_path / ("n" * 248 + ".mp4")
    assert len(out.name) == 252
    code, _, err = run(render_args(portrait, speech, out), capsys)
    assert code == 0, err
    from core.video import probe

    assert probe(out)["n_frames"] > 0
    assert not temps(tmp_path)


def test_a_name_over_255_bytes_is_one_line(tmp_path, portrait, speech, capsys):
    out = tmp_path / ("é" * 127 + ".mp4")  # 258 bytes in UTF-8
    code, _, err = run(render_args(portrait, speech, out), capsys)
    one_line(code, err, "too long", "255")
    assert list(tmp_path.iterdir()) == []


def test_temp_names_are_short_and_carry_the_pid(tmp_path):
    dest = tmp_path / ("x" * 251 + ".mp4")
    with atomic_path(dest, suffix=".mp4") as tmp:
        assert tmp.name.startswith(f"{TEMP_PREFIX}{os.getpid()}-{HOST_TAG}-")
        assert tmp.suffix == ".mp4"
        assert len(tmp.name) < 40
        tmp.write_bytes(b"v")
    assert dest.read_bytes() == b"v"


# ------------------------------------------------------------------ failing writes
def test_disk_full_during_render_names_the_output_and_keeps_the_old_one(
        tmp_path, portrait, speech, capsys, monkeypatch):
    out = tmp_path / "talk.mp4"
    out.write_bytes(b"the previous video")
    fill_disk(monkeypatch)
    code, _, err = run(render_args(portrait, speech, out), capsys)
    one_line(code, err, str(out), "disk is full")
    assert out.read_bytes() == b"the previous video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.mp4"]


def test_disk_full_during_export_names_the_output_and_keeps_the_old_one(
        project, tmp_path, capsys, monkeypatch):
    out = tmp_path / "final.mp4"
    out.write_bytes(b"the previous export")
    fill_disk(monkeypatch)
    code, _, err = run(["export", "--project", project, "--out", out, "--quiet"], capsys)
    one_line(code, err, str(out), "disk is full")
    assert out.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.mp4", "proj"]


def test_disk_full_during_a_segment_render_names_the_render_file(project, capsys,
                                                                 monkeypatch):
    from studio.project import Project

    with Project.open(project) as p:  # a new seed: every segment must be rendered again
        p.update_timeline(p.timeline().id, seed=7)
    fill_disk(monkeypatch)
    code, _, err = run(["render", "--project", project, "--quiet"], capsys)
    one_line(code, err, str(project / "renders"), "disk is full")
    assert not temps(project / "renders")


def test_file_size_limit_of_the_kernel_during_render(tmp_path, portrait, speech):
    """A real failing write (RLIMIT_FSIZE: the kernel says EFBIG), not an injected one."""
    out = tmp_path / "talk.mp4"
    out.write_bytes(b"old")

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, 16_000))

    r = subprocess.run([sys.executable, "main.py", *map(str, render_args(portrait, speech, out))],
                       cwd=ROOT, capture_output=True, text=True, timeout=120, preexec_fn=limit)
    one_line(r.returncode, r.stderr, str(out), "too large")
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.mp4"]


@pytest.mark.parametrize("code,word", [(errno.EROFS, "read-only"),
                                       (errno.EACCES, "permission denied")])
def test_read_only_output_folder(tmp_path, portrait, speech, capsys, monkeypatch, code, word):
    folder = tmp_path / "ro"
    folder.mkdir()
    real_open = os.open

    def refusing_open(path, flags, *a, **k):  # root ignores chmod: the kernel's answer, faked
        if flags & os.O_CREAT and Path(path).parent == folder:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", refusing_open)
    out = folder / "talk.mp4"
    c, _, err = run(render_args(portrait, speech, out), capsys)
    one_line(c, err, str(out), word)
    assert list(folder.iterdir()) == []


def test_read_only_output_folder_for_real(tmp_path, portrait, speech, capsys):
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions (the injected test covers it)")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, _, err = run(render_args(portrait, speech, folder / "a.mp4"), capsys)
        one_line(code, err, str(folder / "a.mp4"), "permission denied")
    finally:
        folder.chmod(0o755)


def test_failing_rename_keeps_the_old_file(tmp_path, monkeypatch):
    dest = tmp_path / "out.zip"
    dest.write_bytes(b"old")

    def no_replace(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(src), None, str(dst))

    monkeypatch.setattr(fsutil.os, "replace", no_replace)
    with pytest.raises(InputError, match="permission denied") as e, \
            atomic_path(dest, suffix=".zip") as tmp:
        tmp.write_bytes(b"new")
    assert str(dest) in str(e.value) and dest.read_bytes() == b"old"
    assert not temps(tmp_path)


def test_disk_full_while_importing_media(project, portrait, capsys, monkeypatch):
    import studio.assets

    def full_copy(src, dst):
        Path(dst).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(studio.assets.shutil, "copyfile", full_copy)
    img = project.parent / "other.jpg"
    img.write_bytes(Path(portrait).read_bytes() + b"\0")  # another hash: really imported
    code, _, err = run(["asset", "add", img, "--project", project], capsys)
    one_line(code, err, str(project / "media"), "disk is full")
    assert not temps(project / "media")


def test_an_unrelated_oserror_inside_the_block_passes_through(tmp_path):
    """An input read failing inside the block is not reported as a failed write."""
    with pytest.raises(PermissionError), atomic_path(tmp_path / "o.bin") as tmp:
        tmp.write_bytes(b"x")
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "input.wav"))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ closed stdout pipe
@pytest.mark.parametrize("cmd", [["jobs", "list"], ["asset", "list"], ["--help"]])
def test_listing_into_a_closed_pipe_has_no_traceback(project, cmd):
    args = [*cmd, "--project", str(project)] if cmd[0] != "--help" else cmd
    proc = subprocess.Popen([sys.executable, "main.py", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written (`| head -c0`)
    err = proc.stderr.read().decode()
    proc.wait(60)
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err, err
    assert proc.returncode == (141 if cmd[0] != "--help" else 0)  # argparse: quiet 0


def test_listing_through_head(project):
    r = subprocess.run(["bash", "-c", f"{sys.executable} main.py jobs list --project "
                        f"'{project}' | head -c0; exit ${{PIPESTATUS[0]}}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr
    assert r.returncode in (0, 141)


# ------------------------------------------------------------------ stale temp files
def test_stale_temps_are_removed_and_nothing_else(tmp_path):
    old = time.time() - 2 * 3600
    live, dead = os.getpid(), dead_pid()
    other = "000000" if HOST_TAG != "000000" else "111111"
    names = {
        f".avs-tmp-{dead}-{HOST_TAG}-0123abcd.mp4": False,  # writer gone
        f".avs-tmp-{live}-{HOST_TAG}-89abcdef.mp4": True,  # writer alive, fresh
        f".avs-tmp-{live}-{HOST_TAG}-deadbeef.png": False,  # alive pid, untouched 2 h: reused
        f".avs-tmp-{dead}-{other}-0123abcd.mp4": True,  # another machine's pid: fresh, kept
        ".talk.tmp-ab12cd34.mp4": False,  # the earlier naming, 2 h old
        ".fresh.tmp-ab12cd34.mp4": True,  # the earlier naming, fresh: maybe in use
        ".avs-tmp-notes.txt": True,  # not our pattern
        "talk.tmp-ab12cd34.mp4": True,  # not hidden: a user's file
        "talk.mp4": True,
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    for name in (f".avs-tmp-{live}-{HOST_TAG}-deadbeef.png", ".talk.tmp-ab12cd34.mp4", ".avs-tmp-notes.txt",
                 "talk.tmp-ab12cd34.mp4", "talk.mp4"):
        os.utime(tmp_path / name, (old, old))
    target = tmp_path / "keep.mp4"
    target.write_bytes(b"k")
    (tmp_path / f".avs-tmp-{dead}-{HOST_TAG}-11111111.mp4").symlink_to(target)  # not ours
    (tmp_path / f".avs-tmp-{dead}-{HOST_TAG}-22222222.tmp").mkdir()  # a folder: not ours

    with atomic_path(tmp_path / "new.bin") as tmp:  # a write into the folder cleans it
        tmp.write_bytes(b"n")
    left = {p.name for p in tmp_path.iterdir()}
    for name, kept in names.items():
        assert (name in left) == kept, name
    assert {f".avs-tmp-{dead}-{HOST_TAG}-11111111.mp4",
            f".avs-tmp-{dead}-{HOST_TAG}-22222222.tmp", "keep.mp4", "new.bin"} <= left
    assert target.read_bytes() == b"k"


def test_project_open_cleans_its_own_folders(project):
    from studio.project import Project

    dead = dead_pid()
    planted = [project / sub / f".avs-tmp-{dead}-{HOST_TAG}-0badc0de.part" for sub in
               ("renders", "media", "exports")]
    for p in planted:
        p.write_bytes(b"x")
    mine = project / "exports" / "mine.txt"
    mine.write_text("user file")
    with Project.open(project):
        pass
    assert not any(p.exists() for p in planted)
    assert mine.read_text() == "user file"


def test_clean_stale_temps_of_a_missing_folder_is_quiet(tmp_path):
    assert clean_stale_temps(tmp_path / "nope") == []


# ------------------------------------------------------------------ bounded inputs
def test_a_10_mb_transcript_is_refused(tmp_path, portrait, speech, capsys):
    big = tmp_path / "words.txt"
    big.write_text("hello world " * 900_000)  # 10.8 MB
    out = tmp_path / "o.mp4"
    code, _, err = run(render_args(portrait, speech, out, "--transcript-file", big), capsys)
    one_line(code, err, str(big), "too long", "100,000")
    assert not out.exists()


def test_core_analyze_refuses_an_unbounded_transcript(speech):
    from core.audio import analyze, load

    with pytest.raises(InputError, match="too long"):
        analyze(load(speech), 25, transcript="word " * 50_000)


def test_project_refuses_an_unbounded_transcript(project):
    from studio.project import Project

    with Project.open(project) as p, pytest.raises(InputError, match="too long"):
        p.set_transcript(p.audio_tracks()[0].id, "word " * 50_000)


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [100_000, 8_000])  # Pillow's own bomb limit / ours (50 MP)
def test_an_image_claiming_huge_dimensions_is_refused_without_decoding(tmp_path, side):
    from core.image import load_image

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(side, side))
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="too large") as e:
            load_image(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(bomb) in str(e.value)
    assert peak < 20 << 20  # nothing near the 30 GB the pixels would need


def test_audio_longer_than_three_hours_is_refused_before_decoding(tmp_path, portrait, capsys):
    long = tmp_path / "long.flac"  # 3 h 05 min of real (silent) FLAC, a few hundred KB
    with sf.SoundFile(long, "w", samplerate=8000, channels=1, subtype="PCM_16") as f:
        block = np.zeros(8000 * 600, np.int16)
        for _ in range(18):
            f.write(block)
        f.write(block[: 8000 * 300])
    out = tmp_path / "o.mp4"
    code, _, err = run(render_args(portrait, long, out), capsys)
    one_line(code, err, str(long), "3:05:00", "limit is 3:00:00")


def _specials(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link.wav"
    link.symlink_to(fifo)
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    found = {"fifo": (fifo, "FIFO"), "link": (link, "FIFO"), "folder": (folder, "is a folder")}
    if Path("/dev/zero").exists() and stat.S_ISCHR(os.stat("/dev/zero").st_mode):
        found["zero"] = (Path("/dev/zero"), "character device")
    return found


@pytest.mark.parametrize("role", ["portrait", "audio"])
def test_special_files_as_inputs_get_accurate_messages(tmp_path, portrait, speech, capsys,
                                                      role):
    out = tmp_path / "o.mp4"
    for path, word in _specials(tmp_path).values():
        args = (path, speech) if role == "portrait" else (portrait, path)
        code, _, err = run(render_args(*args, out), capsys)
        line = one_line(code, err, str(path), word)
        assert "not found" not in line
    assert not out.exists()


def test_special_files_for_transcript_media_bundle_landmarks_and_video(tmp_path, project, portrait, speech,
                                                            capsys):
    for path, word in _specials(tmp_path).values():
        code, _, err = run(render_args(portrait, speech, tmp_path / "o.mp4",
                                       "--transcript-file", path), capsys)
        one_line(code, err, str(path), word)
        code, _, err = run(["asset", "add", path, "--kind", "audio", "--project", project],
                           capsys)
        one_line(code, err, str(path), word)
        code, _, err = run(["bundle", "import", path, tmp_path / "imported"], capsys)
        one_line(code, err, str(path), word)
        code, _, err = run(render_args(portrait, speech, tmp_path / "o.mp4", "--landmarks",
                                       path), capsys)
        one_line(code, err, str(path), word)
        code, _, err = run(["evaluate", path, "--portrait", portrait], capsys)
        one_line(code, err, str(path), word)


def test_check_input_file_accepts_a_symlink_to_a_regular_file(tmp_path, speech):
    link = tmp_path / "speech.wav"
    link.symlink_to(speech)
    assert check_input_file(link, "an audio file") == link
    with pytest.raises(InputError, match="file not found"):
        check_input_file(tmp_path / "missing.wav")
