"""The generation engine as a library: audio, face, motion, engines, video IO.

`core` knows nothing of projects, databases or Qt; it exposes plain dataclasses and numpy
arrays (see `core.types`) so the studio, the CLI and tests can all drive it headless.
"""
