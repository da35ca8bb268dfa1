"""`render --project P` with the one-shot flags: each group is honoured on the project
(and says so) or refused with one line (exit 2, nothing changed); none is ignored."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.types import Expression
from studio.cli import main
from studio.project import Project


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, project_dir, *argv, match: str) -> None:
    """One `error:` line naming the flag, exit 2, and the project unchanged."""
    with Project.open(project_dir) as p:
        before = (p.timelines(), p.presets(), p.snapshot_segments(p.timeline().id),
                  p.audio_tracks(), p.portraits())
    code, out, err = run(capsys, "render", "--project", project_dir, "--quiet", *argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (out, err)
    assert match in lines[0], lines[0]
    with Project.open(project_dir) as p:
        after = (p.timelines(), p.presets(), p.snapshot_segments(p.timeline().id),
                 p.audio_tracks(), p.portraits())
        assert after == before
        assert p.jobs() == []


def first_segment(project_dir) -> int:
    with Project.open(project_dir) as p:
        return p.segments(p.timeline().id)[0].id


def test_timeline_setting_flags_change_the_timeline(project_dir, capsys):
    sid = first_segment(project_dir)
    code, out, err = run(capsys, "render", "--project", project_dir, "--segment", sid,
                         "--size", 288, "--seed", 3, "--steps", 2, "--fps", 25, "--quiet")
    assert code == 0, err
    assert "size 288 set" in out and "seed 3 set" in out and "settings" in out
    with Project.open(project_dir) as p:
        tl = p.timeline()
        assert (tl.size, tl.seed, tl.settings) == (288, 3, {"steps": 2})
        seg = p.segment(sid)
        assert seg.state == "rendered"
        from core.video import probe

        info = probe(seg.render_path)
        assert (info["width"], info["height"]) == (288, 288)


def test_fps_and_crf_refused(project_dir, capsys):
    refused(capsys, project_dir, "--fps", 30, match="--fps")
    refused(capsys, project_dir, "--crf", 23, match="--crf")


def test_one_shot_inputs_with_a_project_refused(project_dir, capsys, samples):
    code, out, err = run(capsys, "render", "--project", project_dir, "--portrait",
                         samples / "portraits" / "hallo_2.jpg", "--audio",
                         samples / "audio" / "hallo_1.wav", "--quiet")
    assert code == 2 and "--project" in err and len(err.strip().splitlines()) == 1


def test_expression_flags_become_the_timeline_preset(project_dir, capsys):
    refused(capsys, project_dir, "--emotion", "happy", match="--emotion")
    refused(capsys, project_dir, "--smile", 7, match="--smile")
    with Project.open(project_dir) as p:
        tid = p.timeline().id
        h0 = p.segments(tid)[0].spec_hash
    code, out, err = run(capsys, "render", "--project", project_dir, "--smile", 0.5,
                         "--blink-rate", 2, "--prompt", "wearing glasses", "--quiet")
    assert code == 0, err
    assert f"preset 'render flags: timeline {tid}' set" in out
    with Project.open(project_dir) as p:
        tl = p.timeline()
        pre = p.preset(tl.preset_id)
        assert pre.expression == Expression(smile=0.5, blink_rate=2.0)
        assert pre.prompt == "wearing glasses"
        segs = p.segments(tid)
        assert segs[0].spec_hash != h0 and {s.state for s in segs} == {"rendered"}
    # a second run with flags updates the same preset instead of adding one
    code, out, err = run(capsys, "render", "--project", project_dir, "--smile", 0.25,
                         "--quiet")
    assert code == 0, err
    with Project.open(project_dir) as p:
        assert len(p.presets()) == 1 and p.presets()[0].expression.smile == 0.25


def test_expression_flags_with_segment_set_its_override(project_dir, capsys):
    sid = first_segment(project_dir)
    refused(capsys, project_dir, "--segment", sid, "--prompt", "x", match="--prompt")
    code, out, err = run(capsys, "render", "--project", project_dir, "--segment", sid,
                         "--emotion", "happy", "--gaze", 0.5, "--quiet")
    assert code == 0, err
    assert f"segment {sid}: expression override set" in out
    with Project.open(project_dir) as p:
        seg = p.segment(sid)
        assert seg.overrides.expression.emotion == "happy"
        assert seg.overrides.expression.gaze == 0.5
        assert seg.state == "rendered"
        assert [s.state for s in p.segments(p.timeline().id)][1:] == ["missing"] * (
            len(p.segments(p.timeline().id)) - 1)


def test_asset_flags_update_transcript_and_landmarks(project_dir, capsys, tmp_path):
    sid = first_segment(project_dir)
    with Project.open(project_dir) as p:
        rig = p.portrait_rig(p.timeline().portrait_id)
        pts = np.asarray(rig.landmarks, dtype=float)[:68, :2].round(1).tolist()
    lm = tmp_path / "lm.json"
    lm.write_text(json.dumps(pts))
    code, out, err = run(capsys, "render", "--project", project_dir, "--segment", sid,
                         "--transcript", "hello there", "--landmarks", lm, "--quiet")
    assert code == 0, err
    assert "transcript set" in out and "landmarks set" in out
    with Project.open(project_dir) as p:
        tl = p.timeline()
        assert p.audio(tl.audio_id).transcript == "hello there"
        assert p.portrait(tl.portrait_id).has_landmarks


def test_out_exports_after_rendering_and_device_applies_to_the_run(project_dir, capsys,
                                                                    tmp_path):
    out_mp4 = tmp_path / "export.mp4"
    code, out, err = run(capsys, "render", "--project", project_dir, "--out", out_mp4,
                         "--crf", 23, "--device", "cpu", "--quiet")
    assert code == 0, err
    assert f"exported {out_mp4}" in out and "device cpu" in out
    from core.video import probe

    info = probe(out_mp4)
    with Project.open(project_dir) as p:
        tl = p.timeline()
        assert info["n_frames"] == tl.n_frames and info["audio_rate"]
        assert "device" not in tl.settings  # a run option, not part of the spec


@pytest.mark.parametrize("flag", ["--weights", "--steps", "--guidance", "--text-scale",
                                  "--guides"])
def test_engine_options_go_into_the_timeline_settings(project_dir, capsys, tmp_path, flag):
    value = {"--weights": tmp_path, "--steps": 3, "--guidance": 2.5, "--text-scale": 0.5,
             "--guides": "plan"}[flag]
    sid = first_segment(project_dir)
    # warp ignores the diffusion options, but they are the timeline's from now on
    code, out, err = run(capsys, "render", "--project", project_dir, "--segment", sid, flag,
                         value, "--quiet")
    assert code == 0, err
    key = flag[2:].replace("-", "_")
    with Project.open(project_dir) as p:
        assert p.timeline().settings[key] == (str(value) if flag == "--weights" else value)
