"""Monitoring on the swarm target under mocks (infra/targets/swarm/monitoring.py): the host
target's services and files, placed for a swarm, on the same networks, each reading only
its own files and secrets. The baseline every service keeps is in test_swarm.py."""

from __future__ import annotations

import base64

import pytest
import yaml

from infra import config
from infra.monitoring import files as monitoring_files
from infra.monitoring import specs
from infra.monitoring.runtime import CURRENT
from infra.services import nginx as services_nginx
from infra.services import redis as services_redis
from infra.services import redis_acl
from infra.targets.swarm import monitoring as swarm_monitoring
from infra.targets.swarm import nginx as swarm_nginx
from tests.unit import program
from tests.unit.program import is_secret
from tests.unit.targets.swarm.test_swarm import SECRETS, container, services, task

CONFIG = "docker:index/serviceConfig:ServiceConfig"
SECRET = "docker:index/secret:Secret"
CFG = config.offline("swarm")
MONITORING = {s.name: s for s in swarm_monitoring.services(CFG)}


@pytest.fixture(scope="module")
def swarm() -> program.Declared:
    return program.evaluate("swarm", secrets=SECRETS)


def networks_of(declared, service: str) -> dict[str, list[str]]:
    return {
        n["id"].removeprefix("swarm-network-").removesuffix("-id"): n.get("aliases", [])
        for n in task(declared, service)["networksAdvanceds"]
    }


def config_files(declared) -> dict[str, str]:
    """Config name -> its text."""
    return {
        r.plain("name"): base64.b64decode(r.plain("data")).decode()
        for r in declared.of_type(CONFIG)
    }


def test_every_monitoring_service_has_a_placement():
    assert set(MONITORING) <= set(swarm_monitoring.PLACEMENT)


@pytest.mark.parametrize("service", sorted(MONITORING))
def test_placement(swarm, service):
    declared = services(swarm)[service]
    placement = swarm_monitoring.PLACEMENT[service]
    mode = declared.plain("mode")
    if placement.replicas is None:
        assert mode == {"global": True}
    else:
        assert mode["replicated"]["replicas"] == placement.replicas
    constraints = task(swarm, service)["placement"].get("constraints") or []
    assert constraints == list(placement.constraints)
    if MONITORING[service].data_path:  # its volume stays on a manager
        assert swarm_monitoring.MANAGER in constraints


@pytest.mark.parametrize("service", sorted(MONITORING))
def test_on_the_host_targets_networks_with_its_alias_on_monitoring_only(swarm, service):
    joined = networks_of(swarm, service)
    assert list(joined) == list(MONITORING[service].networks)
    assert joined["monitoring"] == [service]
    assert all(not aliases for net, aliases in joined.items() if net != "monitoring")
    assert "edge" not in joined


def test_only_alertmanager_has_a_route_out(swarm):
    routed = [s for s in MONITORING if "alerting" in networks_of(swarm, s)]
    assert routed == ["alertmanager"]


@pytest.mark.parametrize("service", sorted(MONITORING))
def test_each_service_mounts_its_own_files_at_the_host_targets_paths(swarm, service):
    mounted = sorted(c["fileName"] for c in container(swarm, service).get("configs") or [])
    reads = swarm_monitoring.READS.get(service)
    files = monitoring_files.config_files(CFG, swarm_monitoring.runtime(CFG))
    expected = [f"{CURRENT}/{path}" for path in files if reads and path.startswith(reads)]
    if service == "blackbox-exporter" and CFG.edge.tls_mode == "self-signed":
        expected.append(f"{CURRENT}/blackbox/ca.pem")
    assert mounted == sorted(expected)
    for command_path in (a.split("=", 1)[-1] for a in MONITORING[service].command):
        if command_path.startswith(f"{CURRENT}/") and command_path.endswith((".yml", ".yaml")):
            assert command_path in mounted, f"{service} reads {command_path}, not mounted"


