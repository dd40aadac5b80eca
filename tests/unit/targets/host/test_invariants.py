"""Policies every stack must satisfy, asserted on the declared resource graph."""

import urllib.parse

import pytest

from infra import config
from infra.monitoring import specs as monitoring_specs
from tests.unit.program import service_of

SERVICES = ("nginx", "redis", "qdrant", "app", "worker")
NON_ROOT = {"nginx": "101:101", "redis": "999:999", "app": "10001:10001", "worker": "10001:10001"}


def test_every_service_is_declared(declared):
    monitoring = {s.name for s in monitoring_specs.services(config.offline(declared.stack))}
    assert {service_of(c) for c in declared.services} == set(SERVICES) | monitoring


def test_only_nginx_publishes_ports(declared):
    for c in declared.containers:
        if service_of(c) != "nginx":
            assert not c.plain("ports"), f"{c.name} publishes {c.plain('ports')}"


def test_nginx_publishes_exactly_http_and_https(declared):
    edge = config.offline(declared.stack).edge
    ports = declared.container("nginx").plain("ports")
    published = sorted((p["external"], p["ip"]) for p in ports)
    assert published == sorted(
        [(edge.http_port, edge.bind_address), (edge.https_port, edge.bind_address)]
    )


def test_internal_network_has_no_route_out(declared):
    internal = [
        n for n in declared.of_type("docker:index/network:Network") if n.name.endswith("internal")
    ]
    assert [n.plain("internal") for n in internal] == [True]


@pytest.mark.parametrize("service", ["redis", "qdrant"])
def test_datastores_sit_only_on_networks_with_no_route_out(declared, service):
    """Redis also joins `monitoring`, for its exporter's INFO-only user
    (infra/services/redis_acl.py)."""
    networks = [n["name"] for n in declared.container(service).plain("networksAdvanced")]
    expected = [f"ora-{declared.stack}-internal"]
    if service == "redis" and config.offline(declared.stack).monitoring.enabled:
        expected.append(f"ora-{declared.stack}-monitoring")
    assert networks == expected, f"{service} joins {networks}"


def _joined(container) -> dict[str, list[str]]:
    """network name -> the container's aliases on it."""
    return {n["name"]: n.get("aliases") or [] for n in container.plain("networksAdvanced") or []}


def _listen_host(container) -> str | None:
    """The host of a --web.listen-address / -web.listen-address flag ("" = every address)."""
    for arg in container.plain("command") or []:
        if arg.lstrip("-").startswith("web.listen-address="):
            return arg.split("=", 1)[1].rsplit(":", 1)[0]
    return None


def test_no_monitoring_port_is_reachable_from_the_app_or_the_worker(declared):
    """Code run in the app must not silence alerts, read Prometheus or make blackbox probe
    for it (issue 23, finding 5). A monitoring container may share a network with the app
    only if it listens on an address of another network: its alias there, none here."""
    monitoring = {s.name for s in monitoring_specs.services(config.offline(declared.stack))}
    app_networks = {
        name for c in declared.services if service_of(c) in ("app", "worker") for name in _joined(c)
    }
    for c in declared.services:
        if service_of(c) not in monitoring:
            continue
        joined = _joined(c)
        shared = app_networks & set(joined)
        if not shared:
            continue
        host = _listen_host(c)
        assert host, f"{c.name} listens on every address of {sorted(shared)}, the app's"
        assert not any(host in joined[n] for n in shared), f"{c.name} listens on {host}"
        homes = [n for n, aliases in joined.items() if host in aliases]
        assert homes and not set(homes) & app_networks, f"{c.name}: {host} is on {homes}"


def test_only_alertmanager_has_a_route_out_among_monitoring(declared):
    if not config.offline(declared.stack).monitoring.enabled:
        pytest.skip("monitoring off")
    networks = {n.plain("name"): n for n in declared.of_type("docker:index/network:Network")}
    routed = {name for name, n in networks.items() if not n.plain("internal")}
    monitoring = {s.name for s in monitoring_specs.services(config.offline(declared.stack))}
    for c in declared.services:
        if service_of(c) in monitoring:
            out = routed & set(_joined(c))
            expected = (
                {f"ora-{declared.stack}-alerting"} if service_of(c) == "alertmanager" else set()
            )
            assert out == expected, f"{c.name} has a route out through {sorted(out)}"


def _scrapes(declared) -> list[tuple[str, str]]:
    """(scraper, host it resolves) for every name a monitoring config names."""
    cfg = config.offline(declared.stack)
    runtime = monitoring_specs.runtime(cfg)
    found = [("prometheus", target.rsplit(":", 1)[0]) for target in runtime.targets.values()]
    if runtime.app_dns:
        found.append(("prometheus", runtime.app_dns[0]))
    found.append(("redis-exporter", "redis"))  # -redis.addr
    found.append(("blackbox-exporter", urllib.parse.urlsplit(runtime.probe_url).hostname))
    if cfg.monitoring.grafana:
        found.append(("grafana", "prometheus"))  # its datasource
    return found


