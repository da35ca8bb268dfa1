"""What each emotion does to the face and the head: one table of offsets at intensity 1.

Why offsets on a few channels and not whole expressions: the planner adds them to the
speech-driven motion, so a sad face still speaks, blinks and nods (only lower, slower and
looking down), and a segment's emotion fades in and out with the same per-frame weights as
every other override. The channel shapes follow the Facial Action Coding System's
prototypes (Ekman & Friesen): happy = AU6+12 (cheek raise, lip corners up), sad = AU1+4+15
(inner brows up, corners down), surprise = AU1+2+5 (brows up, upper lids up), anger =
AU4+5+7+23 (brows down and together, lids tight, lips pressed), disgust = AU9+10 (nose
wrinkle, upper lip up), fear = AU1+2+4+5+20 (raised knit brows, wide eyes, lips stretched).
Head carriage: sad looks down, angry drops the chin, surprised lifts it, happy tilts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.types import EMOTIONS, Expression


@dataclass(frozen=True)
class EmotionProfile:
    """Offsets at intensity 1 (channel units as in core.types.MotionTrack)."""

    smile: float = 0.0
    brows: float = 0.0
    brow_inner: float = 0.0
    lids: float = 0.0
    mouth_width: float = 0.0
    sneer: float = 0.0
    pitch: float = 0.0  # degrees, + = looking down
    yaw: float = 0.0
    roll: float = 0.0
    gaze_x: float = 0.0  # eye-width units
    gaze_y: float = 0.0  # + = down
    dynamics: float = 1.0  # head-motion and face-dynamics multiplier
    blink: float = 1.0  # blink-rate multiplier


PROFILES: dict[str, EmotionProfile] = {
    "neutral": EmotionProfile(),
    "happy": EmotionProfile(
        smile=0.85, brows=0.12, lids=-0.2, mouth_width=0.06, pitch=-1.5, roll=2.5, dynamics=1.3
    ),
    "sad": EmotionProfile(
        smile=-0.55, brows=-0.15, brow_inner=0.8, lids=-0.35, mouth_width=-0.03, pitch=6.0,
        roll=-1.5, gaze_y=0.05, dynamics=0.55, blink=1.2,
    ),
    "surprised": EmotionProfile(
        brows=1.0, brow_inner=0.2, lids=0.7, mouth_width=-0.06, pitch=-3.5, dynamics=1.35,
        blink=0.7,
    ),
    "angry": EmotionProfile(
        smile=-0.3, brows=-0.9, brow_inner=-0.7, lids=-0.5, mouth_width=-0.05, pitch=3.5,
        dynamics=1.1, blink=0.8,
    ),
    "disgusted": EmotionProfile(
        smile=-0.4, brows=-0.45, brow_inner=-0.35, lids=-0.35, sneer=0.9, pitch=-1.5, yaw=2.5,
        roll=-2.0, dynamics=0.9,
    ),
    "fearful": EmotionProfile(
        smile=-0.25, brows=0.55, brow_inner=0.8, lids=0.6, mouth_width=0.1, pitch=1.5,
        dynamics=1.15, blink=1.3,
    ),
    "thinking": EmotionProfile(
        smile=-0.1, brows=-0.25, brow_inner=0.3, lids=-0.2, mouth_width=-0.06, pitch=-2.5,
        yaw=4.0, roll=3.0, gaze_x=0.09, gaze_y=-0.06, dynamics=0.7,
    ),
}
assert set(PROFILES) == set(EMOTIONS), "every emotion name needs a profile"

OFFSET_CHANNELS = (
    "smile", "brows", "brow_inner", "lids", "mouth_width", "sneer",
    "pitch", "yaw", "roll", "gaze_x", "gaze_y",
)


def offsets(ex: Expression) -> dict[str, float]:
    """Channel offsets of an expression's emotion at its intensity (neutral -> zeros)."""
    p = PROFILES.get(ex.emotion, PROFILES["neutral"])
    k = float(np.clip(ex.intensity, 0, 1))
    return {c: getattr(p, c) * k for c in OFFSET_CHANNELS}


def dynamics(ex: Expression) -> float:
    """Motion multiplier of the emotion (1 at neutral or intensity 0)."""
    p = PROFILES.get(ex.emotion, PROFILES["neutral"])
    return 1.0 + (p.dynamics - 1.0) * float(np.clip(ex.intensity, 0, 1))


def blink_factor(ex: Expression) -> float:
    p = PROFILES.get(ex.emotion, PROFILES["neutral"])
    return 1.0 + (p.blink - 1.0) * float(np.clip(ex.intensity, 0, 1))
