"""tlsMode acme: certbot on the bootstrapped host, nginx mounting what it writes."""

import subprocess

from infra import acme, bootstrap, config
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
