"""A preset carries an emotion with its intensity (migration 0004): it round-trips through
the db and the CLI, wins over the prompt's words, loses to a segment's own expression, and
changes the planned brows and mouth corners of the timeline it is the default of."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from core.errors import InputError
from core.types import Expression
from studio.db import migrate
from studio.db.session import make_engine
from studio.project import Project
from tests.cli_helpers import bad, ok


def test_cli_round_trip_and_validation(capsys, project_dir):
    P = ("--project", project_dir)
    out = ok(capsys, "preset", "add", "glad", "--emotion", "happy", "--intensity", "0.9", *P)
    assert "emotion=happy intensity=0.90" in out
    out = ok(capsys, "preset", "edit", "glad", "--emotion", "Sad", "--gaze", "0.4",
             "--expressiveness", "1.5", *P)
    assert "emotion=sad" in out and "gaze=0.40" in out and "expressiveness=1.50" in out
    bad(capsys, "preset", "add", "x", "--emotion", "bored", *P, match="--emotion")
    bad(capsys, "preset", "add", "x", "--intensity", "3", *P, match="intensity")
    with Project.open(project_dir) as p:
        e = p.find_preset("glad").expression
        assert (e.emotion, e.intensity, e.gaze, e.expressiveness) == ("sad", 0.9, 0.4, 1.5)
        with pytest.raises(InputError, match="emotion"):
            p.update_preset(p.find_preset("glad").id, emotion="bored")


def test_preset_emotion_changes_the_planned_face(project, tmp_path):
    tl = project.timeline()
    neutral = project.base_motion(tl.id)
    frame = tl.n_frames // 2
    still = project.preview_frame(tl.id, frame)
    p = project.add_preset("glad", prompt="a sad man",
                           expression=Expression(emotion="happy", intensity=1.0))
    project.update_timeline(tl.id, preset_id=p.id)
    happy = project.base_motion(tl.id)
    # the preset's own emotion wins over the prompt's word "sad"
    seg = project.segments(tl.id)[0]
    assert project.render_plan(seg.id).expression.emotion == "happy"
    assert happy.smile.mean() > neutral.smile.mean() + 0.5  # mouth corners up
    assert happy.brows.mean() > neutral.brows.mean() + 0.05
    # the landmarks (what the renderer warps to) move: mouth corners rise, and the
    # rendered frame changes
    assert np.abs(happy.landmarks - neutral.landmarks).max() > 1.0
    smiling = project.preview_frame(tl.id, frame)
    assert np.abs(smiling.astype(int) - still.astype(int)).mean() > 1.0
    project.update_preset(p.id, emotion="angry")
    angry = project.base_motion(tl.id)
    assert angry.brows.mean() < neutral.brows.mean() - 0.3
    # a bundle carries the preset's emotion
    from studio.bundle import export_bundle, import_bundle

    copy = import_bundle(export_bundle(project, tmp_path / "b.zip"), tmp_path / "copy")
    with Project.open(copy) as c:
        e = c.find_preset("glad").expression
        assert (e.emotion, e.intensity) == ("angry", 1.0)
    # a segment's own expression overrides the preset
    project.set_segment_overrides(seg.id, expression=Expression(emotion="surprised"))
    assert project.render_plan(seg.id).expression.emotion == "surprised"
    # a neutral preset leaves the prompt's words in charge
    project.update_preset(p.id, expression=Expression())
    assert project.render_plan(project.segments(tl.id)[1].id).expression.emotion == "sad"


def test_old_project_opens_with_neutral_presets(tmp_path):
    """A db at revision 0003 with a preset upgrades: its preset reads as before (neutral,
    default intensity) and takes an emotion afterwards."""
    from alembic import command

    folder = tmp_path / "old"
    with Project.create(folder, name="old"):
        pass
    db = folder / "project.db"
    engine = make_engine(db)
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0003")
    engine.dispose()
    con = sqlite3.connect(db)
    assert "emotion" not in [r[1] for r in con.execute("PRAGMA table_info(presets)")]
    con.execute("INSERT INTO presets (name, prompt, negative_prompt, strength, smile, brows, "
                "head_motion, blink_rate, created) VALUES ('old', 'smiling', '', 1, 0.3, 0, "
                "1.2, 1, 0)")
    con.commit()
    con.close()
    with Project.open(folder) as p:
        (info,) = p.presets()
        assert info.expression == Expression(smile=0.3, head_motion=1.2)
        p.update_preset(info.id, emotion="fearful", intensity=0.5)
    with Project.open(folder) as p:
        e = p.find_preset("old").expression
        assert (e.emotion, e.intensity, e.smile) == ("fearful", 0.5, 0.3)
