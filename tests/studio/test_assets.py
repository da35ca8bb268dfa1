"""Importing assets: validated by core, content-addressed, deduplicated, all-or-nothing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.errors import InputError
from studio.project import Project


def _media(p: Project) -> list[str]:
    return sorted(f.name for f in (p.path / "media").iterdir())


def test_import_dedup_and_cache(project, samples):
    before = _media(project)
    again = project.add_portrait(samples / "portraits" / "hallo_2.jpg", name="again")
    assert again.id == project.portraits()[0].id  # same content -> same portrait
    assert _media(project) == before
    a2 = project.add_audio(samples / "audio" / "hallo_1.wav")
    assert a2.id == project.audio_tracks()[0].id
    info = project.portraits()[0]
    assert info.path.name == f"{info.sha256}.jpg" and info.path.is_file()
    assert (info.width, info.height) == (441, 441)
    aud = project.audio_tracks()[0]
    assert aud.duration == pytest.approx(7.5, abs=0.05)
    # the rig comes from the cache (same object type, no recomputation needed)
    rig = project.portrait_rig(info.id)
    assert rig.landmarks.shape == (68, 2)


def test_new_asset_and_remove(project, samples):
    por = project.add_portrait(samples / "portraits" / "hallo_5.jpg")
    assert por.path.is_file()
    assert len(project.portraits()) == 2
    project.remove_portrait(por.id)
    assert not por.path.exists() and len(project.portraits()) == 1
    # in use by the timeline: refused
    with pytest.raises(InputError, match="used by"):
        project.remove_portrait(project.portraits()[0].id)


@pytest.mark.parametrize("kind", ["text_as_image", "no_face", "bad_audio", "missing"])
def test_failed_import_leaves_nothing(project, tmp_path, kind):
    media_before = _media(project)
    rows_before = (len(project.portraits()), len(project.audio_tracks()))
    if kind == "text_as_image":
        f = tmp_path / "x.jpg"
        f.write_text("not an image")
        call = project.add_portrait
    elif kind == "no_face":
        f = tmp_path / "sky.png"
        Image.fromarray(np.full((300, 300, 3), (90, 140, 220), np.uint8)).save(f)
        call = project.add_portrait
    elif kind == "bad_audio":
        f = tmp_path / "x.wav"
        f.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 10)
        call = project.add_audio
    else:
        f = tmp_path / "nothing.wav"
        call = project.add_audio
    with pytest.raises(InputError) as err:
        call(f)
    assert str(f) in str(err.value) and "\n" not in str(err.value)
    assert _media(project) == media_before
    assert (len(project.portraits()), len(project.audio_tracks())) == rows_before


def test_landmarks_and_transcript(project):
    from core.face import detect_landmarks

    pid = project.portraits()[0].id
    tid = project.timeline().id
    h0 = project.segments(tid)[0].spec_hash
    with pytest.raises(InputError, match="68 or 5"):
        project.set_portrait_landmarks(pid, np.zeros((3, 2)))
    pts = detect_landmarks(project.portrait_image(pid))  # [68, 2] in image pixels
    project.set_portrait_landmarks(pid, pts)
    assert project.portrait(pid).has_landmarks
    assert project.portrait_rig(pid).source.startswith("user")
    h1 = project.segments(tid)[0].spec_hash
    assert h1 != h0  # landmarks are part of the spec
    project.set_portrait_landmarks(pid, None)
    assert project.segments(tid)[0].spec_hash == h0
    project.set_transcript(project.audio_tracks()[0].id, "hello there")
    assert project.audio_tracks()[0].transcript == "hello there"
    assert project.segments(tid)[0].spec_hash != h0  # the transcript is part of it too


def test_remove_timeline_then_assets(project):
    from studio.queue import JobRunner

    tl = project.timeline()
    project.enqueue(tl.id)
    with JobRunner(project.path) as r:
        r.run_all()
    files = [s.render_path for s in project.segments(tl.id)]
    assert all(f.is_file() for f in files)
    assert project.clear_finished_jobs() == len(files)
    project.remove_timeline(tl.id)
    assert project.timelines() == [] and project.renders() == []
    assert not any(f.exists() for f in files)
    por, aud = project.portraits()[0], project.audio_tracks()[0]
    project.remove_audio(aud.id)
    project.remove_portrait(por.id)
    assert not por.path.exists() and not aud.path.exists()
    assert list((project.path / "media").iterdir()) == []
    with pytest.raises(InputError, match="no timeline yet"):
        project.timeline()
    project.rename("renamed")
    assert project.name == "renamed"
