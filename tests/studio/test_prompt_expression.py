"""A preset's prompt words reach the CPU engine: "smiling" renders as the happy emotion,
explicit controls win, and words the warp engine cannot use do not re-render."""

from __future__ import annotations

from core.types import Expression


def test_prompt_emotion_words_set_the_render_expression(project):
    tid = project.timeline().id
    segs = project.segments(tid)
    before = [s.spec_hash for s in segs]
    p = project.add_preset("p", prompt="a very sad woman wearing glasses")
    project.set_segment_overrides(segs[0].id, preset_id=p.id)
    plan = project.render_plan(segs[0].id)
    assert plan.expression.emotion == "sad" and plan.expression.intensity == 1.0
    assert plan.spec["segment"]["expression"]["emotion"] == "sad"
    h_sad = project.segments(tid)[0].spec_hash
    assert h_sad != before[0]
    # the stored preset itself is unchanged (the UI edits the controls, not the words)
    assert project.preset(p.id).expression == Expression()
    # words only the diffusion engine uses leave the warp render alone
    project.update_preset(p.id, prompt="a very sad woman wearing a red hat")
    assert project.segments(tid)[0].spec_hash == h_sad
    # an explicit control wins over the words
    q = project.add_preset("q", prompt="calm", expression=Expression(head_motion=1.5))
    project.set_segment_overrides(segs[1].id, preset_id=q.id)
    e = project.render_plan(segs[1].id).expression
    assert e.head_motion == 1.5 and e.expressiveness < 1.0
    # neutral presets keep their old spec (hash-stable spec data for old projects)
    assert set(project.segment_spec(segs[0].id)["base"]["expression"]) == {
        "smile", "brows", "head_motion", "blink_rate"}
