"""The studio's one engine host: the only place engines are constructed and cached.

Why one host: engines load models (seconds, gigabytes), so the queue, the preview, the
expression preview and export must share them and build them with the same options (the
app's engine settings merged with the timeline's). The registry is core.engines'
(`names`, `create`); nothing here keeps a second list of engine classes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from core.errors import InputError


@dataclass(frozen=True)
class EngineOptions:
    """Typed engine options (app settings or a timeline's `settings`).

    Only the keys an engine reads; `extra` keeps any other key of a stored timeline so
    nothing a project carries is lost (and the spec hash of old renders stays the same)."""

    weights: str | None = None
    device: str | None = None
    dtype: str | None = None
    steps: int | None = None
    guidance: float | None = None
    text_scale: float | None = None
    extra: tuple[tuple[str, object], ...] = field(default=())

    KNOWN = ("weights", "device", "dtype", "steps", "guidance", "text_scale")

    @classmethod
    def from_dict(cls, d: dict | None) -> EngineOptions:
        d = dict(d or {})
        known = {k: d.pop(k) for k in cls.KNOWN if k in d}
        return cls(**known, extra=tuple(sorted(d.items())))

    def as_dict(self) -> dict:
        """The options as keyword arguments for an engine (None values left out)."""
        out = {k: getattr(self, k) for k in self.KNOWN if getattr(self, k) is not None}
        out.update(dict(self.extra))
        return out

    def merged(self, over: EngineOptions | dict | None) -> EngineOptions:
        """These options with `over`'s set values on top."""
        if over is None:
            return self
        other = over.as_dict() if isinstance(over, EngineOptions) else dict(over)
        return EngineOptions.from_dict({**self.as_dict(), **other})


def names() -> list[str]:
    """Engine names known to core's registry."""
    from core import engines

    return engines.names()


def check_name(name: str) -> str:
    """`name` if core's registry knows it, else InputError listing the known ones."""
    known = names()
    if name not in known:
        raise InputError(None, f"unknown engine '{name}' (known: {', '.join(known)})")
    return name


def create(name: str, options: EngineOptions | dict | None = None):
    """A new engine from core's registry (prefer `EngineHost.get`, which caches)."""
    from core import engines

    opts = options.as_dict() if isinstance(options, EngineOptions) else dict(options or {})
    return engines.create(name, **opts)


@lru_cache(maxsize=64)
def engine_traits(name: str, settings_json: str = "{}") -> tuple[int, bool]:
    """(context_frames, uses_text) of engine `name` with the timeline's settings (JSON).

    context_frames: frames of neighbour context its render of a range depends on (0 = none);
    read from an engine built with the settings (engines load no weights in their
    constructor). uses_text: whether prompts affect its frames (warp ignores them).
    """
    default_text = name != "warp"
    try:
        settings = json.loads(settings_json or "{}")
        try:
            eng = create(name, settings)
        except Exception:
            eng = create(name)
    except Exception:  # engine not buildable here: it cannot render either
        return 0, default_text
    ctx = getattr(eng, "context_frames", 0)
    ctx = int(ctx) if isinstance(ctx, int | float) else 0
    return max(0, ctx), bool(getattr(eng, "uses_text", default_text))


class EngineHost:
    """Builds each engine once per (name, options) and hands out the same instance.

    `app_options`: the app's engine settings (device, default weights folder...), under
    the timeline's own settings. `factory(name)`: tests and the GUI may supply their own
    constructor; then one instance per name. Thread-safe."""

    def __init__(self, app_options: EngineOptions | dict | None = None,
                 factory: Callable[[str], object] | None = None):
        self.app_options = (app_options if isinstance(app_options, EngineOptions)
                            else EngineOptions.from_dict(app_options))
        self._factory = factory
        self._engines: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def get(self, name: str, settings: EngineOptions | dict | None = None):
        """The engine `name` for a timeline with `settings` (the warp engine takes no
        options: one instance serves every timeline)."""
        with self._lock:
            if self._factory is not None:
                key = (name, "")
                if key not in self._engines:
                    self._engines[key] = self._factory(name)
                return self._engines[key]
            opts = self.app_options.merged(settings) if name != "warp" else EngineOptions()
            key = (name, json.dumps(opts.as_dict(), sort_keys=True, default=str))
            if key not in self._engines:
                self._engines[key] = create(name, opts)
            return self._engines[key]
