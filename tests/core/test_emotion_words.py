"""core.motion.emotion_words: prompt words -> Expression overrides, and the ranges table."""

from __future__ import annotations

import pytest

from core.motion.emotion_words import apply_prompt, parse_prompt
from core.types import EMOTIONS, EXPRESSION_RANGES, Expression, check_expression_value


@pytest.mark.parametrize(
    ("prompt", "emotion", "intensity"),
    [
        ("a smiling woman wearing glasses", "happy", 0.7),
        ("Cheerful presenter", "happy", 0.7),
        ("very sad", "sad", 1.0),
        ("slightly angry man in a suit", "angry", 0.4),
        ("a bit surprised", "surprised", 0.4),
        ("FURIOUS!", "angry", 0.7),
        ("scared child", "fearful", 0.7),
        ("thoughtful professor", "thinking", 0.7),
        ("disgusted", "disgusted", 0.7),
        ("happy at first... then sad", "sad", 0.7),  # the last emotion wins
    ],
)
def test_emotion_words(prompt, emotion, intensity):
    ov, understood, other = parse_prompt(prompt)
    assert ov["emotion"] == emotion and ov["intensity"] == pytest.approx(intensity)
    assert understood
    assert emotion in EMOTIONS


def test_understood_and_other_words_split():
    ov, understood, other = parse_prompt("A very happy woman wearing glasses, looking away")
    assert understood == ["looking away", "very happy"]
    assert other == ["a", "woman", "wearing", "glasses"]
    assert ov["gaze"] > 1.5
    ov, understood, other = parse_prompt("oil painting, golden hour light")
    assert ov == {} and understood == []
    assert other == ["oil", "painting", "golden", "hour", "light"]
    assert parse_prompt("") == ({}, [], [])
    assert parse_prompt(None) == ({}, [], [])


def test_control_words_and_negation():
    ov, understood, _ = parse_prompt("calm and serious, nodding")
    assert ov["head_motion"] > 1.0  # "nodding" comes last and wins over "calm"
    assert ov["expressiveness"] < 1.0 and ov["smile"] < 0
    assert understood == ["calm", "serious", "nodding"]
    ov, understood, other = parse_prompt("not happy")
    assert "emotion" not in ov and understood == ["not happy"] and other == []
    ov, _, _ = parse_prompt("happy, not sad")
    assert ov["emotion"] == "happy"
    ov, _, _ = parse_prompt("excited")
    assert ov["emotion"] == "surprised" and ov["head_motion"] > 1.2
    soft, _, _ = parse_prompt("slightly calm")
    full, _, _ = parse_prompt("calm")
    assert 1.0 > soft["head_motion"] > full["head_motion"]


def test_overrides_stay_in_range():
    for prompt in ("extremely animated lively energetic nodding", "very sleepy motionless"):
        ov, _, _ = parse_prompt(prompt)
        for k, v in ov.items():
            check_expression_value(k, v)


def test_apply_prompt_explicit_controls_win():
    ex = apply_prompt(Expression(), "a smiling, calm woman")
    assert ex.emotion == "happy" and ex.head_motion < 1.0
    kept = apply_prompt(Expression(emotion="sad", intensity=0.3, head_motion=1.4), "very happy, calm")
    assert kept.emotion == "sad" and kept.intensity == 0.3 and kept.head_motion == 1.4
    assert apply_prompt(Expression(smile=0.2), "wearing a hat") == Expression(smile=0.2)


def test_ranges_table_and_clamping():
    d = Expression()
    for name, r in EXPRESSION_RANGES.items():
        assert r.min < r.max and r.min <= r.default <= r.max and r.label
        assert getattr(d, name) == r.default
        check_expression_value(name, r.min)
        with pytest.raises(ValueError, match=name):
            check_expression_value(name, r.max + 1)
    with pytest.raises(ValueError, match="emotion"):
        check_expression_value("emotion", "joyous")
    with pytest.raises(ValueError, match="number"):
        check_expression_value("gaze", "lots")
    c = Expression(smile=3, intensity=-1, gaze=9, emotion="joyous",
                   expressiveness=float("nan")).clamped()
    assert (c.smile, c.intensity, c.gaze, c.emotion, c.expressiveness) == (1, 0, 2, "neutral", 1)
