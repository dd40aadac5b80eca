"""tlsMode acme: certbot on the bootstrapped host, nginx mounting what it writes."""

import os
import subprocess

from infra import config
from infra.bootstrap import script as bootstrap
from infra.edge import acme
from infra.services import nginx
from tests.unit import program

ACME = {"tlsMode": "acme", "acmeEmail": "ops@example.com"}
GRAPH = program.evaluate("prod", overrides=ACME)


def test_nginx_mounts_the_hosts_certificate_and_webroot_read_only():
    volumes = GRAPH.container("nginx").plain("volumes")
    mounts = {v.get("hostPath"): v for v in volumes if v.get("hostPath")}
    assert set(mounts) == {acme.TLS_DIR, acme.WEBROOT}
    assert all(v["readOnly"] for v in mounts.values())


def test_nginx_receives_no_certificate_upload():
    assert not GRAPH.container("nginx").plain("uploads")
    files = [u["file"] for u in GRAPH.container("nginx-config").plain("uploads")]
    assert files and not [f for f in files if "/tls/" in f]


def test_nginx_config_installer_reads_the_hosts_certificate_for_nginx_t():
    volumes = GRAPH.container("nginx-config").plain("volumes")
    assert acme.TLS_DIR in {v.get("hostPath") for v in volumes}


def test_no_self_signed_certificate_is_made():
    assert not GRAPH.of_type("tls:index/selfSignedCert:SelfSignedCert")


def test_certificate_is_requested_over_ssh_with_the_configured_server():
    commands = [c.plain("create") for c in GRAPH.of_type("command:remote:Command")]
    issue = [c for c in commands if "certbot certonly" in c]
    assert len(issue) == 1
    assert "--server https://acme-v02.api.letsencrypt.org/directory" in issue[0]
    assert f"--webroot-path {acme.WEBROOT}" in issue[0]


def test_bootstrap_installs_certbot_placeholder_and_deploy_hook():
    script = bootstrap.script(
        config.parse(
            "prod",
            {**program.stack_values("prod"), **ACME},
            secrets_set=frozenset(program.PROD_SECRETS),
        )
    )
    assert 'need="$need certbot"' in script
    nginx = "docker exec ora-prod-nginx nginx -c /etc/ora-edge/live/nginx.conf"
    assert acme.deploy_hook(acme.TLS_DIR, nginx) in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def test_deploy_hook_passes_shellcheck():
    hook = acme.deploy_hook("/etc/ora/tls", "docker exec ora-prod-nginx nginx")
    result = subprocess.run(["shellcheck", "-"], input=hook, text=True, capture_output=True)
    assert result.returncode == 0, result.stdout


def _stat(path) -> tuple[str, int, int]:
    info = path.stat()
    return oct(info.st_mode & 0o777), info.st_uid, info.st_gid


# Read by nginx (its UID owns the key) and by the config installer's nginx -t (root
# without CAP_DAC_OVERRIDE: through group root); no other host group, nobody else.
KEY_FOR_THE_EDGE_ONLY = ("0o440", int(nginx.UID), 0)


def test_nginx_runs_as_the_user_that_owns_the_key():
    assert GRAPH.container("nginx").plain("user").split(":")[0] == nginx.UID


def test_the_placeholder_key_is_readable_by_the_edge_alone(tmp_path):
    subprocess.run(["sh", "-c", acme.placeholder(str(tmp_path), "ora.example.com")], check=True)
    assert _stat(tmp_path / "privkey.pem") == KEY_FOR_THE_EDGE_ONLY


def test_a_key_from_an_earlier_bootstrap_is_made_the_edges_alone(tmp_path):
    # Earlier bootstraps left the key 0640 with group 101 (any host group of that GID).
    subprocess.run(["sh", "-c", acme.placeholder(str(tmp_path), "ora.example.com")], check=True)
    os.chown(tmp_path / "privkey.pem", 0, 101)
    (tmp_path / "privkey.pem").chmod(0o640)
    subprocess.run(["sh", "-c", acme.placeholder(str(tmp_path), "ora.example.com")], check=True)
    assert _stat(tmp_path / "privkey.pem") == KEY_FOR_THE_EDGE_ONLY


def test_the_deploy_hook_installs_the_key_for_the_edge_alone(tmp_path):
    lineage, tls = tmp_path / "lineage", tmp_path / "tls"
    lineage.mkdir()
    tls.mkdir()
    subprocess.run(["sh", "-c", acme.placeholder(str(lineage), "ora.example.com")], check=True)
    hook = acme.deploy_hook(str(tls), "true")
    env = {**os.environ, "RENEWED_LINEAGE": str(lineage)}
    subprocess.run(["sh", "-c", hook], env=env, check=True)
    assert _stat(tls / "privkey.pem") == KEY_FOR_THE_EDGE_ONLY
