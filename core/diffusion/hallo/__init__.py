"""Hallo checkpoint support: key layout, safe loading, importer and the parity verifier.

`import_hallo(pretrained_models_dir, out_dir)` writes a weights folder;
`verify_fixture(fixture_dir)` checks numeric parity on the hallo_tiny fixture.
"""

from __future__ import annotations


def import_hallo(*args, **kwargs):
    """See `core.diffusion.hallo.importer.import_hallo`."""
    from .importer import import_hallo as _impl

    return _impl(*args, **kwargs)


def verify_fixture(*args, **kwargs):
    """See `core.diffusion.hallo.verify.verify_fixture`."""
    from .verify import verify_fixture as _impl

    return _impl(*args, **kwargs)