def test_prometheus_finds_each_nodes_exporter_and_mtail_by_dns(swarm):
    [text] = [t for name, t in config_files(swarm).items() if "prometheus.yml" in name]
    jobs = {job["job_name"]: job for job in yaml.safe_load(text)["scrape_configs"]}
    for job, service in (("node", "node-exporter"), ("mtail", "mtail")):
        [found] = jobs[job]["dns_sd_configs"]
        assert found["names"] == [service] and found["type"] == "A"
        assert "static_configs" not in jobs[job]
    assert jobs["redis"]["static_configs"] == [{"targets": ["redis-exporter:9121"]}]
    assert jobs["app"]["dns_sd_configs"][0]["names"] == ["app"]


@pytest.mark.parametrize("service", sorted(s for s in MONITORING if MONITORING[s].secrets))
def test_secret_files_are_swarm_secrets_read_only_to_the_service(swarm, service):
    mounts = {m["fileName"]: m for m in container(swarm, service)["secrets"]}
    assert set(mounts) == set(MONITORING[service].secrets)
    uid = MONITORING[service].uid
    for mount in mounts.values():
        assert (mount["fileUid"], mount["fileGid"], mount["fileMode"]) == (uid, uid, 0o400)
    names = {r.plain("name") for r in swarm.of_type(SECRET)}
    assert {m["secretName"] for m in mounts.values()} <= names


def test_every_swarm_secret_holds_secret_data(swarm):
    for secret in swarm.of_type(SECRET):
        assert is_secret(secret.inputs["data"]), secret.name


def test_mtail_reads_every_nodes_log_volumes_read_only(swarm):
    mounts = {m["target"]: m for m in container(swarm, "mtail")["mounts"] if m["type"] == "volume"}
    assert mounts[services_nginx.LOGS_DIR]["source"] == "ora-swarm-edge-logs"
    assert mounts[specs.APP_LOGS_DIR]["source"] == "ora-swarm-app-logs"
    assert all(m["readOnly"] for m in mounts.values())


def test_nginx_writes_the_access_log_mtail_reads_and_rotates_it(swarm):
    spec = container(swarm, "nginx")
    mounts = {m["target"]: m for m in spec["mounts"] if m["type"] == "volume"}
    assert mounts[swarm_nginx.LOGS_MOUNT]["source"] == "ora-swarm-edge-logs"
    assert not mounts[swarm_nginx.LOGS_MOUNT].get("readOnly")
    launch = spec["args"][-1]
    assert f'mv -f "{swarm_nginx.ACCESS_LOG}" "{swarm_nginx.ACCESS_LOG}.1"' in launch
    assert "monitoring" in networks_of(swarm, "nginx")
    [conf] = [t for name, t in config_files(swarm).items() if "nginx.conf" in name]
    assert swarm_nginx.ACCESS_LOG in conf


def test_redis_reads_the_exporters_user_file(swarm):
    files = {m["fileName"] for m in container(swarm, "redis")["secrets"]}
    assert files == {services_redis.CREDENTIAL_FILE, redis_acl.USERS_FILE}


def test_without_monitoring_nginx_logs_to_stdout_only():
    declared = program.evaluate("swarm", {"monitoring": "false"}, secrets=SECRETS)
    spec = container(declared, "nginx")
    assert spec["args"][-1] == swarm_nginx.LAUNCH
    assert [m["type"] for m in spec["mounts"]].count("volume") == 1  # static
    assert len(container(declared, "redis")["secrets"]) == 1


def test_prometheus_listens_on_every_address_of_its_task(swarm):
    """Its alias is in Swarm's DNS only once it is healthy: listening on it would never
    start."""
    args = container(swarm, "prometheus")["args"]
    assert f"--web.listen-address={swarm_monitoring.PROMETHEUS_LISTEN}" in args
    assert "localhost:9090" in container(swarm, "prometheus")["healthcheck"]["tests"][-1]
    [text] = [t for name, t in config_files(swarm).items() if "prometheus.yml" in name]
    jobs = {job["job_name"]: job for job in yaml.safe_load(text)["scrape_configs"]}
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["localhost:9090"]}]


def test_node_exporter_reads_no_textfile_directory_on_swarm(swarm):
    """Its writers (backups, ora-container-metrics) are timers of a bootstrapped host."""
    assert CFG.backup_textfile_dir  # the stack's default names one
    spec = container(swarm, "node-exporter")
    assert not [a for a in spec["args"] if "textfile" in a]
    assert specs.TEXTFILE_MOUNT not in [m["target"] for m in spec["mounts"]]
