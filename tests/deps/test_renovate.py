"""renovate.json: valid for Renovate's own validator, and its extraction covers every pin."""

import shutil
import subprocess

import pytest

from tests.deps import pins

INSTALLER = pins.ROOT / "scripts" / "install-renovate.sh"
FAKE_DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(scope="session")
def renovate_bin():
    done = subprocess.run([str(INSTALLER)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return pins.Path(done.stdout.strip())


@pytest.fixture(scope="session")
def report(renovate_bin, tmp_path_factory):
    return pins.run_extract(
        renovate_bin, pins.ROOT, tmp_path_factory.mktemp("renovate") / "report.json"
    )


def test_config_passes_renovates_validator(renovate_bin):
    done = subprocess.run(
        [str(renovate_bin / "renovate-config-validator"), "--strict", "renovate.json"],
        cwd=pins.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("kind", "example"),
    [
        ("python", "requirements.txt"),
        ("python", "app/constraints.txt"),
        ("image digest", "Pulumi.yaml"),
        ("image digest", "Pulumi.prod.yaml"),
        ("action", ".github/workflows/main.yml"),
        ("base image", "app/Dockerfile"),
        ("tool", "scripts/install-pulumi.sh"),
    ],
)
def test_the_scan_sees_each_kind_of_pin(kind, example):
    """Guards the guard: an empty scan would make the coverage test pass vacuously."""
    assert any(pin.file == example for pin in pins.scan_repo()), (kind, example)


def test_renovate_extracts_every_pin_in_the_repository(report):
    missing = pins.missed(pins.scan_repo(), pins.extracted(report))
    assert not missing, f"pins renovate.json would never update: {missing}"


def test_a_pin_in_a_place_renovate_does_not_look_fails_the_check(renovate_bin, tmp_path):
    """A copy of the repository with one new image digest in a file no manager reads."""
    copy = tmp_path / "repo"
    listed = subprocess.run(
        ["git", "ls-files"], cwd=pins.ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for rel in listed:
        if (pins.ROOT / rel).is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(pins.ROOT / rel, copy / rel)
    (copy / "deploy").mkdir()
    (copy / "deploy" / "extra.yaml").write_text(f"image: busybox:1.37@{FAKE_DIGEST}\n")
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    subprocess.run(["git", "add", "-A"], cwd=copy, check=True)

    found = pins.extracted(pins.run_extract(renovate_bin, copy, tmp_path / "report.json"))
    assert pins.missed(pins.scan_repo(copy), found) == [
        pins.Pin("deploy/extra.yaml", "busybox", FAKE_DIGEST)
    ]
