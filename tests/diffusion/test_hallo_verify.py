"""verify-hallo on the hallo_tiny fixture: numeric parity with Hallo and the full-size keys."""

from __future__ import annotations

import pytest

from core.diffusion.hallo.verify import ATOLS, REL_TOL, verify_fixture


@pytest.fixture(scope="module")
def hallo_tiny(fixtures_dir):
    path = fixtures_dir / "hallo_tiny"
    if not (path / "case.safetensors").is_file():
        pytest.skip(f"hallo_tiny fixture not found at {path}")
    return path


@pytest.fixture(scope="module")
def report(hallo_tiny):
    return verify_fixture(hallo_tiny)


def test_every_stored_tensor_matches_hallo(report, hallo_tiny):
    names = {c.name for c in report.comparisons}
    assert "out.latents_prev" in names and "mid.ref_bank.09" in names
    assert len(names) == 21  # 5 projector/locator + 1 ref-unet + 10 banks + 5 outputs
    failing = [c for c in report.comparisons if not c.ok]
    assert not failing, report.format()
    for c in report.comparisons:
        assert c.max_rel <= REL_TOL
        if c.name in ATOLS:
            assert c.max_abs <= ATOLS[c.name], c


def test_full_size_module_tree_matches_keys_txt(report):
    assert report.key_problems == []
    assert report.keys_checked == 2656
    assert report.ok


def test_comparison_catches_a_small_deviation(report, hallo_tiny):
    """The comparison is real: 0.1 % off in one output, or a float32 bank, must FAIL."""
    from safetensors.torch import load_file

    from core.diffusion.hallo.verify import compare_case

    case = load_file(str(hallo_tiny / "case.safetensors"))
    case["out.noise_pred_cond"] = case["out.noise_pred_cond"] * 1.001
    rows = {c.name: c for c in compare_case(report.outputs, case)}
    assert not rows["out.noise_pred_cond"].ok
    assert rows["out.noise_pred_uncond"].ok
    ours = dict(report.outputs)
    ours["mid.ref_bank.00"] = ours["mid.ref_bank.00"].float() + 1e-3
    rows = {c.name: c for c in compare_case(ours, load_file(str(hallo_tiny / "case.safetensors")))}
    assert not rows["mid.ref_bank.00"].ok


def test_cli_verify_hallo_rejects_non_fixture(tmp_path, capsys):
    from studio.cli import main

    assert main(["models", "verify-hallo", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and len(err.strip().splitlines()) == 1
