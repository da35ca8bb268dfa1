"""Script tracks: typed words -> neural speech track; editing one sentence re-synthesises
and re-renders only what it touches; undo restores (real Piper/espeak synthesis, real
warp renders at 256 px)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core.errors import InputError
from studio import runner
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


@pytest.fixture
def scripted(project_dir):
    _tts_or_skip()
    p = Project.open(project_dir)
    try:
        audio = p.add_script(SCRIPT)
        tl = p.new_timeline(p.portraits()[0].id, audio.id, size=256)
        p.enqueue(tl.id)
        runner.run_jobs(p, p.engine_host)
        yield p, audio, tl
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


def test_edit_one_sentence_rerenders_only_what_it_touches(scripted):
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
    from tests.studio.conftest import CountingEngine

    counting = CountingEngine(p.engine_host.get("warp"))
    p.engine_host._engines = {k: counting for k in getattr(p.engine_host, "_engines", {})}
    p.enqueue(tl.id)
    runner.run_jobs(p, p.engine_host)
    assert all(s.state == "rendered" for s in p.segments(tl.id))


def test_undo_restores_script_audio_and_renders(scripted):
    p, audio, tl = scripted
    sha0 = p.audio(audio.id).sha256
    segs0 = [(s.start, s.end, s.render_path) for s in p.segments(tl.id)]
    p.edit_script(audio.id, EDITED)
    assert p.script(audio.id).undo_depth == 1
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
