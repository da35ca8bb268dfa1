"""`bench script`: edit one sentence of a ~60 s script track and count what re-renders.

A project with the demo portrait and a script track (the bundled neural voice), one warp
timeline at 256 px, rendered in full; then one sentence in the middle is rewritten. The
number that matters: engine calls after the edit / segments the edited sentence touches
(segments overlapping its new audio span) - the target is <= 1.3. Also reported: the
time of the edit itself (synthesis of one sentence, splice, re-analysis, re-layout) and
whether the audio before the edit is bit-identical and after it the same samples shifted.
"""

from __future__ import annotations

import time

import numpy as np

SENTENCES = [
    "Good morning, and welcome to this short tour of the garden.",
    "We start at the gate, where the roses climb over the old stone wall.",
    "Every spring they bloom in deep red and soft pink.",
    "To the left you can see the vegetable beds.",
    "Tomatoes, beans and squash grow there all summer long.",
    "The gardener waters them early in the morning, before the heat.",
    "Further along, the path leads to a small pond.",
    "Frogs live among the reeds, and dragonflies hover above the water.",
    "Children love to sit on the bench and watch them.",
    "Behind the pond stands an apple tree that is more than eighty years old.",
    "In autumn its branches bend under the weight of the fruit.",
    "We press the apples into juice and share it with the neighbours.",
    "Next to the tree there is a greenhouse full of herbs.",
    "Basil, thyme and mint fill the air with their scent.",
    "The last stop is the compost corner, the quiet engine of the garden.",
    "Thank you for walking with us today.",
]
EDIT_AT = 8
EDITED = "Children and grandparents love to sit on the wooden bench and watch them for hours."


def run(quick: bool = False) -> dict:
    import soundfile as sf

    from studio import runner
    from studio.bench.common import demo_inputs, tmpdir
    from studio.engines import EngineHost
    from studio.project import Project

    sents = SENTENCES[:8] if quick else SENTENCES
    at = min(EDIT_AT, len(sents) - 2)
    calls: list[tuple[int, int]] = []

    def factory(name: str):
        from core import engines

        inner = engines.create(name)

        class Counting:
            def __init__(self):
                self.name = inner.name

            def available(self):
                return inner.available()

            def render(self, request, frames=None, progress=None, cancel=None):
                calls.append((frames.start, frames.stop))
                return inner.render(request, frames=frames, progress=progress, cancel=cancel)

        return Counting()

    with tmpdir() as tmp:
        from pathlib import Path

        portrait, _, _ = demo_inputs(Path(tmp))
        with Project.create(Path(tmp) / "proj", name="bench") as p:
            p.use_engine_host(EngineHost(factory=factory))
            t0 = time.perf_counter()
            audio = p.add_script(" ".join(sents))
            t_add = time.perf_counter() - t0
            por = p.add_portrait(portrait)
            tl = p.new_timeline(por.id, audio.id, size=256)
            p.enqueue(tl.id)
            t0 = time.perf_counter()
            runner.run_jobs(p, p.engine_host)
            t_full = time.perf_counter() - t0
            n_full = len(calls)
            old_pcm, sr = sf.read(p.audio(audio.id).path, dtype="int16")
            old = p.script(audio.id)
            calls.clear()
            text = " ".join(EDITED if i == at else s for i, s in enumerate(sents))
            t0 = time.perf_counter()
            edit = p.edit_script(audio.id, text)
            t_edit = time.perf_counter() - t0
            new = p.script(audio.id)
            segs = p.segments(tl.id)
            e0, e1 = new.sentences[at].start * tl.fps, new.sentences[at].end * tl.fps
            touched = [s for s in segs if s.start < e1 and s.end > e0]
            stale = [(s.start, s.end) for s in segs if s.state != "rendered"]
            p.enqueue(tl.id)
            t0 = time.perf_counter()
            runner.run_jobs(p, p.engine_host)
            t_rerender = time.perf_counter() - t0
            new_pcm, _ = sf.read(p.audio(audio.id).path, dtype="int16")
            a = int(round(old.sentences[at].start * sr))
            b_old = int(round(old.sentences[at + 1].start * sr))
            b_new = int(round(new.sentences[at + 1].start * sr))
            return {
                "script_seconds": round(old.sentences[-1].end, 2),
                "segments": len(segs),
                "segments_rendered_first": n_full,
                "segments_touched_by_edit": len(touched),
                "engine_calls_after_edit": len(calls),
                "ratio_calls_to_touched": round(len(calls) / max(1, len(touched)), 2),
                "sentences_resynthesised": len(edit.changed),
                "edited_sentence_frames": f"{e0:.0f}-{e1:.0f}",
                "stale_segments": " ".join(f"{a}-{b}" for a, b in stale),
                "shift_s": round(edit.shift_s, 3),
                "audio_before_edit_identical": bool(np.array_equal(old_pcm[:a], new_pcm[:a])),
                "audio_after_edit_shifted": bool(np.array_equal(old_pcm[b_old:],
                                                                new_pcm[b_new:])),
                "add_script_s": round(t_add, 2),
                "edit_s": round(t_edit, 2),
                "render_all_s": round(t_full, 2),
                "rerender_s": round(t_rerender, 2),
            }
