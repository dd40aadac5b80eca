"""Edge changes are releases on a volume that nginx reloads; the container stays."""

import ipaddress
import subprocess

import pytest

from infra.edge import release as edge_release
from infra.services import nginx
from infra.targets.host import network
from tests.unit import program

BASE = program.evaluate("prod")


def nginx_inputs(graph):
    return program.unwrap(graph.container("nginx").inputs)


@pytest.mark.parametrize(
    "change",
    [{"rateLimit": "50r/s"}, {"maintenance": "true"}, {"clientMaxBodySize": "1m"}],
    ids=lambda c: next(iter(c)),
)
def test_an_edge_config_change_leaves_the_nginx_container_as_it_was(change):
    changed = program.evaluate("prod", overrides=change)
    assert nginx_inputs(changed) == nginx_inputs(BASE)
    installer = program.unwrap(changed.container("nginx-config").inputs)
    assert installer["uploads"] != program.unwrap(BASE.container("nginx-config").inputs)["uploads"]


def test_a_new_certificate_leaves_the_nginx_container_as_it_was():
    from tests.unit.certs import make_pair

    cert, key = make_pair("ora.example.com")
    rotated = program.evaluate(
        "prod", secrets={**program.PROD_SECRETS, "tlsCertificate": cert, "tlsPrivateKey": key}
    )
    assert nginx_inputs(rotated) == nginx_inputs(BASE)


def test_nginx_reads_the_live_release_read_only():
    volumes = BASE.container("nginx").plain("volumes")
    config = [v for v in volumes if v["containerPath"] == edge_release.ROOT]
    assert config == [
        {"volumeName": "ora-prod-edge-config", "containerPath": edge_release.ROOT, "readOnly": True}
    ]
    # Monitoring is on by default: the launcher also rotates the access log mtail reads.
    launcher = edge_release.launch_script(access_log_file=nginx.ACCESS_LOG_FILE)
    assert BASE.container("nginx").plain("command") == ["sh", "-c", launcher]


def test_installer_writes_the_release_volume_and_keeps_the_key_secret():
    installer = BASE.container("nginx-config")
    volumes = installer.plain("volumes")
    assert {"volumeName": "ora-prod-edge-config", "containerPath": edge_release.ROOT} in volumes
    assert program.is_secret(installer.inputs["uploads"])
    files = {u["file"] for u in installer.plain("uploads")}
    assert {
        f"{edge_release.STAGING}/nginx.conf",
        f"{edge_release.STAGING}/tls/privkey.pem",
    } <= files


class FailingInstaller(program.Recorder):
    """The mocks, with the edge installer's run failing as nginx -t would make it."""

    def new_resource(self, args):
        rid, outputs = super().new_resource(args)
        if args.name == "nginx-config":
            logs = 'nginx: [emerg] unknown directive "no_such_directive"'
            outputs = {**outputs, "exitCode": 1, "containerLogs": logs}
        return rid, outputs


def test_a_config_nginx_rejects_fails_the_program_with_nginxs_error():
    values = {f"ora:{k}": v for k, v in program.stack_values("dev").items()}
    with pytest.raises(RuntimeError, match=r'exited with 1(.|\n)*unknown directive "no_such'):
        program.run_program(FailingInstaller(program.Declared()), "dev", values)


def edge_address(replica) -> str:
    (edge,) = [n for n in replica.plain("networksAdvanced") if n["name"].endswith("-edge")]
    return edge["ipv4Address"]


def uploaded(installer, path: str) -> str:
    files = {u["file"]: u["content"] for u in installer.plain("uploads")}
    return files[f"{edge_release.STAGING}/{path}"]


def test_the_upstream_names_every_replica_at_its_static_edge_address():
    graph = program.evaluate("prod", overrides={"appReplicas": "3"})
    # by index (app-web-0, -1, …): resources register in no fixed order
    replicas = sorted(
        (c for c in graph.containers if program.service_of(c) == "app"), key=lambda c: c.name
    )
    addresses = [edge_address(r) for r in replicas]
    conf = uploaded(graph.container("nginx-config"), "conf.d/ora.conf")
    servers = [x.split()[1] for x in conf.splitlines() if x.strip().startswith("server 1")]
    assert servers == [f"{a}:8000" for a in addresses] and len(set(addresses)) == 3
    for address in map(ipaddress.ip_address, addresses):
        assert address in network.EDGE_SUBNET and address not in network.EDGE_DYNAMIC_RANGE
    assert "keepalive 256;" in conf


def test_the_edge_network_reserves_the_static_addresses():
    (edge,) = [n for n in BASE.of_type("docker:index/network:Network") if "edge" in n.name]
    assert edge.plain("ipamConfigs") == [
        {"subnet": str(network.EDGE_SUBNET), "ipRange": str(network.EDGE_DYNAMIC_RANGE)}
    ]


@pytest.mark.parametrize("index", [0, network.MAX_REPLICAS - 1])
def test_a_new_generation_of_replicas_takes_other_addresses(index):
    old, new = (network.replica_address(g, index) for g in ("3f9a1c2b77aa-0c1d2e", "9e8d-aa01"))
    assert old != new
    for address in map(ipaddress.ip_address, (old, new)):
        assert address in network.EDGE_SUBNET and address not in network.EDGE_DYNAMIC_RANGE
        assert address != network.EDGE_SUBNET.broadcast_address


def test_a_replica_index_beyond_the_block_is_refused():
    with pytest.raises(ValueError, match=r"replica index 16 outside 0\.\.15"):
        network.replica_address("any", network.MAX_REPLICAS)


@pytest.mark.parametrize("service", ["nginx", "nginx-config"])
def test_nginx_and_its_installer_share_the_reload_acknowledgements(service):
    volumes = BASE.container(service).plain("volumes")
    assert {"volumeName": "ora-prod-edge-state", "containerPath": edge_release.STATE} in volumes


def _rotate_in(tmp_path, size: int) -> str:
    log = tmp_path / "access.log"
    log.write_bytes(b"x" * size)
    (tmp_path / "access.log.1").write_text("older\n")
    stub = tmp_path / "nginx"  # records how it was called: the launcher's `nginx -s reopen`
    stub.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/calls\n')
    stub.chmod(0o755)
    script = edge_release._rotate(str(log), str(stub), "/conf")
    subprocess.run(["sh", "-c", script], check=True)
    calls = tmp_path / "calls"
    return calls.read_text() if calls.exists() else ""


def test_launcher_rotates_the_access_log_past_1_mb_and_reopens(tmp_path):
    calls = _rotate_in(tmp_path, edge_release.LOG_ROTATE_BYTES + 1)
    assert calls == "-s reopen -c /conf\n"
    assert not (tmp_path / "access.log").exists()
    assert (tmp_path / "access.log.1").stat().st_size == edge_release.LOG_ROTATE_BYTES + 1
    assert (tmp_path / "access.log.2").read_text() == "older\n"


def test_launcher_leaves_a_small_access_log_alone(tmp_path):
    assert _rotate_in(tmp_path, 100) == ""
    assert (tmp_path / "access.log").stat().st_size == 100
