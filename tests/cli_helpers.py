"""Driving the CLI in-process from tests: `run` returns (exit code, stdout, stderr); `ok`
asserts success; `bad` asserts the house rule for bad input (exit 2 and exactly one
`error: ...` line on stderr) and returns that line."""

from __future__ import annotations

from studio.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys, *argv) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return out


def bad(capsys, *argv, match: str = "") -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert match in lines[0], lines[0]
    return lines[0]
