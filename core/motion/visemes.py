"""Articulation targets per viseme class: how far each mouth shape opens, spreads, dominates.

Why a table of targets and not a learned model: the planner must be instant, deterministic
and explainable (a user who sees a wrong mouth shape can map it to a phone). The numbers
are inner-lip gaps in face-height units (brow line to chin); `dominance` says how strongly a
class resists its neighbours during coarticulation (closures and labiodentals must be
reached, vowels bend to context).

Vowel openings are the peak of a syllable's jaw cycle (core.motion.mouth). Their ratios
follow the jaw-opening order of phonetics (open aa > oh > E > ih, ou; rounded vowels open
the jaw little), their scale VASA-1's widest openings on its own clips: 0.40-0.48 IOD read
by the evaluator (core.evaluate.lipgap), where "aa" at 0.11 (x1.3) gave ours 0.31-0.33.
Consonant openings only matter where a consonant forces the gap (FF); elsewhere the trough
between two syllables stands for the consonants between them.
"""

from __future__ import annotations

import numpy as np

# name: (open, width, dominance)
TARGETS: dict[str, tuple[float, float, float]] = {
    "sil": (0.000, 0.00, 0.6),
    "PP": (0.000, -0.02, 3.0),
    "FF": (0.018, -0.02, 2.0),
    "TH": (0.040, 0.02, 1.2),
    "DD": (0.048, 0.03, 0.8),
    "kk": (0.058, 0.02, 0.6),
    "CH": (0.040, -0.14, 1.2),
    "SS": (0.026, 0.08, 1.0),
    "nn": (0.040, 0.02, 0.7),
    "RR": (0.060, -0.10, 0.9),
    "aa": (0.150, 0.05, 1.0),
    "E": (0.105, 0.10, 1.0),
    "ih": (0.070, 0.09, 1.0),
    "oh": (0.120, -0.16, 1.0),
    "ou": (0.060, -0.26, 1.1),
}
MAX_OPEN = max(t[0] for t in TARGETS.values())

DIP: dict[str, float] = {
    "sil": 0.5,
    "PP": 1.0,
    "FF": 0.85,
    "CH": 0.65,
    "SS": 0.6,
    "TH": 0.5,
    "DD": 0.5,
    "nn": 0.42,
    "kk": 0.36,
    "RR": 0.36,
}
"""How far a consonant pulls the jaw down from the vowels around it (share of their
opening). Lips close only for p/b/m (and the lower lip meets the teeth for f/v); for the
tongue consonants (t d n l s z k g, th, r) the tongue does the work and the jaw stays
fairly open, so they dip the opening by a third to a half. A "sil" inside speech (a
decoder's gap) dips moderately: the gate, not the phone track, closes real pauses.
Vowel classes are absent (no dip: consecutive vowels keep the jaw open)."""
DIP_UNKNOWN = 0.5
"""Dip between two syllables where no phone names the consonants between them."""

REDUCIBLE = frozenset({"AH", "IH", "UH", "ER", "IY", "UW"})
"""Vowels that English reduces in unstressed syllables (schwa, /ɪ/, /ʊ/, r-coloured schwa)."""
REDUCED_S = 0.09
"""A reducible vowel shorter than this, without stress from an alignment, is read as
reduced (the phone loop has no stress; reduced vowels are the short ones)."""
REDUCED_GAIN = 0.5
"""Opening factor of a reduced vowel: the jaw barely moves for a schwa."""
UNSTRESSED_GAIN = 0.8
"""Opening factor of a full vowel an alignment marks unstressed."""


def vowel_gain(label: str, duration: float, stressed: bool, aligned: bool) -> float:
    """Opening factor of one vowel phone by stress and reduction (1 for a stressed or
    long full vowel). The loop's vowels carry no stress: duration decides there."""
    lab = label.upper()
    if stressed:
        return 1.0
    if lab in REDUCIBLE and duration < REDUCED_S:
        return REDUCED_GAIN
    if aligned:
        return REDUCED_GAIN if lab in {"AH", "IH", "ER"} else UNSTRESSED_GAIN
    return 1.0


def target_arrays(names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(open [V], width [V], dominance [V]) in the order of `names` (unknown -> silence)."""
    rows = [TARGETS.get(n, TARGETS["sil"]) for n in names]
    arr = np.asarray(rows, dtype=np.float64)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def viseme_names() -> list[str]:
    """The class list of core.audio (index 0 = silence)."""
    from core.audio.visemes import VISEMES

    return list(VISEMES)
