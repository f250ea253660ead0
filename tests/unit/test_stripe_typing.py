"""mypy checks every Stripe call against the SDK's own parameter types, so a
parameter Stripe does not have fails the build. Shown on a two-line module."""

from __future__ import annotations

from pathlib import Path

from mypy import api

CALL = """
from stripe.params import ProductCreateParams
params: ProductCreateParams = {{"name": "Pro", {extra}}}
"""


def run_mypy(tmp_path: Path, extra: str) -> tuple[str, int]:
    module = tmp_path / "stripe_call.py"
    module.write_text(CALL.format(extra=extra))
    stdout, _, status = api.run([str(module), "--no-incremental", "--config-file", "/dev/null"])
    return stdout, status


def test_a_parameter_stripe_does_not_have_is_a_type_error(tmp_path: Path) -> None:
    stdout, status = run_mypy(tmp_path, '"colour": "blue"')
    assert status == 1
    assert "colour" in stdout


def test_a_real_parameter_type_checks(tmp_path: Path) -> None:
    stdout, status = run_mypy(tmp_path, '"description": "For teams"')
    assert status == 0, stdout
