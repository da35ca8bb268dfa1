"""The project's own quality metrics for a rendered talking-head video.

`evaluate(video, portrait, audio=None, transcript=None)` returns a JSON-ready dict of
measures (lip-sync correlation and its z-score against chance, mouth rest in silence,
identity distance, bilabial closure, blinks, landmark jitter, head motion, A/V duration
difference), each with a target and a pass mark; `format_table` prints it. The measures are
pure functions in `core.evaluate.metrics`; `python main.py evaluate` is the CLI.
"""

from core.evaluate.evaluator import TARGETS, evaluate, format_table

__all__ = ["TARGETS", "evaluate", "format_table"]
