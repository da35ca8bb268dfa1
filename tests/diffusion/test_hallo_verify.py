"""verify-hallo on the hallo_tiny fixture: numeric parity with Hallo and the full-size keys."""

from __future__ import annotations

import json

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


def test_verifier_fails_when_a_stored_output_differs(hallo_tiny, tmp_path):
    """The comparison is real: a perturbed expected output must be reported as FAIL."""
    from safetensors.torch import load_file, save_file

    fixture = tmp_path / "fx"
    fixture.mkdir()
    for name in ("config.json", "keys.txt", "net.safetensors", "motion_module.safetensors"):
        (fixture / name).symlink_to(hallo_tiny / name)
    case = load_file(str(hallo_tiny / "case.safetensors"))
    case["out.noise_pred_cond"] = case["out.noise_pred_cond"] * 1.001
    save_file(case, str(fixture / "case.safetensors"))
    bad = verify_fixture(fixture)
    by_name = {c.name: c for c in bad.comparisons}
    assert not by_name["out.noise_pred_cond"].ok
    assert by_name["out.noise_pred_uncond"].ok
    assert not bad.ok


def test_cli_verify_hallo_rejects_non_fixture(tmp_path, capsys):
    from studio.cli import main

    assert main(["models", "verify-hallo", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and len(err.strip().splitlines()) == 1


def test_config_constants_are_read_not_hardcoded(hallo_tiny):
    cfg = json.loads((hallo_tiny / "config.json").read_text())
    assert cfg["inference"]["cfg_scale"] == 3.5  # the value the verifier reads
