"""The project's own quality metrics for a rendered talking-head video.

`evaluate(video, portrait, audio=None, transcript=None)` returns a JSON-ready dict of
measures (lip-sync correlation and its z-score against chance, mouth rest in silence,
identity distance, bilabial closure, blinks, landmark jitter, head position, head pose in
degrees (core.evaluate.pose), brow and gaze motion (core.evaluate.eyes), band-passed lip-sync r,
A/V duration difference), each with a target and a pass mark, plus a flat "summary" of the
numbers compared across generators; `format_table` prints it. The measures are
pure functions in `core.evaluate.metrics`; `python main.py evaluate` is the CLI.
"""

from core.evaluate.evaluator import TARGETS, evaluate, format_table

__all__ = ["TARGETS", "evaluate", "format_table"]
