"""Engine registry: engines are registered by name with a factory, built on first use.

Factories import heavy dependencies (torch, diffusers) lazily so listing engines is cheap.
"""

from __future__ import annotations

from collections.abc import Callable

from core.errors import InputError
from core.types import Engine

_FACTORIES: dict[str, Callable[..., Engine]] = {}
DEFAULT_ENGINE = "warp"


def register(name: str, factory: Callable[..., Engine]) -> None:
    _FACTORIES[name] = factory


def names() -> list[str]:
    _ensure_builtin()
    return sorted(_FACTORIES)


def create(name: str, **options) -> Engine:
    """Build engine `name`; unknown names raise InputError listing the known ones."""
    _ensure_builtin()
    if name not in _FACTORIES:
        raise InputError(None, f"unknown engine '{name}' (known: {', '.join(sorted(_FACTORIES))})")
    return _FACTORIES[name](**options)


def _ensure_builtin() -> None:
    if "warp" not in _FACTORIES:

        def _warp(**options):
            from core.engines.warp import WarpEngine

            return WarpEngine(**options)

        register("warp", _warp)
    if "diffusion" not in _FACTORIES:

        def _diffusion(**options):
            from core.diffusion.engine import DiffusionEngine

            return DiffusionEngine(**options)

        register("diffusion", _diffusion)
