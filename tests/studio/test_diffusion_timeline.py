"""A timeline on the diffusion engine (tiny random weights, CPU): the engine's overlap
(`context_frames`) enters the spec, settings reach the engine through the timeline, and
changing one segment re-renders only that segment. The pictures are meaningless (random
weights); the flow is the real one."""

from __future__ import annotations

import pytest

from core.video import probe
from studio.queue import JobRunner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    from core.diffusion.tiny import write_tiny

    return write_tiny(tmp_path_factory.mktemp("w") / "tiny", with_wav2vec=False)


def test_diffusion_segments(project, samples, tiny_weights, counting_factory):
    aud = project.add_audio(samples / "audio" / "asterisk_hello-world.wav")
    por = project.portraits()[0]
    tl = project.new_timeline(por.id, aud.id, engine="diffusion", size=64,
                              settings={"weights": str(tiny_weights), "steps": 1})
    first = project.segments(tl.id)[0]
    project.split_segment(first.id, first.end // 2)
    a, b = project.segments(tl.id)
    import json

    from studio.engines import engine_traits

    ctx = engine_traits("diffusion", json.dumps(tl.settings, sort_keys=True))[0]
    assert ctx > 0
    assert project.segment_spec(b.id)["context"]["before"] == [max(0, b.start - ctx), b.start]
    project.enqueue(tl.id)
    with JobRunner(project.path, engine_factory=counting_factory) as r:  # one model load
        res = r.run_all()
        assert [x.state for x in res] == ["done", "done"], [x.error for x in res]
        h_a = project.segment(a.id).spec_hash
        project.set_segment_overrides(b.id, seed=11)
        assert project.segment(a.id).state == "rendered"
        assert project.segment(a.id).spec_hash == h_a
        project.enqueue(tl.id)
        r.run_all()
    assert counting_factory.engines[0].calls == [(a.start, a.end), (b.start, b.end),
                                                 (b.start, b.end)]
    out = project.export_video(tl.id)
    info = probe(out)
    assert info["n_frames"] == tl.n_frames and info["width"] == 64
