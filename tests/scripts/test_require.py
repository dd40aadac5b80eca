"""scripts/require.sh names every missing tool, and how to install it, in one line."""

import shutil
import subprocess
from pathlib import Path

REQUIRE = Path(__file__).resolve().parents[2] / "scripts" / "require.sh"


def _require(tmp_path: Path, *tools: str) -> subprocess.CompletedProcess:
    """require.sh on a PATH that holds only what it runs itself."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sed", "dirname"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    return subprocess.run(
        [shutil.which("bash"), str(REQUIRE), *tools],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
    )


def test_every_missing_tool_is_named_on_one_line(tmp_path):
    done = _require(tmp_path, "promtool", "amtool", "wrk", "docker", "pulumi", "sed")
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("missing: promtool amtool wrk docker pulumi. Install: ")
    assert "apt-get install -y prometheus prometheus-alertmanager wrk docker.io;" in line
    assert "start the Docker engine" in line
    assert "curl -fsSL https://get.pulumi.com | sh -s -- --version " in line


def test_nothing_missing_says_nothing(tmp_path):
    done = _require(tmp_path, "sed", "dirname")
    assert (done.returncode, done.stderr) == (0, "")
