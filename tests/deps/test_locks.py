"""The hash locks: every package pinned with its hashes, and agreeing with the pins."""

import pytest

from tests.deps import locks
from tests.deps.pins import ROOT


@pytest.mark.parametrize("lock", sorted(locks.LOCKS))
def test_every_locked_package_is_pinned_exactly_with_hashes(lock):
    bad = [
        e.name
        for e in locks.entries((ROOT / lock).read_text())
        if not e.spec.startswith("==")
        or not e.hashes
        or not all(h.startswith("sha256:") for h in e.hashes)
    ]
    assert not bad, f"{lock}: without == and sha256 hashes: {bad}. Fix: scripts/lock-deps.sh"


@pytest.mark.parametrize(("lock", "source"), sorted(locks.LOCKS.items()))
def test_every_pin_agrees_with_the_lock(lock, source):
    locked = locks.locked(lock)
    disagree = {
        name: (version, locked.get(name))
        for name, version in locks.pins(ROOT / source).items()
        if locked.get(name) != version
    }
    assert not disagree, (
        f"{source} pin != {lock}: {disagree} (pin, locked). Fix: scripts/lock-deps.sh"
    )


@pytest.mark.parametrize(("lock", "source"), sorted(locks.LOCKS.items()))
def test_the_header_is_the_command_renovate_reruns(lock, source):
    header = (ROOT / lock).read_text().splitlines()[1].split()
    assert header[:3] == ["#", "uv", "pip"], header
    assert {"--generate-hashes", "--python-version=3.11", f"--output-file={lock}"} <= set(header)
    assert header[-1] == source


def test_the_wheelhouse_constraints_are_the_image_lock():
    """app/constraints.txt drives the offline wheelhouse; the image installs the lock."""
    assert locks.pins(ROOT / "app" / "constraints.txt") == locks.locked("app/requirements.lock")


def test_a_lock_line_without_hashes_is_found():
    text = "a==1.0 \\\n    --hash=sha256:ab\n    # via x\nb==2.0\nc>=1 \\\n    --hash=sha256:cd\n"
    assert [(e.name, e.spec, bool(e.hashes)) for e in locks.entries(text)] == [
        ("a", "==1.0", True),
        ("b", "==2.0", False),
        ("c", ">=1", True),
    ]
