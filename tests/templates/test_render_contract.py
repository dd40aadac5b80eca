"""The template variable contract (TemplateVars) and the operators' render CLI."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import jinja2
import jinja2.meta
import pytest

from infra import config
from infra.edge import render

ROOT = render.TEMPLATES_DIR.parent
DOCUMENTED = {field.name for field in dataclasses.fields(render.TemplateVars)}
TEMPLATES = [*sorted(render.CONF_TEMPLATES.values()), render.ERROR_PAGE_TEMPLATE]


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_uses_only_documented_variables(name: str) -> None:
    env = render.environment()
    source = env.loader.get_source(env, name)[0]
    used = jinja2.meta.find_undeclared_variables(env.parse(source))
    extra = {"page"} if name == render.ERROR_PAGE_TEMPLATE else set()
    assert used <= DOCUMENTED | extra, f"{name} uses undocumented {used - DOCUMENTED - extra}"


def test_every_documented_variable_is_used() -> None:
    env = render.environment()
    used = set().union(
        *(
            jinja2.meta.find_undeclared_variables(env.parse(env.loader.get_source(env, n)[0]))
            for n in TEMPLATES
        )
    )
    assert used >= DOCUMENTED, f"documented but unused: {DOCUMENTED - used}"


def test_a_missing_variable_fails_loudly() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render.environment().get_template("snippets/tls.conf.j2").render()


def test_every_template_file_is_rendered() -> None:
    on_disk = {str(p.relative_to(render.TEMPLATES_DIR)) for p in render.TEMPLATES_DIR.rglob("*.j2")}
    assert on_disk == set(TEMPLATES)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "infra.ops.render", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("stack", config.known_stacks())
def test_cli_prints_every_file_under_a_header(stack: str) -> None:
    result = run_cli("nginx", stack)
    assert result.returncode == 0, result.stderr
    expected = render.render_nginx(config.offline(stack))
    assert result.stdout == render.format_files(expected)
    headers = [line for line in result.stdout.splitlines() if line.startswith("# ---- ")]
    assert headers == [f"# ---- {path}" for path in expected]


def test_cli_rejects_an_unknown_stack_with_exit_code_2() -> None:
    result = run_cli("nginx", "staging")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "unknown stack 'staging'; known stacks: dev, prod" in result.stderr
