"""The monitoring component under mocks: placement, hardening, secrets, and the switch."""

import json

import pytest

from infra import config
from infra.monitoring import specs as monitoring_specs
from infra.monitoring.runtime import REDIS_PASSWORDS_FILE
from infra.services import nginx, redis_acl
from tests.unit import program
from tests.unit.program import role_of, service_of

PROD = program.evaluate("prod")
DEV = program.evaluate("dev")
OFF = program.evaluate("prod", overrides={"monitoring": "false"})
NAMES = [s.name for s in monitoring_specs.services(config.offline("prod"))]
SPECS = {s.name: s for s in monitoring_specs.services(config.offline("prod"))}
GENERATED = "generated-" + "x" * 30  # every RandomPassword under the mocks (program.py)


def _networks(container) -> list[str]:
    return [n["name"] for n in container.plain("networksAdvanced") or []]


def _upload(graph, writer_service: str, file_name: str) -> tuple[str, bool]:
    """The uploaded content of `file_name`, and whether it stays marked secret."""
    raw = graph.container(writer_service).inputs["uploads"]
    items = raw["value"] if program.is_secret(raw) else raw
    for item in items:
        if program.unwrap(item)["file"].endswith("/" + file_name):
            secret = program.is_secret(raw) or program.is_secret(item)
            secret = secret or program.is_secret(item.get("content"))
            return program.unwrap(item)["content"], secret
    raise AssertionError(f"{writer_service} uploads no {file_name}")


def test_monitoring_is_on_by_default_with_grafana():
    assert set(NAMES) == {
        "prometheus",
        "alertmanager",
        "node-exporter",
        "blackbox-exporter",
        "mtail",
        "redis-exporter",
        "grafana",
    }


@pytest.mark.parametrize("service", NAMES)
def test_sits_on_monitoring_and_joins_another_network_only_for_a_reason(service):
    networks = _networks(PROD.container(service))
    reasons = monitoring_specs.NETWORKS.get(service, {})
    assert networks == ["ora-prod-monitoring", *(f"ora-prod-{n}" for n in reasons)], service


@pytest.mark.parametrize("service", NAMES)
def test_carries_its_alias_on_monitoring_only(service):
    aliases = {
        n["name"]: n.get("aliases") for n in PROD.container(service).plain("networksAdvanced")
    }
    assert aliases.pop("ora-prod-monitoring") == [service]
    assert not any(aliases.values()), f"{service}: {aliases}"


def test_prometheus_listens_on_its_monitoring_alias_only():
    prometheus = PROD.container("prometheus")
    assert "--web.listen-address=prometheus:9090" in prometheus.plain("command")
    assert prometheus.plain("healthcheck")["tests"][-1] == "http://prometheus:9090/-/ready"
    uploads = program.unwrap(PROD.container("monitoring-config").inputs["uploads"])
    config_file = next(u["content"] for u in uploads if u["file"].endswith("/prometheus.yml"))
    assert '- targets: ["prometheus:9090"]' in config_file  # it scrapes itself there too
    assert "localhost:9090" not in config_file


def test_the_monitoring_network_has_no_route_out_and_alerting_holds_alertmanager_alone():
    networks = {n.plain("name"): n for n in PROD.of_type("docker:index/network:Network")}
    assert networks["ora-prod-monitoring"].plain("internal") is True
    assert not networks["ora-prod-alerting"].plain("internal")
    on_alerting = [c.name for c in PROD.containers if "ora-prod-alerting" in _networks(c)]
    assert on_alerting == ["monitoring-alertmanager"]


@pytest.mark.parametrize("service", NAMES)
def test_publishes_no_port(service):
    assert not PROD.container(service).plain("ports")


def test_only_nginx_publishes_ports_with_monitoring_on():
    publishing = {service_of(c) for c in PROD.containers if c.plain("ports")}
    assert publishing == {"nginx"}


