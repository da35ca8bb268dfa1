"""`render --emotion/--intensity/--expressiveness/--gaze`: validated from core.types'
ranges table (one line, exit 2, no file), and a valid emotion renders."""

from __future__ import annotations

import pytest

from tests.test_cli_render import assert_refused, render_args, run_cli


@pytest.fixture(scope="module")
def portrait(samples):
    return samples / "portraits" / "hallo_3.jpg"


@pytest.fixture(scope="module")
def speech(samples):
    return samples / "audio" / "asterisk_hello-world.wav"


@pytest.mark.parametrize(
    "extra,words",
    [
        (["--emotion", "joyous"], ["--emotion", "joyous", "happy"]),
        (["--intensity", "1.5"], ["--intensity", "0 to 1"]),
        (["--expressiveness", "-1"], ["--expressiveness", "0 to 2"]),
        (["--gaze", "nan"], ["--gaze"]),
    ],
)
def test_bad_expression_flags_refused(tmp_path, portrait, speech, capsys, extra, words):
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(render_args(portrait, speech, out, *extra), capsys)
    assert_refused(code, err, out, *words)


def test_emotion_renders(tmp_path, portrait, speech, capsys):
    out = tmp_path / "sad.mp4"
    code, stdout, err = run_cli(
        render_args(portrait, speech, out, "--emotion", "sad", "--intensity", "0.8"), capsys
    )
    assert code == 0, err
    assert out.is_file() and out.stat().st_size > 1000
