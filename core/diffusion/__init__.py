"""The diffusion engine: Hallo-layout modules, checkpoint import/verification, pipeline.

Kept import-light on purpose (no torch import here): `core.diffusion.models` and
`core.diffusion.hallo` pull in torch/diffusers when they are imported.
"""
