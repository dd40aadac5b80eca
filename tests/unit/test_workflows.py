"""Policies every GitHub workflow must satisfy: who sees which secret, what runs where.

A pull request's code (its Makefile, requirements, infra/) runs in every job that a
`pull_request` triggers, so such a job sees no secret unless it waits in an
`environment` whose required reviewers approve it (README, "CI/CD and who can
reach prod"). zizmor (`make lint`) checks the same files for known patterns; these
tests pin this repository's own rules, one failure per workflow and job.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import yaml

WORKFLOW_DIR = Path(__file__).resolve().parents[2] / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.y*ml"))
PR_EVENTS = {"pull_request", "pull_request_target"}
# Secrets a job that runs pull-request code may see without an approval.
UNGATED_SECRETS = {"GITHUB_TOKEN"}
# Secrets that only the deploy from main needs: a preview never dials the host.
DEPLOY_ONLY_SECRETS = {"DEPLOY_SSH_KEY"}
SECRET = re.compile(r"\bsecrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_-]*)|\[|\))")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
PINNED = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
DOCKER_PINNED = re.compile(r"^docker://[^@\s]+@sha256:[0-9a-f]{64}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")
READ_ONLY = {"read", "none"}


@functools.cache
def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict) -> set[str]:
    # YAML 1.1 reads the key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on}
    return set(on or ())


def strings(node) -> list[str]:
    """Every string anywhere under a parsed YAML node."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings(key) + strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def secrets_seen(workflow: dict, job: dict) -> set[str]:
    """Names of the secrets a job can read; '*' when it can read them all."""
    seen = {"*"} if job.get("secrets") == "inherit" else set()
    for text in strings(workflow.get("env", {})) + strings(job):
        for expression in EXPRESSION.findall(text):
            seen |= {match or "*" for match in SECRET.findall(expression)}
    return seen


def jobs(*, pull_request_only: bool = False) -> list:
    return [
        pytest.param(path, job_id, id=f"{path.name}:{job_id}")
        for path in WORKFLOWS
        if not pull_request_only or triggers(load(path)) & PR_EVENTS
        for job_id in load(path)["jobs"]
    ]


def steps(job: dict) -> list[tuple[str, dict]]:
    return [
        (step.get("name") or step.get("id") or step.get("uses") or f"step {i}", step)
        for i, step in enumerate(job.get("steps", []), start=1)
    ]


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"main.yml", "pull-request.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_workflow_runs_on_pull_request_target(path):
    assert "pull_request_target" not in triggers(load(path)), (
        f"{path.name}: pull_request_target runs the base repository's secrets next to "
        "the pull request's code. Fix: use pull_request and an environment."
    )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_token_is_read_only_by_default(path):
    permissions = load(path).get("permissions", "<unset>")
    allowed = permissions == "read-all" or (
        isinstance(permissions, dict) and set(permissions.values()) <= READ_ONLY
    )
    assert allowed, (
        f"{path.name}: workflow-level permissions = {permissions!r}: jobs inherit it. "
        "Fix: `permissions: {}` at the top, and each job asks for what it needs."
    )


@pytest.mark.parametrize(("path", "job_id"), jobs(pull_request_only=True))
def test_pull_request_code_sees_no_secret_without_an_environment(path, job_id):
    workflow = load(path)
    job = workflow["jobs"][job_id]
    gated = bool(job.get("environment"))
    leaked = set() if gated else secrets_seen(workflow, job) - UNGATED_SECRETS
    assert not leaked, (
        f"{path.name}: job {job_id!r} runs pull-request code and reads secrets "
        f"{sorted(leaked)} without an environment. Fix: move them into an environment "
        "with required reviewers (e.g. prod-preview) and set `environment:` on the job."
    )


@pytest.mark.parametrize(("path", "job_id"), jobs(pull_request_only=True))
def test_pull_request_code_never_sees_the_deploy_key(path, job_id):
    workflow = load(path)
    seen = secrets_seen(workflow, workflow["jobs"][job_id]) & (DEPLOY_ONLY_SECRETS | {"*"})
    assert not seen, (
        f"{path.name}: job {job_id!r} runs pull-request code and reads {sorted(seen)}, "
        "even if approved. Fix: preview without refresh needs no SSH access to the host."
    )


