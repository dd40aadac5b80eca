"""`make tunnel` builds an ssh command that forwards to the containers' internal addresses."""

from infra import config
from infra.ops import tunnel


def test_forwards_each_found_service_on_loopback_only():
    cfg = config.offline("prod")
    command = tunnel.ssh_command(cfg, {"prometheus": "172.20.0.5", "grafana": "172.20.0.9"})
    forwards = [command[i + 1] for i, arg in enumerate(command) if arg == "-L"]
    assert forwards == ["127.0.0.1:3000:172.20.0.9:3000", "127.0.0.1:9090:172.20.0.5:9090"]
    assert command[-1] == f"{cfg.access.ssh_user}@{cfg.access.host}"
    assert "-N" in command


def test_asks_docker_for_the_monitoring_network_address():
    """The only address Prometheus listens on (infra/monitoring/specs.py: NETWORKS)."""
    cfg = config.offline("prod")
    query = tunnel.address_query(cfg, "alertmanager")
    assert query[-1] == "ora-prod-alertmanager"
    assert '"ora-prod-monitoring"' in query[3]
