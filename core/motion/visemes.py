"""Articulation targets per viseme class: how far each mouth shape opens, spreads, dominates.

Why a table of targets and not a learned model: the planner must be instant, deterministic
and explainable (a user who sees a wrong mouth shape can map it to a phone). The numbers
are inner-lip gaps in face-height units (brow line to chin), read off reference video of
English speech; `dominance` says how strongly a class resists its neighbours during
coarticulation (closures and labiodentals must be reached, vowels bend to context).
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
    "RR": (0.045, -0.10, 0.9),
    "aa": (0.110, 0.05, 1.0),
    "E": (0.078, 0.10, 1.0),
    "ih": (0.055, 0.09, 1.0),
    "oh": (0.088, -0.16, 1.0),
    "ou": (0.045, -0.26, 1.1),
}
MAX_OPEN = max(t[0] for t in TARGETS.values())


def target_arrays(names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(open [V], width [V], dominance [V]) in the order of `names` (unknown -> silence)."""
    rows = [TARGETS.get(n, TARGETS["sil"]) for n in names]
    arr = np.asarray(rows, dtype=np.float64)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def viseme_names() -> list[str]:
    """The class list of core.audio (index 0 = silence)."""
    from core.audio.visemes import VISEMES

    return list(VISEMES)
