"""The swarm target's graph (ora:target swarm) under mocks: services, placement, update
config, secrets only as docker.Secret, and the invariants the host stacks keep, each
either held or named with its reason (infra.targets.swarm.spec.NOT_IN_SWARM)."""

from __future__ import annotations

import pytest

from infra import config
from infra.monitoring import specs as monitoring_specs
from infra.services import app, baseline
from infra.targets.host import containers
from infra.targets.swarm import spec as swarm_spec
from tests.unit import program
from tests.unit.program import contains, is_secret

CORE = ("nginx", "redis", "qdrant", "app", "worker")
MONITORING = tuple(s.name for s in monitoring_specs.services(config.offline("swarm")))
SERVICES = CORE + MONITORING
SERVICE = "docker:index/service:Service"
SECRET = "docker:index/secret:Secret"
NETWORK = "docker:index/network:Network"
# Distinct values, so a leak is found wherever it lands.
SECRETS = {
    "redisPassword": "swarm-test-redis-password-0123",
    "qdrantApiKey": "swarm-test-qdrant-api-key-0123",
    "secretKey": "swarm-test-secret-key-0123456789abcdef",
    "backupPassword": "swarm-test-backup-password-0123",
    "apiKeys": "ci:read,write:swarm-test-ci-api-key-0123456789abcdef",
    "openaiApiKey": "swarm-test-openai-key-0123456789",
}


@pytest.fixture(scope="module")
def swarm() -> program.Declared:
    return program.evaluate("swarm", secrets=SECRETS)


def services(declared: program.Declared) -> dict[str, program.Resource]:
    found = {}
    for resource in declared.of_type(SERVICE):
        labels = {item["label"]: item["value"] for item in resource.plain("labels")}
        found[labels["org.ora.service"]] = resource
    return found


def task(declared, service) -> dict:
    return services(declared)[service].plain("taskSpec")


def container(declared, service) -> dict:
    return task(declared, service)["containerSpec"]


def test_every_service_is_a_swarm_service_and_no_container_is_declared(swarm):
    assert set(services(swarm)) == set(SERVICES)
    assert swarm.containers == []


def test_the_host_stacks_declare_no_swarm_resource():
    dev = program.evaluate("dev")
    kinds = {r.type for r in dev.resources}
    assert not kinds & {SERVICE, SECRET, "docker:index/serviceConfig:ServiceConfig"}


def test_only_nginx_publishes_ports_and_in_host_mode(swarm):
    edge = config.offline("swarm").edge
    for name, service in services(swarm).items():
        ports = (service.plain("endpointSpec") or {}).get("ports") or []
        if name != "nginx":
            assert not ports, f"{service.name} publishes {ports}"
            continue
        published = sorted((p["publishedPort"], p["publishMode"]) for p in ports)
        assert published == [(edge.http_port, "host"), (edge.https_port, "host")]


@pytest.mark.parametrize("service", SERVICES)
def test_endpoint_mode_is_dnsrr(swarm, service):
    # VIP needs iptables on the nodes; nginx resolves the tasks per request anyway.
    assert services(swarm)[service].plain("endpointSpec")["mode"] == "dnsrr"


def test_app_replicas_follow_config_and_spread_over_nodes(swarm):
    cfg = config.offline("swarm")
    app = services(swarm)["app"]
    assert app.plain("mode")["replicated"]["replicas"] == cfg.sizes.app_replicas
    placement = app.plain("taskSpec")["placement"]
    assert placement["maxReplicas"] == cfg.swarm.max_replicas_per_node == 2


def test_max_replicas_per_node_zero_means_no_limit():
    declared = program.evaluate("swarm", {"swarmMaxReplicasPerNode": "0"}, secrets=SECRETS)
    assert "maxReplicas" not in task(declared, "app")["placement"]


def test_app_rolls_start_first_and_rolls_back_on_failed_health(swarm):
    update = services(swarm)["app"].plain("updateConfig")
    assert update["order"] == "start-first"
    assert update["failureAction"] == "rollback"
    assert update["parallelism"] == 1 and update["monitor"] == "15s"
    assert container(swarm, "app")["healthcheck"]["tests"][0] == "CMD"


