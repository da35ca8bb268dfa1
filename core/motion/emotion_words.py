"""Prompt words the CPU engine understands: "smiling", "very sad", "nodding", "looking away".

Why: a preset's prompt is written for the diffusion engine ("a happy woman wearing glasses"),
but its emotional words also mean something to the warp engine, which has no text encoder.
`parse_prompt` picks those words out and turns them into Expression overrides; the rest
(clothing, lighting, style...) is returned separately so a UI can say which words only the
diffusion engine will use.

Rules: words are matched case-insensitively on whole words (and a few two-word phrases);
"slightly / a bit / somewhat" before a word lowers its intensity to 0.4, "very / really /
extremely / super" raises it to 1.0; "not" / "no" before an emotion word cancels it. When
several emotions are named, the last one wins.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace

from core.types import Expression

# word -> overrides (an emotion sets emotion + intensity; control words set controls)
_EMOTION_WORDS: dict[str, str] = {
    "happy": "happy", "smiling": "happy", "smile": "happy", "smiles": "happy",
    "cheerful": "happy", "joyful": "happy", "glad": "happy", "delighted": "happy",
    "friendly": "happy", "laughing": "happy", "pleased": "happy", "warm": "happy",
    "sad": "sad", "unhappy": "sad", "sorrowful": "sad", "melancholic": "sad",
    "melancholy": "sad", "gloomy": "sad", "upset": "sad", "crying": "sad", "tearful": "sad",
    "depressed": "sad", "disappointed": "sad",
    "surprised": "surprised", "amazed": "surprised", "astonished": "surprised",
    "shocked": "surprised", "startled": "surprised", "excited": "surprised",
    "angry": "angry", "furious": "angry", "mad": "angry", "annoyed": "angry",
    "irritated": "angry", "stern": "angry", "frowning": "angry", "frown": "angry",
    "disgusted": "disgusted", "grossed": "disgusted", "repulsed": "disgusted",
    "contemptuous": "disgusted",
    "fearful": "fearful", "scared": "fearful", "afraid": "fearful", "frightened": "fearful",
    "anxious": "fearful", "nervous": "fearful", "worried": "fearful", "terrified": "fearful",
    "thinking": "thinking", "thoughtful": "thinking", "pensive": "thinking",
    "pondering": "thinking", "contemplative": "thinking", "puzzled": "thinking",
    "neutral": "neutral", "expressionless": "neutral",
}
# control words: overrides of numeric controls (and, for some, an emotion intensity)
_CONTROL_WORDS: dict[str, dict[str, float]] = {
    "serious": {"smile": -0.15, "expressiveness": 0.7},
    "calm": {"head_motion": 0.6, "expressiveness": 0.7},
    "relaxed": {"head_motion": 0.7, "expressiveness": 0.8},
    "still": {"head_motion": 0.15},
    "motionless": {"head_motion": 0.0},
    "animated": {"head_motion": 1.6, "expressiveness": 1.5},
    "lively": {"head_motion": 1.5, "expressiveness": 1.4},
    "energetic": {"head_motion": 1.6, "expressiveness": 1.5},
    "expressive": {"expressiveness": 1.6},
    "nodding": {"head_motion": 1.6},
    "staring": {"gaze": 0.1, "blink_rate": 0.5},
    "focused": {"gaze": 0.4},
    "sleepy": {"blink_rate": 2.0, "head_motion": 0.5},
    "tired": {"blink_rate": 1.8, "head_motion": 0.6},
}
_PHRASES: dict[str, dict[str, float]] = {
    "looking away": {"gaze": 1.9},
    "looking around": {"gaze": 1.8},
    "eye contact": {"gaze": 0.3},
    "looking at the camera": {"gaze": 0.3},
    "raised eyebrows": {"brows": 0.6},
    "raised brows": {"brows": 0.6},
    "shaking head": {"head_motion": 1.7},
}
_EXCITED_EXTRA = {"head_motion": 1.5, "expressiveness": 1.5}
_SOFT = {"slightly", "somewhat", "mildly", "little", "bit", "faintly", "gently"}
_STRONG = {"very", "really", "extremely", "super", "highly", "deeply", "so", "quite"}
_NEGATE = {"not", "no", "never", "without"}
_MODS = _SOFT | _STRONG | _NEGATE
DEFAULT_INTENSITY = 0.7
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _scale_for(prev: list[str]) -> float:
    """Intensity multiplier from the (up to two) words before a keyword."""
    if any(p in _STRONG for p in prev):
        return 1.0 / DEFAULT_INTENSITY
    if any(p in _SOFT for p in prev):
        return 0.4 / DEFAULT_INTENSITY
    return 1.0


def _scaled(overrides: dict[str, float], k: float) -> dict[str, float]:
    """Scale control offsets from their defaults by k (slightly -> smaller change)."""
    base = Expression()
    return {n: getattr(base, n) + (v - getattr(base, n)) * k for n, v in overrides.items()}


def parse_prompt(prompt: str | None) -> tuple[dict, list[str], list[str]]:
    """(Expression overrides, understood words, other words) of a free-text prompt.

    Overrides are a dict of Expression field -> value (already inside the ranges after
    `Expression.clamped()`); understood words are the prompt's words the CPU engine acts on
    (with their modifiers, e.g. "very sad"); other words are left for the diffusion engine.
    """
    text = (prompt or "").lower()
    words = _WORD.findall(text)
    out: dict = {}
    understood: list[str] = []
    used = [False] * len(words)
    # two- and more-word phrases first
    for phrase, ov in _PHRASES.items():
        parts = phrase.split()
        for i in range(len(words) - len(parts) + 1):
            if words[i : i + len(parts)] == parts and not any(used[i : i + len(parts)]):
                out.update(ov)
                understood.append(phrase)
                for j in range(i, i + len(parts)):
                    used[j] = True
    for i, w in enumerate(words):
        if used[i]:
            continue
        # the run of modifiers right before the word ("very", "not", "a bit"), at most 3
        j = i
        while j > 0 and i - j < 3 and not used[j - 1] and (
            words[j - 1] in _MODS or (words[j - 1] == "a" and j < i and words[j] in _SOFT)
        ):
            j -= 1
        mods = words[j:i]
        k = _scale_for(mods)
        negated = any(m in _NEGATE for m in mods)
        label = " ".join([*mods, w])
        if w in _EMOTION_WORDS or w in _CONTROL_WORDS:
            for m in range(j, i):
                used[m] = True
        if w in _EMOTION_WORDS:
            used[i] = True
            if negated:
                understood.append(label)
                if out.get("emotion") == _EMOTION_WORDS[w]:
                    out.pop("emotion", None)
                    out.pop("intensity", None)
                continue
            out["emotion"] = _EMOTION_WORDS[w]
            out["intensity"] = min(1.0, DEFAULT_INTENSITY * k)
            if w == "excited":
                out.update(_scaled(_EXCITED_EXTRA, min(k, 1.2)))
            understood.append(label)
        elif w in _CONTROL_WORDS:
            used[i] = True
            understood.append(label)
            if not negated:
                out.update(_scaled(_CONTROL_WORDS[w], min(k, 1.3)))
    other = [w for w, u in zip(words, used, strict=True) if not u]
    clamped = replace(Expression(), **out).clamped() if out else Expression()
    return {k: getattr(clamped, k) for k in out}, understood, other


_FIELDS = tuple(f.name for f in fields(Expression))


def apply_prompt(expression: Expression, prompt: str | None) -> Expression:
    """`expression` with the prompt's emotion words applied where the expression leaves a
    control at its default (explicit controls win over words)."""
    overrides, _, _ = parse_prompt(prompt)
    if not overrides:
        return expression
    base = Expression()
    keep = {k: v for k, v in overrides.items() if getattr(expression, k) == getattr(base, k)}
    if "emotion" in overrides and "emotion" not in keep:
        keep.pop("intensity", None)  # the user chose an emotion: the words' strength is moot
    return replace(expression, **keep).clamped() if keep else expression
