"""Export: stream-copy concatenation (bit-exact frames) + AAC audio, re-encode path for
another size/fps, cancel leaves nothing, missing segments are rendered first."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import Cancelled, InputError
from core.video import probe, read_frames


def test_export_renders_missing_then_copies(project, tmp_path):
    tid = project.timeline().id
    out = project.export_video(tid, tmp_path / "out.mp4")  # renders everything first
    segs = project.segments(tid)
    assert all(s.state == "rendered" for s in segs)
    info = probe(out)
    tl = project.timeline(tid)
    assert info["n_frames"] == tl.n_frames and info["fps"] == 25
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert info["audio_duration"] == pytest.approx(tl.duration, abs=0.05)
    # stream copy: decoded frames are identical to the segment renders'
    exported = list(read_frames(out))
    originals = [f for s in segs for f in read_frames(s.render_path)]
    assert len(exported) == len(originals)
    assert all(np.array_equal(a, b) for a, b in zip(exported, originals, strict=True))
    # default output path
    default = project.export_video(tid)
    assert default.parent == project.path / "exports" and default.is_file()


def test_export_reencode_size_fps(project, tmp_path):
    tid = project.timeline().id
    project.export_video(tid, tmp_path / "a.mp4")
    out = project.export_video(tid, tmp_path / "b.mp4", size=320, fps=20, crf=23)
    info = probe(out)
    tl = project.timeline(tid)
    assert (info["width"], info["height"]) == (320, 320)
    assert info["n_frames"] == round(tl.n_frames * 20 / 25)
    assert info["audio_duration"] == pytest.approx(info["video_duration"], abs=0.06)


def test_export_cancel_and_bad_options(project, tmp_path):
    tid = project.timeline().id
    outdir = tmp_path / "out"
    outdir.mkdir()
    project.export_video(tid, outdir / "first.mp4")
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 5

    with pytest.raises(Cancelled):
        project.export_video(tid, outdir / "cancelled.mp4", size=288, cancel=cancel)
    with pytest.raises(Cancelled):  # the stream-copy path too
        project.export_video(tid, outdir / "first.mp4", cancel=lambda: True)
    assert [p.name for p in outdir.iterdir()] == ["first.mp4"]  # nothing else written
    assert probe(outdir / "first.mp4")["n_frames"] == project.timeline(tid).n_frames
    with pytest.raises(InputError, match="crf"):
        project.export_video(tid, tmp_path / "x.mp4", crf=99)
    with pytest.raises(InputError, match="does not exist"):
        project.export_video(tid, tmp_path / "nope" / "x.mp4")