@pytest.mark.parametrize("service", ["redis", "qdrant", "nginx"])
def test_stateful_and_host_port_services_stop_first(swarm, service):
    assert services(swarm)[service].plain("updateConfig")["order"] == "stop-first"


@pytest.mark.parametrize("service", ["redis", "qdrant"])
def test_datastores_are_pinned_to_the_data_node_with_their_volume(swarm, service):
    assert task(swarm, service)["placement"]["constraints"] == ["node.labels.ora.data == true"]
    assert services(swarm)[service].plain("mode")["replicated"]["replicas"] == 1
    volumes = [m for m in container(swarm, service)["mounts"] if m["type"] == "volume"]
    assert [m["source"] for m in volumes] == [f"ora-swarm-{service}-data"]


def test_nginx_runs_on_every_edge_node(swarm):
    assert services(swarm)["nginx"].plain("mode") == {"global": True}
    assert task(swarm, "nginx")["placement"]["constraints"] == ["node.labels.ora.edge == true"]


@pytest.mark.parametrize("service", ["app", "worker"])
def test_app_and_worker_are_placed_anywhere(swarm, service):
    assert "constraints" not in task(swarm, service)["placement"]


@pytest.mark.parametrize("service", ["app", "worker"])
def test_app_and_worker_write_log_files_on_the_nodes_app_logs_volume(swarm, service):
    """As on one host: the JSON lines also go to LOGS_DIR, on a volume of each node."""
    spec = container(swarm, service)
    volumes = {m["target"]: m["source"] for m in spec["mounts"] if m["type"] == "volume"}
    assert volumes[app.LOGS_DIR] == "ora-swarm-app-logs"
    assert spec["env"]["ORA_LOG_DIR"] == app.LOGS_DIR


def test_networks_are_attachable_overlays_and_internal_has_no_route_out(swarm):
    networks = {n.name: n for n in swarm.of_type(NETWORK)}
    roles = ("edge", "internal", "monitoring", "alerting")
    assert set(networks) == {f"swarm-network-{role}" for role in roles}
    for network in networks.values():
        assert network.plain("driver") == "overlay" and network.plain("attachable") is True
        assert not network.plain("options")
    for role in roles:
        routed = not networks[f"swarm-network-{role}"].plain("internal")
        assert routed == (role in ("edge", "alerting")), role


def test_without_monitoring_no_monitoring_network_or_service():
    declared = program.evaluate("swarm", {"monitoring": "false"}, secrets=SECRETS)
    assert set(services(declared)) == set(CORE)
    assert {n.name for n in declared.of_type(NETWORK)} == {
        "swarm-network-edge",
        "swarm-network-internal",
    }


def test_encrypted_overlays_when_configured():
    declared = program.evaluate("swarm", {"swarmEncryptedNetwork": "true"}, secrets=SECRETS)
    for network in declared.of_type(NETWORK):
        assert network.plain("options") == {"encrypted": ""}, network.name


@pytest.mark.parametrize(
    ("service", "networks"),
    [("redis", ["internal", "monitoring"]), ("qdrant", ["internal"])],
)
def test_datastores_sit_on_the_internal_network_and_redis_for_its_exporter(
    swarm, service, networks
):
    ids = [n["id"] for n in task(swarm, service)["networksAdvanceds"]]
    assert ids == [f"swarm-network-{network}-id" for network in networks]


def test_only_app_replicas_carry_the_alias_nginx_resolves(swarm):
    web = task(swarm, "app")["networksAdvanceds"]
    assert web[0] == {"id": "swarm-network-edge-id", "aliases": ["app"]}
    worker = task(swarm, "worker")["networksAdvanceds"]
    assert worker[0] == {"id": "swarm-network-edge-id"}
    # On internal, Prometheus scrapes them by name.
    assert web[1] == {"id": "swarm-network-internal-id", "aliases": ["app"]}
    assert worker[1] == {"id": "swarm-network-internal-id", "aliases": ["worker"]}


def test_every_secret_is_a_swarm_secret_with_secret_data(swarm):
    secrets = swarm.of_type(SECRET)
    assert secrets
    for secret in secrets:
        assert is_secret(secret.inputs["data"]), f"{secret.name}: data is not a secret"


