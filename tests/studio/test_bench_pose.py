"""`bench pose`: the warp's geometry at the extreme head poses, on real portraits: no
holes, the background bends less sharply than without its background points, and the
contact sheet shows the portrait at rest and at every pose."""

from __future__ import annotations

import json

import cv2
import numpy as np

from studio.bench import pose as P
from studio.cli import main as cli


def test_quick_bench_measures_and_draws_the_poses(samples, tmp_path, capsys):
    sheets = tmp_path / "sheets"
    assert cli(["bench", "pose", "--quick", "--json", "--sheets", str(sheets)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert len(got["portraits"]) == 2 and got["holes"] == 0
    for name, row in got["portraits"].items():
        assert row["dense"], name
        assert row["far_kink_mean"] < row["far_kink_fan_mean"], (name, row)
        assert 1.0 < row["ear_max"] < 3.0 and 1.0 <= row["behind_ear_max"] < 3.5, (name, row)
        img = cv2.imread(str(sheets / f"pose_{name}.png"))
        assert img is not None and img.shape == (3 * P.SIZE, 3 * P.SIZE, 3)
        tiles = [img[r * P.SIZE:(r + 1) * P.SIZE, c * P.SIZE:(c + 1) * P.SIZE].astype(int)
                 for r in range(3) for c in range(3)]
        rest = tiles[0]
        assert all(np.abs(t[40:] - rest[40:]).mean() > 2 for t in tiles[1:])  # each pose moved
    assert got["far_kink_better"] == "2/2"