@pytest.mark.parametrize(("path", "job_id"), jobs(pull_request_only=True))
def test_ungated_pull_request_job_cannot_write(path, job_id):
    workflow = load(path)
    job = workflow["jobs"][job_id]
    permissions = job.get("permissions", workflow.get("permissions", "<unset>"))
    if isinstance(permissions, dict):
        writes = {k: v for k, v in permissions.items() if v not in READ_ONLY}
    else:
        writes = {} if permissions == "read-all" else permissions
    assert job.get("environment") or not writes, (
        f"{path.name}: job {job_id!r} runs pull-request code with permissions {writes!r}. "
        "Fix: read-only permissions, or an environment with required reviewers."
    )


@pytest.mark.parametrize(("path", "job_id"), jobs())
def test_every_action_is_pinned_by_commit_sha(path, job_id):
    job = load(path)["jobs"][job_id]
    uses = [("job", job["uses"])] if "uses" in job else []
    uses += [(name, step["uses"]) for name, step in steps(job) if "uses" in step]
    unpinned = [
        (name, ref)
        for name, ref in uses
        if not (ref.startswith("./") or PINNED.match(ref) or DOCKER_PINNED.match(ref))
    ]
    assert not unpinned, (
        f"{path.name}: job {job_id!r} uses {unpinned}. "
        "Fix: pin owner/repo@<40-hex commit of the release tag> # vX.Y.Z"
    )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_pinned_action_names_its_version(path):
    lines = [USES_LINE.match(line) for line in path.read_text().splitlines()]
    unnamed = [
        m.group(1)
        for m in lines
        if m and not m.group(1).startswith("./") and not re.match(r"\s*#\s*v\d", m.group(2))
    ]
    assert not unnamed, f"{path.name}: {unnamed} lack a `# vX.Y.Z` comment after the SHA"


@pytest.mark.parametrize(("path", "job_id"), jobs())
def test_run_blocks_take_values_only_through_env(path, job_id):
    job = load(path)["jobs"][job_id]
    expanded = [
        (name, EXPRESSION.findall(step["run"])) for name, step in steps(job) if "run" in step
    ]
    expanded = [(name, found) for name, found in expanded if found]
    assert not expanded, (
        f"{path.name}: job {job_id!r} expands {expanded} inside `run:`, where a value "
        'becomes shell code. Fix: pass it through the step\'s `env:` and use "$NAME".'
    )


@pytest.mark.parametrize(("path", "job_id"), jobs())
def test_checkout_leaves_no_token_on_disk(path, job_id):
    job = load(path)["jobs"][job_id]
    persisting = [
        name
        for name, step in steps(job)
        if step.get("uses", "").startswith("actions/checkout@")
        and step.get("with", {}).get("persist-credentials") is not False
    ]
    assert not persisting, (
        f"{path.name}: job {job_id!r}: {persisting} keep the token in .git/config. "
        "Fix: `with: {persist-credentials: false}`."
    )


def previewed_stacks() -> set[str]:
    """Stacks a pull_request job runs `pulumi preview` of: it holds their passphrase."""
    return {
        step["with"]["stack-name"]
        for path in WORKFLOWS
        if triggers(load(path)) & PR_EVENTS
        for job in load(path)["jobs"].values()
        for _name, step in steps(job)
        if step.get("with", {}).get("command") == "preview"
    }


def test_config_refuses_ssh_private_key_in_every_previewed_stack():
    from infra import config

    missing = previewed_stacks() - set(config.PREVIEWED_STACKS)
    assert previewed_stacks() and not missing, (
        f"pull requests preview {sorted(missing)}, whose passphrase they then hold, but "
        "infra/config accepts ora:sshPrivateKey there. Fix: add them to PREVIEWED_STACKS."
    )


@pytest.mark.parametrize(("path", "job_id"), jobs())
def test_no_job_runs_commands_over_ssh_as_the_deploy_user(path, job_id):
    # CI's key reaches the deploy user's Docker API only (infra/bootstrap/access.py).
    from infra import config

    login = f"ssh://{config.offline('prod').access.ssh_user}@"
    shells = [
        name for name, step in steps(load(path)["jobs"][job_id]) if login in step.get("run", "")
    ]
    assert not shells, (
        f"{path.name}: job {job_id!r}: {shells} log in as {login}, where CI's key runs "
        "`docker system dial-stdio` and nothing else. Fix: log in as ora:bootstrapUser."
    )
