"""Every curl example of the README, run as written against the local stack."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.http.conftest import Stack

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULT_BASE = "http://127.0.0.1:3000"


def readme_curls() -> list[tuple[str, int]]:
    """(command, expected status) for each curl in the "Trying it" block; a
    preceding comment naming a 4xx status says that is the expected answer."""
    section = README.read_text().split("## Trying it", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands: list[tuple[str, int]] = []
    expected = 200
    for chunk in re.split(r"\n(?=curl |#)", block.strip()):
        if chunk.startswith("#"):
            status = re.search(r"\b(4\d\d)\b", chunk)
            expected = int(status.group(1)) if status else 200
            continue
        commands.append((chunk, expected))
        expected = 200
    return commands


CURLS = readme_curls()


def test_the_readme_has_examples() -> None:
    assert len(CURLS) >= 8


@pytest.mark.parametrize(("command", "expected"), CURLS, ids=[c.split("\n")[0][:60] for c, _ in CURLS])
def test_a_readme_example_works_as_written(stack: Stack, command: str, expected: int) -> None:
    concrete = (command.replace(DEFAULT_BASE, stack.url)
                .replace("OWNER_TENANT_ID", stack.info["owner_tenant_id"])
                .replace("OWNER_TOKEN", stack.info["owner_token"])
                .replace("local-admin-key", stack.info["admin_api_key"]))
    result = subprocess.run(["bash", "-c", concrete.rstrip() + " -o /dev/null -w '%{http_code}'"],
                            capture_output=True, text=True, timeout=60, check=True)
    status = int(result.stdout.strip()[-3:])
    if expected == 200:
        assert 200 <= status < 300, (command, status)
    else:
        assert status == expected, (command, status)
