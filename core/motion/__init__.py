"""Audio -> motion: the planner that turns speech features into per-frame face motion.

`plan(rig, features, expression, seed, segments)` returns a `core.types.MotionTrack`:
mouth, jaw, blinks, gaze, head pose, expression channels and the 68 landmarks they imply
(the structured motion prior every engine consumes). Head motion follows prosody
(core.motion.head), emotions map to channel offsets (core.motion.emotion), and prompt
words map to expression controls (`parse_prompt`, `apply_prompt`). See `core.motion.planner` for the
segment-override contract the timeline relies on.
"""

from core.motion.emotion_words import apply_prompt, parse_prompt
from core.motion.landmarks import RigGeometry, geometry, inner_gap
from core.motion.planner import SegmentControl, fade_weights, plan, plan_geometry

__all__ = [
    "RigGeometry",
    "SegmentControl",
    "apply_prompt",
    "fade_weights",
    "geometry",
    "inner_gap",
    "parse_prompt",
    "plan",
    "plan_geometry",
]
