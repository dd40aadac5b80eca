"""Every stack's rendering passes `nginx -t` on both nginx binaries, and gixy-ng."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from edge_harness import EdgeTree
from nginx_binaries import NginxBinary

from infra import config
from infra.edge import render

STACKS = config.known_stacks()


@pytest.mark.parametrize("stack", STACKS)
def test_nginx_accepts_the_rendering(
    stack: str, nginx_binary: NginxBinary, make_edge: Callable[..., EdgeTree]
) -> None:
    # host: the rendering for its own (older) features; sid: the stack's own rendering.
    tree = make_edge(nginx_binary.feature_set(config.offline(stack)))
    result = tree.check()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "[warn]" in line]
    # A test certificate has no OCSP responder; a provided production one may.
    assert [w for w in warnings if "no OCSP responder URL" not in w] == []


# The stack's own (pinned) rendering, and the fallback for nginx < 1.27.3.
RENDERINGS = {"pinned": {}, "fallback": {"nginx_version": (1, 27, 2)}}


@pytest.mark.parametrize("rendering", RENDERINGS)
@pytest.mark.parametrize("stack", STACKS)
def test_gixy_finds_nothing(stack: str, rendering: str, tmp_path: Path) -> None:
    # The production rendering itself (image paths), as it is uploaded.
    cfg = config.offline(stack)
    cfg = dataclasses.replace(cfg, edge=dataclasses.replace(cfg.edge, **RENDERINGS[rendering]))
    for path, text in render.render_nginx(cfg).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    gixy = Path(sys.executable).with_name("gixy")
    command = [str(gixy), "-f", "json", str(tmp_path / "nginx.conf")]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.stdout.strip(), result.stderr
    assert json.loads(result.stdout) == []
