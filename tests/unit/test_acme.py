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
    files = [u["file"] for u in GRAPH.container("nginx").plain("uploads")]
    assert not [f for f in files if f.startswith("/etc/nginx/tls/")]


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
    assert acme.deploy_hook(acme.TLS_DIR, "docker exec ora-prod-nginx nginx") in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def test_deploy_hook_passes_shellcheck():
    hook = acme.deploy_hook("/etc/ora/tls", "docker exec ora-prod-nginx nginx")
    result = subprocess.run(["shellcheck", "-"], input=hook, text=True, capture_output=True)
    assert result.returncode == 0, result.stdout
