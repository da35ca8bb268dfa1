"""Timeline segmentation at pauses, and segment editing (split/merge/move/overrides/undo)."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.types import Expression
from studio.records import UNCHANGED
from studio.segments import split_at_pauses


def _check_cover(ranges, n):
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))


def test_split_at_pauses_synthetic():
    fps = 25.0
    vad = np.ones(1500, np.float32)  # 60 s of speech with short pauses
    pauses = [100, 170, 300, 420, 700, 760, 1000, 1300]
    for c in pauses:
        vad[c:c + 8] = 0.0
    ranges = split_at_pauses(vad, fps)
    _check_cover(ranges, 1500)
    lengths = [(b - a) / fps for a, b in ranges]
    assert all(2.0 <= s <= 8.0 for s in lengths), lengths
    # every pause is used as a cut (in its middle); extra cuts only where speech runs
    # longer than 8 s without one
    cuts = [a for a, _ in ranges[1:]]
    assert [c for c in cuts if vad[c] < 0.5] == [c + 4 for c in pauses]
    # no pause at all: still 2..8 s pieces
    ranges = split_at_pauses(np.ones(1000), fps)
    _check_cover(ranges, 1000)
    assert all(50 <= b - a <= 200 for a, b in ranges)
    # short clip: one segment
    assert split_at_pauses(np.ones(30), fps) == [(0, 30)]


def test_new_timeline_segments_real_audio(project):
    tl = project.timeline()
    segs = project.segments(tl.id)
    feats = project.audio_features(tl.audio_id, tl.fps)
    assert tl.n_frames == feats.n_frames == 188
    _check_cover([(s.start, s.end) for s in segs], tl.n_frames)
    assert len(segs) >= 2
    for s in segs:
        assert 2.0 <= s.n_frames / tl.fps <= 8.0
        assert s.state == "missing"
    for s in segs[1:]:  # cut in a pause: low voice activity around the boundary
        assert feats.vad[s.start - 1:s.start + 1].min() < 0.5


def test_split_merge_move_and_errors(project):
    tid = project.timeline().id
    first, second = project.segments(tid)[:2]
    a, b = project.split_segment(first.id, first.start + 30)
    assert (a.id, a.start, a.end) == (first.id, first.start, first.start + 30)
    assert (b.start, b.end) == (first.start + 30, first.end)
    with pytest.raises(InputError):
        project.split_segment(a.id, a.start)
    with pytest.raises(InputError):
        project.split_segment(a.id, a.end + 5)
    x, y = project.move_boundary(a.id, a.start + 40)
    assert x.end == y.start == a.start + 40 and y.end == first.end
    with pytest.raises(InputError, match="boundary"):
        project.move_boundary(a.id, first.end + 1)
    with pytest.raises(InputError, match="not neighbours"):
        project.merge_segments(a.id, second.id)
    m = project.merge_segments(a.id, b.id)
    assert (m.id, m.start, m.end) == (first.id, first.start, first.end)
    assert [s.id for s in project.segments(tid)] == [first.id, second.id]
    with pytest.raises(InputError, match="last one"):
        project.move_boundary(second.id, second.end - 10)


def test_overrides_change_only_that_segments_hash(project):
    tid = project.timeline().id
    segs = project.segments(tid)
    hashes = [s.spec_hash for s in segs]
    preset = project.add_preset("happy", expression=Expression(smile=0.8))
    s = project.set_segment_overrides(segs[0].id, preset_id=preset.id)
    assert s.overrides.preset_id == preset.id
    after = [x.spec_hash for x in project.segments(tid)]
    assert after[0] != hashes[0] and after[1:] == hashes[1:]
    # UNCHANGED keeps, None clears
    s = project.set_segment_overrides(segs[0].id, seed=7)
    assert s.overrides.preset_id == preset.id and s.overrides.seed == 7
    s = project.set_segment_overrides(segs[0].id, preset_id=None, seed=UNCHANGED)
    assert s.overrides.preset_id is None and s.overrides.seed == 7
    s = project.set_segment_overrides(segs[0].id, seed=None)
    assert s.spec_hash == hashes[0]  # back to the base spec
    # editing a preset re-hashes exactly the segments that use it
    project.set_segment_overrides(segs[1].id, preset_id=preset.id)
    h1 = project.segments(tid)[1].spec_hash
    project.update_preset(preset.id, smile=0.3)
    now = [x.spec_hash for x in project.segments(tid)]
    assert now[1] != h1 and now[0] == hashes[0]
    # the warp engine ignores prompts: a prompt edit does not re-render
    project.update_preset(preset.id, prompt="wearing glasses")
    assert [x.spec_hash for x in project.segments(tid)] == now


def test_snapshot_restore_undo(project):
    tid = project.timeline().id
    snap = project.snapshot_segments(tid)
    before = [(s.id, s.start, s.end, s.spec_hash) for s in project.segments(tid)]
    first = project.segments(tid)[0]
    project.split_segment(first.id, first.start + 50)
    project.set_segment_overrides(first.id, expression=Expression(brows=0.5))
    assert len(project.segments(tid)) == len(before) + 1
    project.restore_segments(tid, snap)
    assert [(s.id, s.start, s.end, s.spec_hash) for s in project.segments(tid)] == before
    with pytest.raises(InputError, match="cover"):
        project.restore_segments(tid, snap[:1])


def test_presets_crud(project):
    p = project.add_preset("calm", prompt="a calm face", strength=0.5,
                           expression=Expression(head_motion=0.5))
    with pytest.raises(InputError, match="already exists"):
        project.add_preset("calm")
    with pytest.raises(InputError, match="between"):
        project.add_preset("wild", expression=Expression(smile=5))
    p2 = project.update_preset(p.id, name="calmer", blink_rate=2.0)
    assert p2.name == "calmer" and p2.expression.blink_rate == 2.0
    assert p2.expression.head_motion == 0.5
    assert project.find_preset("calmer").id == p.id
    project.remove_preset(p.id)
    assert project.presets() == []
    assert project.restore_preset(p2) == p2


def test_context_engines_hash_context_frames(project, monkeypatch):
    """An engine that denoises context frames across boundaries (diffusion's overlap) gets
    them in the spec; a neighbour's override still re-renders only the neighbour."""
    from studio import engines as spec

    tid = project.timeline().id
    a, b = project.segments(tid)[:2]
    h_warp = project.segment(b.id).spec_hash
    monkeypatch.setattr(spec, "engine_traits", lambda name, settings="{}": (8, True))
    spec_b = project.segment_spec(b.id)
    assert spec_b["context"] == {"before": [b.start - 8, b.start],
                                 "after": [b.end, min(b.end + 8, project.timeline().n_frames)]}
    h_ctx = project.segment(b.id).spec_hash
    assert h_ctx != h_warp
    project.set_segment_overrides(a.id, seed=5)
    assert project.segment(b.id).spec_hash == h_ctx
    assert project.render_plan(b.id).controls == ()
    assert project.render_plan(a.id).controls == ((a.start, a.end, None, 5),)
    x, y = project.move_boundary(a.id, a.end - 3)  # b's range (and context) moves
    assert y.spec_hash != h_ctx