@pytest.mark.parametrize("service", NAMES)
class TestBaseline:
    def test_limits_memory_without_swap(self, service):
        c = PROD.container(service)
        assert c.plain("memory") == c.plain("memorySwap") == SPECS[service].memory_mb

    def test_runs_as_non_root(self, service):
        user = PROD.container(service).plain("user")
        assert user and not user.startswith("0"), user

    def test_has_a_read_only_root_and_drops_every_capability(self, service):
        c = PROD.container(service)
        assert c.plain("readOnly") is True
        assert c.plain("capabilities") == {"drops": ["ALL"]}
        assert "no-new-privileges:true" in c.plain("securityOpts")

    def test_has_a_healthcheck_and_rotated_logs(self, service):
        c = PROD.container(service)
        assert c.plain("healthcheck")["tests"][0] == "CMD"
        assert c.plain("logOpts") == {"max-size": "1m", "max-file": "3"}

    def test_image_is_pinned_by_digest_unless_listed(self, service):
        if service not in monitoring_specs.UNPINNED:
            assert "@sha256:" in monitoring_specs.IMAGES[service]


@pytest.mark.parametrize(
    ("key", "file", "writer"),
    [
        ("smtpPassword", "smtp-password", "alertmanager-secrets"),
        ("grafanaAdminPassword", "grafana-admin-password", "grafana-secrets"),
        ("qdrantApiKey", "qdrant-api-key", "prometheus-secrets"),
    ],
)
def test_password_reaches_its_service_only_as_a_secret_file(key, file, writer):
    _content, secret = _upload(PROD, writer, file)
    assert secret
    value = program.PROD_SECRETS[key]
    for c in PROD.containers:
        if role_of(c) is None:  # services: never in command, environment or labels
            assert not program.contains(program.unwrap(c.inputs), value), c.name


def test_redis_exporter_logs_in_as_its_own_user_from_a_secret_json_file():
    content, secret = _upload(PROD, "redis-exporter-secrets", REDIS_PASSWORDS_FILE)
    assert secret
    assert json.loads(content) == {"redis://redis:6379": GENERATED}
    command = PROD.container("redis-exporter").plain("command")
    assert f"-redis.user={redis_acl.EXPORTER_USER}" in command
    assert "-config-command=-" in command  # CONFIG GET * answers with requirepass


def test_redis_exporter_never_gets_the_redis_password():
    value = program.PROD_SECRETS["redisPassword"]
    for c in PROD.containers:
        if "redis-exporter" in service_of(c):
            assert not program.contains(program.unwrap(c.inputs), value), c.name


def test_redis_knows_the_exporter_by_its_passwords_hash_only():
    content, secret = _upload(PROD, "redis-secrets", redis_acl.USERS_FILE)
    assert secret
    assert content == redis_acl.exporter_user(GENERATED)
    assert GENERATED not in content


def test_monitoring_false_leaves_redis_without_the_exporter_user_or_network():
    redis = OFF.container("redis")
    assert _networks(redis) == ["ora-prod-internal"]
    uploads = program.unwrap(OFF.container("redis-secrets").inputs["uploads"])
    assert [u["file"].rsplit("/", 1)[-1] for u in uploads] == ["redis-password"]
    assert _networks(OFF.container("nginx")) == ["ora-prod-edge"]
    names = {n.plain("name") for n in OFF.of_type("docker:index/network:Network")}
    assert names == {"ora-prod-edge", "ora-prod-internal"}


def test_smtp_password_file_has_no_trailing_newline():
    secrets = {**program.PROD_SECRETS, "smtpPassword": "relay-password\n"}
    graph = program.evaluate("prod", secrets=secrets)
    content, _secret = _upload(graph, "alertmanager-secrets", "smtp-password")
    assert content == "relay-password"


def test_dev_generates_the_grafana_password_and_exports_it_as_a_secret():
    assert "grafanaAdminPassword" in DEV.secret_outputs
    assert "grafanaAdminPassword" not in PROD.outputs


def test_prod_without_grafana_password_is_a_config_error():
    secrets = {k: v for k, v in program.PROD_SECRETS.items() if k != "grafanaAdminPassword"}
    with pytest.raises(Exception, match="grafanaAdminPassword"):
        program.evaluate("prod", secrets=secrets)


def test_grafana_off_keeps_the_rest():
    graph = program.evaluate("prod", overrides={"grafana": "false"})
    services = {service_of(c) for c in graph.services}
    assert "grafana" not in services and "prometheus" in services


def test_monitoring_false_removes_every_monitoring_resource():
    names = {r.name for r in OFF.resources}
    assert not [n for n in names if n.startswith("monitoring")]
    assert not set(NAMES) & {service_of(c) for c in OFF.containers}
    assert "monitoring" not in OFF.outputs and "grafanaAdminPassword" not in OFF.outputs