@pytest.mark.parametrize("key", sorted(SECRETS))
def test_no_secret_value_outside_a_swarm_secret(swarm, key):
    value = SECRETS[key].rsplit(":", 1)[-1]
    for resource in swarm.resources:
        if resource.type in (SECRET, "random:index/randomId:RandomId"):
            continue  # the secret itself, and the keeper that renames it when it changes
        assert not contains(resource.plain("envs"), value)
        assert not contains(resource.inputs, value) or resource.type.startswith("ora:"), (
            f"{resource.type} {resource.name} holds {key}"
        )


@pytest.mark.parametrize("service", ["app", "worker"])
def test_every_file_variable_names_a_mounted_secret(swarm, service):
    spec = container(swarm, service)
    files = {f"/run/secrets/{s['fileName']}" for s in spec["secrets"]}
    wanted = {v for k, v in spec["env"].items() if k.endswith("_FILE")}
    assert wanted and wanted <= files
    assert {s["fileMode"] for s in spec["secrets"]} == {0o400}
    assert {s["fileUid"] for s in spec["secrets"]} == {"10001"}


@pytest.mark.parametrize(
    ("service", "file"),
    [("redis", "redis-password"), ("qdrant", "qdrant-api-key"), ("nginx", "privkey.pem")],
)
def test_services_read_their_secret_as_a_file(swarm, service, file):
    assert file in [s["fileName"] for s in container(swarm, service)["secrets"]]


@pytest.mark.parametrize("service", SERVICES)
class TestEveryServiceKeepsTheBaseline:
    def test_rotates_json_logs_at_1m_times_3(self, swarm, service):
        log = task(swarm, service)["logDriver"]
        assert log == {"name": "json-file", "options": baseline.LOG_OPTS}

    def test_has_a_healthcheck(self, swarm, service):
        test = container(swarm, service)["healthcheck"]["tests"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1

    def test_restarts_always(self, swarm, service):
        assert task(swarm, service)["restartPolicy"]["condition"] == "any"

    def test_drops_every_capability(self, swarm, service):
        spec = container(swarm, service)
        assert spec["capDrops"] == ["ALL"] and not spec.get("capAdds")

    def test_limits_memory(self, swarm, service):
        limits = config.offline("swarm").sizes.memory_mb
        limits |= {s.name: s.memory_mb for s in monitoring_specs.services(config.offline("swarm"))}
        memory = task(swarm, service)["resources"]["limits"]["memoryBytes"]
        assert memory == limits[service] * 1024 * 1024

    def test_read_only_root_with_tmpfs(self, swarm, service):
        spec = container(swarm, service)
        assert spec["readOnly"] is True
        assert "/tmp" in [m["target"] for m in spec["mounts"] if m["type"] == "tmpfs"]

    def test_carries_the_labels_tests_infra_selects_by(self, swarm, service):
        labels = {i["label"]: i["value"] for i in container(swarm, service)["labels"]}
        assert labels["org.ora.service"] == service and labels["org.ora.stack"] == "swarm"


def test_what_swarm_cannot_carry_is_named_with_its_reason():
    spec = baseline.Baseline("x", "s", 64, baseline.Healthcheck(test=["CMD", "true"]))
    carried = {
        "restart",
        "log_driver",
        "log_opts",
        "healthcheck",
        "capabilities",
        "memory",
        "read_only",
        "tmpfs",
        "labels",
        "stop_timeout",
        "destroy_grace_seconds",  # stop_grace_period: Swarm stops a task with it
        "wait",  # converge_config: pulumi up waits for running (healthy) tasks
        "wait_timeout",
        "must_run",
        "remove_volumes",  # tasks' anonymous volumes go with their tasks
    }
    missing = set(containers.container_args(spec)) - carried
    assert missing == set(swarm_spec.NOT_IN_SWARM)
    assert all(reason for reason in swarm_spec.NOT_IN_SWARM.values())


def test_tmpfs_size_is_carried_over():
    mount = swarm_spec.tmpfs_mount("/tmp", "rw,noexec,nosuid,size=64m")
    assert mount.tmpfs_options.size_bytes == 64 * 1024 * 1024
