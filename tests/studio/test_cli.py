"""The project CLI: every command prints what it did; bad input is one line + exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from tests.cli_helpers import bad, ok

ROOT = Path(__file__).resolve().parents[2]


def test_full_cli_flow(capsys, samples, tmp_path, monkeypatch):
    out = ok(capsys, "project", "new", "demo")
    assert "created project 'demo'" in out
    P = ("--project", "demo")
    bad(capsys, "project", "new", "demo", match="already holds a project")
    assert "demo" in ok(capsys, "project", "list")
    # the current folder is used when it holds a project
    monkeypatch.chdir(tmp_path / "projects" / "demo")
    assert "project   demo" in ok(capsys, "project", "info")
    monkeypatch.chdir(tmp_path)
    bad(capsys, "project", "info", match="no project selected")
    bad(capsys, "asset", "list", "--project", "nope", match="not found")

    assert "imported portrait 1" in ok(capsys, "asset", "add",
                                       samples / "portraits" / "hallo_2.jpg", *P)
    assert "already imported" in ok(capsys, "asset", "add",
                                    samples / "portraits" / "hallo_2.jpg", *P)
    assert "imported audio 1" in ok(capsys, "asset", "add", samples / "audio" / "hallo_1.wav",
                                    "--transcript", "", *P)
    bad(capsys, "asset", "add", tmp_path / "missing.jpg", *P, match="file not found")
    txt = tmp_path / "notes.xyz"
    txt.write_text("hi")
    bad(capsys, "asset", "add", txt, *P, match="--kind")
    fake = tmp_path / "fake.png"
    fake.write_text("not a png")
    bad(capsys, "asset", "add", fake, *P, match=str(fake))
    out = ok(capsys, "asset", "list", *P)
    assert "hallo_2" in out and "hallo_1" in out

    assert "added preset" in ok(capsys, "preset", "add", "happy", "--smile", "0.7", *P)
    bad(capsys, "preset", "add", "happy", *P, match="already exists")
    bad(capsys, "preset", "add", "x", "--smile", "4", *P, match="between")
    assert "smile=+0.20" in ok(capsys, "preset", "edit", "happy", "--smile", "0.2", *P)
    assert "happy" in ok(capsys, "preset", "list", *P)
    ok(capsys, "preset", "add", "tmp", *P)
    assert "removed preset" in ok(capsys, "preset", "remove", "tmp", *P)
    bad(capsys, "preset", "remove", "tmp", *P, match="no preset")

    out = ok(capsys, "timeline", "new", "--portrait", 1, "--audio", 1, "--size", 256, *P)
    assert "created timeline 1" in out and "segments" in out
    bad(capsys, "timeline", "new", "--portrait", 9, "--audio", 1, *P, match="no portrait")
    bad(capsys, "timeline", "new", "--portrait", 1, "--audio", 1, "--size", 333, *P,
        match="even")
    bad(capsys, "timeline", "new", "--portrait", 1, "--audio", 1, "--engine", "magic", *P,
        match="unknown engine")
    out = ok(capsys, "timeline", "show", *P)
    assert "missing" in out
    bad(capsys, "timeline", "show", "--timeline", "x", *P, match="whole number")

    out = ok(capsys, "segment", "split", 1, 40, *P)
    assert "split into segment 1 frames 0-40" in out
    bad(capsys, "segment", "split", 1, 0, *P, match="strictly inside")
    bad(capsys, "segment", "split", 99, 10, *P, match="no segment")
    new_id = int(out.split("and segment ")[1].split()[0])
    assert "moved boundary" in ok(capsys, "segment", "move", 1, 50, *P)
    assert "merged into segment 1" in ok(capsys, "segment", "merge", 1, new_id, *P)
    out = ok(capsys, "segment", "set", 1, "--preset", "happy", "--seed", 5, "--smile", 0.3, *P)
    assert "preset=1 seed=5" in out
    assert "seed=None" in ok(capsys, "segment", "set", 1, "--seed", "none", *P)
    bad(capsys, "segment", "set", 1, "--preset", "nope", *P, match="no preset")

    assert "no jobs" in ok(capsys, "jobs", "list", *P)
    code = main(["render", "--project", "demo", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "rendered 2 segment(s)" in out
    out = ok(capsys, "render", "--project", "demo", "--quiet")
    assert "2 already rendered (reused), 0 to render" in out
    jobs_out = ok(capsys, "jobs", "list", *P)
    assert jobs_out.count(" done ") == 2
    bad(capsys, "jobs", "cancel", 1, *P, match="only queued or running")
    bad(capsys, "jobs", "retry", 1, *P, match="only failed")
    bad(capsys, "jobs", "cancel", 77, *P, match="no job")
    bad(capsys, "render", "--project", "demo", "--segment", 99, match="no segment 99")

    out = ok(capsys, "export", "--out", tmp_path / "final.mp4", *P)
    assert "exported timeline 1" in out and (tmp_path / "final.mp4").is_file()
    bad(capsys, "export", "--crf", 80, *P, match="crf")

    assert "exported project" in ok(capsys, "bundle", "export", tmp_path / "b.zip", *P)
    assert "imported project" in ok(capsys, "bundle", "import", tmp_path / "b.zip",
                                    tmp_path / "restored")
    bad(capsys, "bundle", "import", tmp_path / "b.zip", tmp_path / "restored",
        match="not empty")
    out = ok(capsys, "timeline", "show", "--project", tmp_path / "restored")
    assert out.count("rendered") >= 2

    bad(capsys, "asset", "remove", "portrait", 1, *P, match="used by")


def test_exit_code_through_main_py(tmp_path):
    """The real entry point: a one-line error on stderr and status 2, no traceback."""
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "project", "info", "--project",
                        str(tmp_path / "none")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert "not found" in r.stderr


@pytest.mark.parametrize("env_project", [True])
def test_env_project(capsys, tmp_path, monkeypatch, env_project):
    ok(capsys, "project", "new", str(tmp_path / "p1"))
    monkeypatch.setenv("AVATAR_STUDIO_PROJECT", str(tmp_path / "p1"))
    assert "p1" in ok(capsys, "project", "info")
