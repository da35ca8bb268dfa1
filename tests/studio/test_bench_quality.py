"""`bench quality`: clip selection, target ranges from the peers' own videos, judging, and
the comparison sheets, on the real peer videos of ../shared/peers (no render: the peer's
video stands in for ours where a test only needs a video)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.errors import InputError
from studio.bench import quality as Q
from studio.cli import main as cli


def test_clips_cover_every_sample_and_peer(samples, peers):
    every = Q.clips()
    names = [c.name for c in every]
    peer_dirs = sorted(d.name for d in peers.iterdir() if (d / "gt.mp4").is_file())
    assert [c.name for c in every if c.gt is not None] == peer_dirs
    assert len([c for c in every if c.gt is None]) == len(list((samples / "audio").glob("*.wav")))
    assert len(set(names)) == len(names)
    one = Q.select(every, "vasa-1_5", quick=False)
    assert [c.name for c in one] == ["vasa-1_5"] and one[0].gt.name == "gt.mp4"
    assert [c.audio.name for c in Q.select(every, "hallo_1.wav", False)] == ["hallo_1.wav"]
    quick = Q.select(every, None, quick=True)
    assert {c.name.split("_")[0] for c in quick if c.gt} == {"emo", "vasa-1"}
    with pytest.raises(InputError, match="no such clip"):
        Q.select(every, "nobody", quick=False)


def test_cli_only_and_sheets_errors(capsys, tmp_path):
    assert cli(["bench", "quality", "--only", "nobody"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such clip" in err
    assert cli(["bench", "warp", "--only", "vasa-1_5"]) == 2
    assert "applies to `bench quality` only" in capsys.readouterr().err
    assert cli(["bench", "warp", "--sheets", str(tmp_path)]) == 2
    assert "`bench quality` and `bench pose` only" in capsys.readouterr().err
    assert cli(["bench", "pose", "--sheets", str(tmp_path / "no" / "deeper")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert cli(["bench", "quality", "--only", "vasa-1_5", "--sheets",
                str(tmp_path / "no" / "deeper")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_peer_range_excludes_unsynced_peers_and_judges():
    gt = {f"p{i}": {"head_motion": hm, "lipsync_r_bp": bp, "lip_sync_z": z}
          for i, (hm, bp, z) in enumerate([(1.2, 0.2, 5.0), (3.6, 0.47, 6.0), (2.0, 0.3, 4.0),
                                           (1.7, 0.9, 1.0)])}  # the last: audio not its driver
    rng = Q.peer_range(gt)
    assert rng["head_motion"] == (1.2, 3.6) and rng["lipsync_r_bp"] == (0.2, 0.47)
    assert "this run" in rng["source"]
    fallback = Q.peer_range(dict(list(gt.items())[:1]))
    assert "documented" in fallback["source"]
    ok = Q.judge({"duration_s": 8.0, "head_motion": 2.0, "lipsync_r_bp": 0.4,
                  "mouth_rest_ratio": 0.1, "identity_distance": 0.2}, rng)
    assert ok == {"head_motion": True, "lipsync_r_bp": True, "lips_rest": True, "identity": True}
    bad = Q.judge({"duration_s": 8.0, "head_motion": 0.8, "lipsync_r_bp": 0.8,
                   "identity_distance": 0.5}, rng)
    assert bad == {"head_motion": False, "lipsync_r_bp": False, "lips_rest": None,
                   "identity": False}
    short = Q.judge({"duration_s": 3.0, "head_motion": 0.8, "lipsync_r_bp": 0.8}, rng)
    assert short["head_motion"] is None and short["lipsync_r_bp"] is None


def test_sheets_put_frames_side_by_side_and_widest_mouths(peers, tmp_path):
    """A 2 s cut of a VASA-1 video as both 'ours' and the peer: the side-by-side sheet has
    SHEET_TIMES pairs, the mouth sheet TOP_OPENINGS rows of (frame, crop) x 2, and the picked
    frames are the widest openings, apart from each other."""
    from core.audio import load
    from core.evaluate import evaluate
    from core.evaluate.sheet import top_openings
    from core.types import Waveform
    from core.video import read_frames, write_mp4

    folder = peers / "vasa-1_10"
    frames = [f for _, f in zip(range(50), read_frames(folder / "gt.mp4"), strict=False)]
    wave = load(folder / "aud.mp3")
    cut = write_mp4(iter(frames), 25.0, tmp_path / "cut.mp4",
                    audio=Waveform(wave.samples[:32000], source="2 s"))
    res = evaluate(cut, folder / "ref.jpg")
    clip = Q.Clip("cut", folder / "ref.jpg", folder / "aud.mp3", None, cut)
    out = tmp_path / "sheets"
    out.mkdir()
    paths = Q.write_sheets(out, clip, res, cut, res)
    assert sorted(p.split("/")[-1] for p in paths) == ["cut_mouth.png", "cut_side.png"]
    side = cv2.imread(str(out / "cut_side.png"))
    assert side.shape == (Q.SHEET_TIMES // 2 * 256, 4 * 256, 3)
    mouth = cv2.imread(str(out / "cut_mouth.png"))
    assert mouth.shape == (Q.TOP_OPENINGS * 256, 4 * 256, 3)
    series = res["series"]["mouth_opening"]
    picks = top_openings(series, Q.TOP_OPENINGS, 25.0)
    m = np.array([np.nan if v is None else v for v in series])
    assert picks[0] == int(np.nanargmax(m))
    assert all(abs(a - b) >= 8 for a in picks for b in picks if a != b)
    assert list(m[picks]) == sorted(m[picks], reverse=True)


def test_table_puts_the_peer_under_ours_and_names_failures():
    rng = {"head_motion": [1.3, 5.7], "lipsync_r_bp": [0.28, 0.43], "source": "test"}
    ours = {"duration_s": 15.0, "head_motion": 1.2, "lipsync_r_bp": 0.8, "identity_distance": 0.1}
    peer = {"duration_s": 15.0, "head_motion": 4.3, "lipsync_r_bp": 0.4}
    checks = Q.judge(ours, {"head_motion": (1.3, 5.7), "lipsync_r_bp": (0.28, 0.43)})
    result = {"pass_rate_head_motion": "0/1", "target_ranges": rng, "sheets": [],
              "clips": {"vasa-1_5": {"ours": ours, "gt": peer, "checks": checks}}}
    lines = Q.format_result(result).splitlines()
    mine = next(i for i, line in enumerate(lines) if line.startswith("vasa-1_5"))
    assert "ours" in lines[mine] and "head_motion,lipsync_r_bp" in lines[mine]
    assert "1.20" in lines[mine] and "0.80" in lines[mine]
    assert lines[mine + 1].split()[0] == "peer" and "4.30" in lines[mine + 1]
    assert "1.30-5.70 deg" in Q.format_result(result)
