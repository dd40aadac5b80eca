"""The host tools run under the host's own python3, which may be 3.10 (Ubuntu 22.04):
no syntax, standard-library name or interpreter flag that only 3.11 has."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from infra import topology

HOSTTOOLS = topology.REPO_ROOT / "infra" / "hosttools"
SOURCES = sorted(HOSTTOOLS.rglob("*.py"))
# Standard-library names new in 3.11 (the ones this code could plausibly reach for).
NEW_IN_311 = re.compile(
    r"\bdatetime\.UTC\b|from datetime import[^\n]*\bUTC\b|\btomllib\b|\bExceptionGroup\b"
    r"|\bStrEnum\b|\bTaskGroup\b|typing import[^\n]*\bSelf\b|\bhashlib\.file_digest\b"
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(HOSTTOOLS)))
def test_parses_as_python_3_10(path: Path):
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 10))
    assert not NEW_IN_311.search(path.read_text())


def test_the_shim_uses_no_flag_newer_than_3_10():
    shim = (topology.REPO_ROOT / "scripts" / "backup.sh").read_text()
    assert "python3 -I" in shim and not re.search(r"python3[^\n]* -P\b", shim)


def test_the_check_finds_a_3_11_name():
    assert NEW_IN_311.search("now = datetime.datetime.now(datetime.UTC)")
