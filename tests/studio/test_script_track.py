"""Script tracks: typed words -> neural speech track; editing one sentence re-synthesises
and re-renders only what it touches; undo restores (real Piper/espeak synthesis, real
warp renders at 256 px)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from core.errors import InputError
from studio import runner
from studio.engines import EngineHost
from studio.project import Project

TAIL = ("Water them every morning. Pick the fruit when it is red. Keep the seeds for next "
        "year. Share the harvest with friends. Thank you for listening.")
SCRIPT = "Welcome to the studio. Today we talk about gardens. Tomatoes like the sun. " + TAIL
EDITED = ("Welcome to the studio. Today we talk about gardens. Peppers like warm soil and "
          "plenty of sun. " + TAIL)


def _tts_or_skip():
    from core.tts import voices

    ok, _ = voices.piper_available()
    if not ok and not voices.espeak_available():
        pytest.skip("no speech synthesiser (piper-tts or espeak-ng) installed")


@pytest.fixture(scope="module")
def rendered_template(template_project, tmp_path_factory):
    """A project with the script track, a 256 px warp timeline, fully rendered (built
    once for this module; each test works on a copy)."""
    _tts_or_skip()
    folder = tmp_path_factory.mktemp("script") / "proj"
    shutil.copytree(template_project, folder)
    with Project.open(folder) as p:
        audio = p.add_script(SCRIPT)
        tl = p.new_timeline(p.portraits()[0].id, audio.id, size=256)
        p.enqueue(tl.id)
        runner.run_jobs(p, p.engine_host)
        p.base_motion(tl.id)
        p.checkpoint()
    return folder, audio.id, tl.id


@pytest.fixture
def scripted(rendered_template, tmp_path, counting_factory):
    folder, audio_id, tl_id = rendered_template
    dest = tmp_path / "scripted"
    shutil.copytree(folder, dest)
    p = Project.open(dest)
    p.use_engine_host(EngineHost(factory=counting_factory))
    try:
        yield p, p.audio(audio_id), p.timeline(tl_id)
    finally:
        p.close()


def _pcm(path):
    x, sr = sf.read(path, dtype="int16")
    return x, sr


def test_script_track_is_stored_with_its_sentences(scripted):
    p, audio, _ = scripted
    info = p.script(audio.id)
    assert [s.text for s in info.sentences][:2] == ["Welcome to the studio.",
                                                    "Today we talk about gardens."]
    assert audio.transcript.startswith("Welcome to the studio. Today")
    # sentence starts on the 0.2 s grid, words inside their sentence, in order
    for s in info.sentences:
        assert abs(s.start / 0.2 - round(s.start / 0.2)) < 1e-6
        assert all(s.start - 1e-6 <= w.start <= w.end <= s.end + 1e-6 for w in s.words)
    starts = [w.start for w in info.words]
    assert starts == sorted(starts)
    assert info.words[-1].text == "listening."
    assert abs(p.audio(audio.id).duration - info.sentences[-1].end) < 0.01


def test_edit_one_sentence_rerenders_only_what_it_touches(scripted, counting_factory):
    p, audio, tl = scripted
    old_audio, sr = _pcm(p.audio(audio.id).path)
    old_info = p.script(audio.id)
    before = p.segments(tl.id)
    assert all(s.state == "rendered" for s in before)
    old_files = {s.render_path for s in before}

    edit = p.edit_script(audio.id, EDITED)
    assert edit.changed == (2,)
    new_info = p.script(audio.id)
    new_audio, sr2 = _pcm(p.audio(audio.id).path)
    assert sr2 == sr
    # audio before the edited sentence: bit-identical; after it: the same samples shifted
    a = int(round(old_info.sentences[2].start * sr))
    assert np.array_equal(new_audio[:a], old_audio[:a])
    b_old = int(round(old_info.sentences[3].start * sr))
    b_new = int(round(new_info.sentences[3].start * sr))
    assert b_new - b_old == int(round(edit.shift_s * sr)) != 0
    assert np.array_equal(new_audio[b_new:], old_audio[b_old:])

    after = p.segments(tl.id)
    assert after[-1].end == p.timeline(tl.id).n_frames
    stale = [s for s in after if s.state != "rendered"]
    kept = [s for s in after if s.state == "rendered"]
    assert stale and kept
    assert {s.id for s in stale} == set(edit.stale[tl.id]) - set(edit.kept[tl.id])
    # kept segments show the very same render files as before
    assert {s.render_path for s in kept} <= old_files
    # the stale ones are exactly those over the edited sentence's audio
    fps = tl.fps
    e0 = new_info.sentences[2].start * fps
    e1 = new_info.sentences[2].end * fps
    touched = [s for s in after if s.start < e1 and s.end > e0]
    assert {s.id for s in touched} <= {s.id for s in stale}
    assert len(stale) <= max(1.3 * len(touched), len(touched) + 1)
    # rendering the stale ones calls the engine only for them
    p.enqueue(tl.id)
    runner.run_jobs(p, p.engine_host)
    calls = [c for e in counting_factory.engines for c in e.calls]
    assert sorted(calls) == sorted((s.start, s.end) for s in stale)
    assert all(s.state == "rendered" for s in p.segments(tl.id))


def test_motion_of_kept_segments_is_carried_and_the_seams_meet(scripted):
    p, audio, tl = scripted
    old = p.base_motion(tl.id)
    edit = p.edit_script(audio.id, EDITED)
    new = p.base_motion(tl.id)
    shift = int(round(edit.shift_s * tl.fps))
    segs = p.segments(tl.id)
    stale = [s for s in segs if s.state != "rendered"]
    lo, hi = min(s.start for s in stale), max(s.end for s in stale)
    # frames of kept renders: the very motion they were rendered with
    assert np.array_equal(new.head_pose[:lo], old.head_pose[:lo])
    assert np.array_equal(new.blink[:lo], old.blink[:lo])
    assert np.array_equal(new.head_pose[hi:], old.head_pose[hi - shift:])
    assert np.array_equal(new.gaze[hi:], old.gaze[hi - shift:])
    # across each seam the head moves no more than it does between ordinary frames
    step = np.abs(np.diff(new.head_pose, axis=0)).max(axis=1)
    typical = np.percentile(step, 99)
    for seam in (lo, hi):
        if 0 < seam < new.n_frames:
            assert step[seam - 1] <= typical + 1e-6


def test_undo_restores_script_audio_and_renders(scripted):
    p, audio, tl = scripted
    sha0 = p.audio(audio.id).sha256
    segs0 = [(s.start, s.end, s.render_path) for s in p.segments(tl.id)]
    p.edit_script(audio.id, EDITED)
    assert p.script(audio.id).undo_depth == 1
    # a boundary before the edit region that the original layout does not have (the
    # edit's own re-split can leave one too, depending on the new audio's pauses): undo
    # still restores the original segments exactly
    first = p.segments(tl.id)[0]
    assert first.end > 10 and (first.start, 10) not in [(a, b) for a, b, _ in segs0]
    p.split_segment(first.id, 10)
    p.undo_script(audio.id)
    assert p.audio(audio.id).sha256 == sha0
    assert p.script(audio.id).text == SCRIPT
    assert p.script(audio.id).undo_depth == 0
    segs = p.segments(tl.id)
    assert [(s.start, s.end) for s in segs] == [(a, b) for a, b, _ in segs0]
    assert all(s.state == "rendered" for s in segs)
    with pytest.raises(InputError, match="no script edit to undo"):
        p.undo_script(audio.id)


def test_plain_audio_has_no_script(project):
    a = project.audio_tracks()[0]
    assert not project.has_script(a.id)
    with pytest.raises(InputError, match="not made from a script"):
        project.edit_script(a.id, "Hello.")
