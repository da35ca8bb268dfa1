"""Messages in the studio's own words.

The layers below speak to the command line (`--weights DIR`, an environment variable,
`project new`) or name libraries (Pillow). The window translates those few phrases into
where the user can act in the GUI; anything not recognised passes through unchanged.
"""

from __future__ import annotations

import re

MODEL_FOLDER_HINT = "choose a model folder in Settings ▸ Model folder"

_RULES: tuple[tuple[re.Pattern, str], ...] = (
    # the diffusion engine without weights (CLI wording: --weights / env variable)
    (re.compile(r"no weights folder configured[^;]*?(\(create a tiny[^)]*\))?$", re.S),
     "the diffusion engine needs model weights: " + MODEL_FOLDER_HINT),
    (re.compile(r"pass --weights DIR or set \w+"), MODEL_FOLDER_HINT),
    (re.compile(r"\s*\(create a tiny test folder with `[^`]*`\)"), ""),
    (re.compile(r"create one with 'project new'"),
     "use File ▸ New project to create one"),
    (re.compile(r"not an image Pillow can read"), "not an image this app can read"),
    (re.compile(r"\bPillow\b"), "the image reader"),
)


def friendly(message: str) -> str:
    """`message` with CLI- and library-speak replaced by GUI words."""
    out = str(message)
    for pattern, replacement in _RULES:
        out = pattern.sub(replacement, out)
    return out


def engine_hint(name: str, ok: bool, reason: str) -> str:
    """One short line for an engine choice: empty when usable without remarks."""
    if ok:
        return friendly(reason)
    return friendly(reason) if reason else f"the {name} engine is not available"