def test_monitoring_false_leaves_nginx_without_the_log_file():
    volumes = OFF.container("nginx").plain("volumes")
    assert nginx.LOGS_DIR not in [v["containerPath"] for v in volumes]
    uploads = program.unwrap(OFF.container("nginx-config").inputs["uploads"])
    conf = next(u["content"] for u in uploads if u["file"].endswith("/nginx.conf"))
    assert nginx.ACCESS_LOG_FILE not in conf


def test_nginx_writes_the_access_log_mtail_reads():
    uploads = program.unwrap(PROD.container("nginx-config").inputs["uploads"])
    conf = next(u["content"] for u in uploads if u["file"].endswith("/nginx.conf"))
    assert f"access_log {nginx.ACCESS_LOG_FILE} ora_json buffer=64k flush=1s;" in conf
    mtail = PROD.container("mtail")
    logs = [v for v in mtail.plain("volumes") if v["containerPath"] == nginx.LOGS_DIR]
    assert logs == [
        {"volumeName": "ora-prod-edge-logs", "containerPath": nginx.LOGS_DIR, "readOnly": True}
    ]
    assert nginx.ACCESS_LOG_FILE in mtail.plain("command")


def test_mtail_reads_the_app_worker_and_scheduler_log_files():
    from infra.services.app import LOGS_DIR

    mtail = PROD.container("mtail")
    logs = [v for v in mtail.plain("volumes") if v["containerPath"] == LOGS_DIR]
    assert logs == [
        {"volumeName": "ora-prod-app-logs", "containerPath": LOGS_DIR, "readOnly": True}
    ]
    command = mtail.plain("command")
    assert [command[i + 1] for i, a in enumerate(command) if a == "-logs"] == [
        nginx.ACCESS_LOG_FILE,
        f"{LOGS_DIR}/*.log",
    ]


def test_prometheus_keeps_a_bounded_tsdb_on_its_own_volume():
    cfg = config.offline("prod").monitoring
    prometheus = PROD.container("prometheus")
    command = prometheus.plain("command")
    assert f"--storage.tsdb.retention.time={cfg.retention}" in command
    assert f"--storage.tsdb.retention.size={cfg.retention_size}" in command
    volumes = {v["containerPath"]: v["volumeName"] for v in prometheus.plain("volumes")}
    assert volumes["/prometheus"] == "ora-prod-prometheus-data"
    alertmanager = {
        v["containerPath"]: v["volumeName"] for v in PROD.container("alertmanager").plain("volumes")
    }
    assert alertmanager["/alertmanager"] == "ora-prod-alertmanager-data"


def test_installed_config_names_the_stacks_secret_files():
    uploads = program.unwrap(PROD.container("monitoring-config").inputs["uploads"])
    files = {u["file"].removeprefix(monitoring_specs.STAGING + "/"): u["content"] for u in uploads}
    assert "credentials_file: /run/secrets/qdrant-api-key" in files["prometheus/prometheus.yml"]
    assert (
        "smtp_auth_password_file: /run/secrets/smtp-password"
        in files["alertmanager/alertmanager.yml"]
    )
    for text in files.values():
        for value in program.PROD_SECRETS.values():
            assert value.strip().splitlines()[-1] not in text


def test_node_exporter_reads_the_hosts_textfile_dir_read_only():
    directory = config.offline("prod").backup_textfile_dir
    node = PROD.container("node-exporter")
    binds = [v for v in node.plain("volumes") if v.get("hostPath")]
    mount = monitoring_specs.TEXTFILE_MOUNT
    assert binds == [{"hostPath": directory, "containerPath": mount, "readOnly": True}]
    assert f"--collector.textfile.directory={mount}" in node.plain("command")


@pytest.mark.parametrize("service", [n for n in NAMES if n != "node-exporter"])
def test_only_node_exporter_mounts_a_host_path(service):
    assert not [v for v in PROD.container(service).plain("volumes") or [] if v.get("hostPath")]


@pytest.mark.parametrize(("window", "floor"), [("10m", 102400), ("15s", 2560), ("1h", 614400)])
def test_log_growth_floor_is_per_10_minutes_scaled_to_the_window(window, floor):
    from infra.monitoring import rules as monitoring_rules

    assert monitoring_rules.window_floor(102400, window) == floor
    timing = monitoring_rules.Timing(window=window)
    m = config.offline("prod").monitoring
    (rule,) = [a for a in monitoring_rules.alerts(m, timing, ("/",)) if a.name == "LogGrowth"]
    assert rule.expr.endswith(f"> {floor}")
