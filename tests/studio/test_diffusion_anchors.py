"""Re-rendering one diffusion segment hands the engine its neighbours' current frames as
anchors (tiny random weights, CPU). The pictures of random weights are meaningless, so the
seam itself is measured in tests/diffusion/test_anchors.py; here: the right frames reach the
engine, and the boundary stays within the frame-to-frame differences of the renders."""

from __future__ import annotations

import numpy as np
import pytest

from core.video import read_frames
from studio.queue import JobRunner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    from core.diffusion.tiny import write_tiny

    return write_tiny(tmp_path_factory.mktemp("w") / "tiny", with_wav2vec=False)


class SpyEngine:
    """The real engine; records each render's range and the anchors it was given."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name
        self.calls: list[tuple[range, dict]] = []

    def available(self):
        return self.inner.available()

    def render(self, request, frames=None, progress=None, cancel=None):
        self.calls.append((frames, dict(request.settings.get("anchors") or {})))
        return self.inner.render(request, frames=frames, progress=progress, cancel=cancel)


def test_rerendered_segment_gets_neighbour_anchors(project, samples, tiny_weights):
    from core import engines

    aud = project.add_audio(samples / "audio" / "asterisk_hello-world.wav")
    por = project.portraits()[0]
    tl = project.new_timeline(por.id, aud.id, engine="diffusion", size=64,
                              settings={"weights": str(tiny_weights), "steps": 2})
    first = project.segments(tl.id)[0]
    project.split_segment(first.id, first.end // 2)
    a, b = project.segments(tl.id)
    spy: list[SpyEngine] = []

    def factory(name):
        spy.append(SpyEngine(engines.create(name)))
        return spy[0]

    project.enqueue(tl.id)
    with JobRunner(project.path, engine_factory=factory) as r:
        assert [x.state for x in r.run_all()] == ["done", "done"]
        project.set_segment_overrides(b.id, seed=11)
        project.enqueue(tl.id)
        assert [x.state for x in r.run_all()] == ["done"]
    o = spy[0].inner.context_frames
    (ra, an_a), (rb1, an_b1), (rb2, an_b2) = spy[0].calls
    assert (ra, rb1, rb2) == (range(a.start, a.end), range(b.start, b.end),
                              range(b.start, b.end))
    assert an_a == {}  # b was not rendered yet
    # b's first render has a's settings: the shared noise already reproduces a's frames,
    # so nothing is anchored; once b's seed differs, a's last O frames anchor it
    assert an_b1 == {}
    frames_a = np.stack(list(read_frames(project.segment(a.id).render_path)))
    assert sorted(an_b2) == list(range(b.start - o, b.start))  # timeline coordinates
    for k, img in an_b2.items():
        np.testing.assert_array_equal(img, frames_a[k - a.start])
    frames_b = np.stack(list(read_frames(project.segment(b.id).render_path)))
    f = np.float32
    inner = np.median(np.concatenate([
        np.abs(np.diff(x.astype(f), axis=0)).mean(axis=(1, 2, 3)) for x in (frames_a, frames_b)]))
    jump = float(np.abs(frames_b[0].astype(f) - frames_a[-1].astype(f)).mean())
    print(f"studio boundary jump {jump:.2f}, median inner difference {inner:.2f}")
    assert jump < 1.5 * inner
