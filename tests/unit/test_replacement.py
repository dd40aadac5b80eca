"""How the engine will replace and delete what the program declares: the rules of
tests/provider_rules.py applied to the options each registration carries."""

from __future__ import annotations

import pytest

from tests import provider_rules as rules
from tests.unit import program
from tests.unit.targets.swarm.test_swarm import SECRETS as SWARM_SECRETS

WEB_AND_WORKER = ("app", "worker")


def effective_dbr(resource: program.Resource) -> bool:
    return rules.deletes_before_replace(resource.type, resource.options.delete_before_replace)


def cascade_of(declared: program.Declared, root: program.Resource) -> list[program.Resource]:
    by_urn = {r.options.urn: r for r in declared.resources if r.options}
    dependents = {
        r.options.urn: r.options.property_dependencies for r in declared.resources if r.options
    }
    types = {urn: r.type for urn, r in by_urn.items()}
    return [by_urn[urn] for urn in rules.cascade(root.options.urn, dependents, types)]


def test_every_container_sets_its_replacement_order(declared):
    """Left unset, pulumi-docker deletes first: every container says what it needs."""
    unset = [c.name for c in declared.containers if c.options.delete_before_replace is None]
    assert not unset


def test_replicas_and_worker_are_created_before_the_old_ones_go(declared):
    """A new image or new secrets: the new replicas start (healthy) before nginx names
    them and the old ones are deleted at the end of the update."""
    for container in declared.services:
        if program.service_of(container) in WEB_AND_WORKER:
            assert container.options.delete_before_replace is False, container.name


def test_one_shots_are_created_before_the_old_run_goes_under_a_new_name(declared):
    for writer in declared.writers:
        assert writer.options.delete_before_replace is False, writer.name
        assert writer.plain("name").startswith(
            f"ora-{declared.stack}-{program.service_of(writer)}-"
        ), writer.name


def test_a_delete_first_container_keeps_a_fixed_name(declared):
    """Delete-before-replace only where two could not coexist: a fixed name (and ports)."""
    for container in declared.containers:
        if effective_dbr(container):
            assert (
                container.plain("name") == f"ora-{declared.stack}-{program.service_of(container)}"
            )


def test_no_delete_first_replacement_takes_a_service_down_with_it(declared):
    """The engine's dependent replacements: deleting a container first deletes every
    service whose replace-forcing inputs came from it. Only the container itself may go."""
    for root in declared.containers:
        if effective_dbr(root):
            assert [r.name for r in cascade_of(declared, root)] == [], root.name


def test_every_service_is_stopped_gracefully_on_delete(declared):
    for container in declared.services:
        grace = rules.delete_grace_seconds(container.plain_inputs())
        assert grace is not None and grace >= 10, container.name
        assert grace == container.plain("stopTimeout"), container.name


def test_no_upload_is_empty(declared):
    for container in declared.containers:
        assert rules.empty_uploads(container.plain_inputs()) == [], container.name


@pytest.mark.parametrize("user", ["", "alerts@example.com"])
def test_alertmanager_gets_an_smtp_password_file_only_with_smtp_auth(user):
    secrets = {"smtpPassword": "test-smtp-password"} if user else {}
    overrides = {"smtpHost": "smtp.example.com", "alertEmail": "ops@example.com"}
    declared = program.evaluate("dev", {**overrides, "smtpUser": user}, secrets=secrets)
    files = [
        u["file"]
        for w in declared.writers
        if program.service_of(w) == "alertmanager-secrets"
        for u in w.plain("uploads")
    ]
    assert files == (["/staging/smtp-password"] if user else [])
    for container in declared.containers:
        assert rules.empty_uploads(container.plain_inputs()) == [], container.name


def test_a_one_shot_is_renamed_by_a_change_of_what_it_installs_and_only_then():
    def names(declared):
        return {w.name: w.plain("name") for w in declared.writers}

    base = names(program.evaluate("dev"))
    assert names(program.evaluate("dev")) == base
    secret = names(program.evaluate("dev", secrets={"redisPassword": "another-password-0123"}))
    renamed = {k for k in base if secret[k] != base[k]}
    # The app's writer installs the password too (the exporter has a user of its own, with
    # its own password: infra/services/redis_acl.py); nothing else changed.
    assert renamed == {"redis-secrets", "app-secrets"}


def test_no_global_service_has_a_converge_config():
    declared = program.evaluate("swarm", secrets=SWARM_SECRETS)
    services = declared.of_type(rules.SERVICE)
    assert any((s.plain("mode") or {}).get("global") for s in services)
    for service in services:
        if (service.plain("mode") or {}).get("global"):
            assert service.plain("convergeConfig") is None, service.name
        else:
            assert service.plain("convergeConfig"), service.name


@pytest.mark.parametrize("stack", ["dev", "prod", "swarm"])
def test_the_providers_preview_checks_pass(stack):
    """What `pulumi preview` asks of each provider (tests/provider_rules.py: check)."""
    declared = program.evaluate(stack, secrets=SWARM_SECRETS if stack == "swarm" else None)
    problems = {r.name: rules.check(r.type, r.plain_inputs()) for r in declared.resources}
    assert {name: found for name, found in problems.items() if found} == {}


def test_the_preview_check_refuses_converge_config_on_a_global_service():
    inputs = {"mode": {"global": True}, "convergeConfig": {"delay": "1s", "timeout": "3m"}}
    assert rules.check(rules.SERVICE, inputs) == ['"converge_config": conflicts with mode.0.global']
