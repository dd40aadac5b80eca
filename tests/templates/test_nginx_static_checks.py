"""Every stack's rendering passes `nginx -t` on the host's nginx and gixy-ng."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from edge_harness import EdgeTree, on_local_nginx

from infra import config, render

STACKS = config.known_stacks()


@pytest.mark.parametrize("stack", STACKS)
def test_nginx_accepts_the_rendering(stack: str, make_edge: Callable[..., EdgeTree]) -> None:
    # nginx_version/openssl_version are the host's: see edge_harness.on_local_nginx.
    tree = make_edge(on_local_nginx(config.offline(stack)))
    result = tree.check()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "[warn]" in line]
    # A test certificate has no OCSP responder; a provided production one may.
    assert [w for w in warnings if "no OCSP responder URL" not in w] == []


@pytest.mark.parametrize("stack", STACKS)
def test_gixy_finds_nothing(stack: str, tmp_path: Path) -> None:
    # The production rendering itself (image paths), as it is uploaded.
    for path, text in render.render_nginx(config.offline(stack)).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    gixy = Path(sys.executable).with_name("gixy")
    command = [str(gixy), "-f", "json", str(tmp_path / "nginx.conf")]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.stdout.strip(), result.stderr
    assert json.loads(result.stdout) == []
