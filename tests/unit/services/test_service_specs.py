"""The security promises, asserted once on what each service IS (infra/services/ and the
monitoring specs), before any target translates it. Each target's translation is tested
on its own: tests/unit/targets/host/test_invariants.py (one host) and
tests/unit/targets/swarm/test_swarm.py (swarm)."""

from __future__ import annotations

import re

import pytest

from infra import config, topology
from infra.monitoring import specs as monitoring_specs
from infra.services import app, nginx, qdrant, redis
from infra.services.store import Store

STORES = {"redis": redis.store(256), "qdrant": qdrant.STORE}
# The one service that runs as root in its image: Qdrant's official image has no other user.
# Every capability is dropped and no-new-privileges set (tests/unit/targets/host/).
ROOT_IN_IMAGE = {"qdrant"}
# A secret's value in an environment or on a command line: NAME=value with a secret's name,
# where the value is neither a secret file's path nor a shell variable read from one at start.
SECRET_ASSIGNMENT = re.compile(r"(PASSWORD|API_KEY|SECRET|TOKEN)[A-Z_]*=(?!/run/secrets/|\"?\$)\S")


def users() -> dict[str, str | None]:
    found = {"app": app.UID, "worker": app.UID, "nginx": nginx.UID}
    found |= {name: store.user for name, store in STORES.items()}
    found |= {s.name: s.uid for s in monitoring_specs.services(config.offline("dev"))}
    return found


@pytest.mark.parametrize(("service", "user"), sorted(users().items(), key=str))
def test_every_service_runs_as_a_non_root_user(service, user):
    if service in ROOT_IN_IMAGE:
        assert user is None, f"{service}: set a user, or take it off ROOT_IN_IMAGE"
        return
    assert user and user.split(":")[0] not in {"0", "root"}, (service, user)


@pytest.mark.parametrize("name", sorted(STORES))
def test_stores_are_reached_at_their_endpoint_on_the_internal_network(name):
    store: Store = STORES[name]
    endpoint = {"redis": topology.REDIS, "qdrant": topology.QDRANT}[name]
    assert store.alias == endpoint.host
    assert (store.data_volume, store.secrets_volume) == (f"{name}-data", f"{name}-secrets")


@pytest.mark.parametrize("name", sorted(STORES))
def test_stores_read_their_credential_from_a_secret_file_only(name):
    store = STORES[name]
    launch = " ".join(store.command)
    assert topology.secret_path(store.credential_file) in launch, "read at start from the file"
    assert not SECRET_ASSIGNMENT.search(launch), launch
    assert not any(SECRET_ASSIGNMENT.search(line) for line in store.env), store.env


def test_the_app_reads_every_secret_from_a_file():
    present = frozenset(key for key, _file in app.SECRET_FILES.values())
    env = app.secret_env(present)
    assert env and all(line.split("=", 1)[1].startswith(topology.SECRETS_DIR) for line in env)
    settings = app.settings_of(config.offline("prod"))
    assert not any(SECRET_ASSIGNMENT.search(line) for line in app.plain_env(settings))


@pytest.mark.parametrize(
    ("service", "check"),
    [
        ("app", app.WEB_HEALTHCHECK),
        ("worker", app.WORKER_HEALTHCHECK),
        ("nginx", nginx.HEALTHCHECK),
        *[(name, store.healthcheck) for name, store in sorted(STORES.items())],
    ],
)
def test_every_service_has_a_healthcheck(service, check):
    assert check.test and check.test[0] in {"CMD", "CMD-SHELL"}, service


def test_the_checks_catch_a_secret_value():
    assert SECRET_ASSIGNMENT.search("REDIS_PASSWORD=hunter2")
    assert SECRET_ASSIGNMENT.search("export QDRANT__SERVICE__API_KEY=abc123")
    assert not SECRET_ASSIGNMENT.search("REDIS_PASSWORD_FILE=/run/secrets/redis-password")
    assert not SECRET_ASSIGNMENT.search('export QDRANT__SERVICE__API_KEY="$key"')