def test_every_name_a_monitoring_config_names_resolves_where_it_is_asked(declared):
    """Docker's DNS answers an alias to the containers on a network both share, and a
    container's name on any such network."""
    if not config.offline(declared.stack).monitoring.enabled:
        pytest.skip("monitoring off")
    for scraper, host in _scrapes(declared):
        mine = set(_joined(declared.container(scraper)))
        answers = [
            c.name
            for c in declared.services
            for network, aliases in _joined(c).items()
            if network in mine and (host in aliases or c.plain("name") == host)
        ]
        assert answers or host == "localhost", f"{scraper} cannot resolve {host}"


def test_app_replica_count_follows_config(declared):
    replicas = [c for c in declared.containers if service_of(c) == "app"]
    assert len(replicas) == config.offline(declared.stack).sizes.app_replicas


def test_app_replicas_share_the_alias_nginx_resolves(declared):
    for c in declared.containers:
        if service_of(c) == "app":
            edge = c.plain("networksAdvanced")[0]
            assert edge["aliases"] == ["app"], c.name


def test_prometheus_finds_the_worker_metrics_where_it_scrapes(declared):
    from infra.monitoring.runtime import DEFAULT_RUNTIME

    host, port = DEFAULT_RUNTIME.targets["worker"].split(":")
    worker = declared.container("worker")
    internal = [n for n in worker.plain("networksAdvanced") if n["name"].endswith("internal")]
    assert [n["aliases"] for n in internal] == [[host]]
    assert f"WORKER_METRICS_PORT={port}" in worker.plain("envs")


@pytest.mark.parametrize("writer", ["app", "worker"])
def test_app_and_worker_write_log_files_on_the_app_logs_volume(declared, writer):
    from infra.services.app import LOGS_DIR

    for c in declared.services:
        if service_of(c) == writer:
            mounts = [v for v in c.plain("volumes") if v["containerPath"] == LOGS_DIR]
            volume = f"ora-{declared.stack}-app-logs"
            assert mounts == [{"volumeName": volume, "containerPath": LOGS_DIR}], c.name
            assert f"ORA_LOG_DIR={LOGS_DIR}" in c.plain("envs"), c.name


def test_the_app_logs_volume_is_declared(declared):
    names = [v.plain("name") for v in declared.of_type("docker:index/volume:Volume")]
    assert f"ora-{declared.stack}-app-logs" in names


@pytest.mark.parametrize("service", SERVICES)
class TestEveryContainer:
    def test_rotates_json_logs_at_1m_times_3(self, declared, service):
        c = declared.container(service)
        assert c.plain("logDriver") == "json-file"
        assert c.plain("logOpts") == {"max-size": "1m", "max-file": "3"}

    def test_has_a_healthcheck(self, declared, service):
        test = declared.container(service).plain("healthcheck")["tests"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1

    def test_restarts_unless_stopped(self, declared, service):
        assert declared.container(service).plain("restart") == "unless-stopped"

    def test_drops_every_capability(self, declared, service):
        caps = declared.container(service).plain("capabilities")
        assert caps["drops"] == ["ALL"] and not caps.get("adds")

    def test_sets_no_new_privileges(self, declared, service):
        assert "no-new-privileges:true" in declared.container(service).plain("securityOpts")

    def test_limits_memory_and_processes(self, declared, service):
        c = declared.container(service)
        limits = config.offline(declared.stack).sizes.memory_mb
        assert c.plain("memory") == limits[service]
        assert c.plain("memorySwap") == limits[service]
        assert any(u["name"] == "nproc" for u in c.plain("ulimits"))

    def test_has_a_read_only_root_with_tmpfs(self, declared, service):
        c = declared.container(service)
        assert c.plain("readOnly") is True
        assert "/tmp" in c.plain("tmpfs")

    def test_waits_for_health_on_create(self, declared, service):
        assert declared.container(service).plain("wait") is True

    def test_runs_as_non_root_where_the_image_allows(self, declared, service):
        # Qdrant's official image runs as root (all capabilities dropped instead).
        expected = NON_ROOT.get(service)
        assert declared.container(service).plain("user") == expected


def test_remote_images_are_pinned_by_digest(declared):
    # Listed, not hidden: images whose digest could not be resolved here (no registry).
    unpinned = {monitoring_specs.IMAGES[name] for name in monitoring_specs.UNPINNED}
    for image in declared.of_type("docker:index/remoteImage:RemoteImage"):
        if image.plain("name") not in unpinned:
            assert "@sha256:" in image.plain("name"), image.name


def test_component_type_tokens_are_namespaced(declared):
    components = [
        r
        for r in declared.resources
        if not r.type.startswith(("docker:", "tls:", "random:", "command:", "pulumi:"))
    ]
    assert components and all(r.type.startswith("ora:infra:") for r in components)


def test_outputs_name_url_health_images_and_host(declared):
    assert {"url", "healthUrl", "images", "host"} <= set(declared.outputs)
    assert declared.outputs["healthUrl"] == declared.outputs["url"] + "/healthz"


def test_no_service_receives_uploads(declared):
    """Uploads force a writable root filesystem: only one-shot installers take them
    (tests/unit/targets/host/test_secret_files.py, tests/unit/edge/test_edge_config.py)."""
    receiving = {service_of(c) for c in declared.services if c.plain("uploads")}
    assert not receiving
