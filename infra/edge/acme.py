"""Let's Encrypt (tlsMode acme): HTTP-01 through nginx's webroot, renewed on the host.

certbot runs on the Docker host (installed by the bootstrap), not in a container:
Debian's certbot.timer renews twice a day, and a deploy hook checks the new
certificate against its key, copies both into TLS_DIR, which nginx mounts
read-only, then checks nginx's config and reloads it. The private key there is 0440,
owned by EDGE_UID (the user nginx runs as) and group root (the edge's config installer is
root without CAP_DAC_OVERRIDE, and its nginx -t reads the key): no other group reads it.
Until the first issuance nginx serves a self-signed placeholder the bootstrap
made, so it can start and answer the challenge that replaces it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pulumi
import pulumi_command as command

TLS_DIR = "/etc/ora/tls"  # on the host; mounted read-only into nginx
WEBROOT = "/opt/ora/acme"  # on the host; certbot writes, nginx serves it read-only
DEPLOY_HOOK = "/etc/letsencrypt/renewal-hooks/deploy/ora-nginx"
EDGE_UID = (
    "101"  # infra/targets/host/nginx.py UID: the user the edge runs as, the key's only reader
)


def deploy_hook(tls_dir: str, nginx: str) -> str:
    """The script certbot runs after every issuance and renewal ($RENEWED_LINEAGE).

    `nginx` runs the edge's nginx (`docker exec ora-prod-nginx nginx` on the host).
    A lineage whose fullchain.pem does not begin with the certificate of its key is
    refused before anything is replaced; the copies are synced before they are
    renamed over the live files; nginx checks the result before it reloads, since
    `nginx -s reload` succeeds even when the master then fails to load it.
    nginx's graceful reload lets the old workers finish (and accept for a moment)
    with the old certificate: clients see the new one shortly after, not at once.
    """
    return f"""#!/bin/sh
set -eu
lineage="$RENEWED_LINEAGE"
leaf=$(openssl x509 -noout -pubkey -in "$lineage/fullchain.pem")
key=$(openssl pkey -pubout -in "$lineage/privkey.pem")
if [ "$leaf" != "$key" ]; then
  echo "ora deploy hook: $lineage/fullchain.pem does not begin with the certificate of" >&2
  echo "its privkey.pem; {tls_dir} is unchanged. Fix: certbot renew --force-renewal" >&2
  exit 1
fi
install -m 0644 "$lineage/fullchain.pem" {tls_dir}/fullchain.pem.new
install -m 0440 -o {EDGE_UID} -g 0 "$lineage/privkey.pem" {tls_dir}/privkey.pem.new
sync {tls_dir}/fullchain.pem.new {tls_dir}/privkey.pem.new
mv -f {tls_dir}/privkey.pem.new {tls_dir}/privkey.pem
mv -f {tls_dir}/fullchain.pem.new {tls_dir}/fullchain.pem
{nginx} -t -q
{nginx} -s reload
"""


def placeholder(tls_dir: str, domain: str) -> str:
    """Shell that creates a self-signed certificate only where none exists yet, and
    leaves the key (new, or from an earlier bootstrap) readable by the edge alone."""
    return f"""install -d -m 0755 {tls_dir}
if [ ! -s {tls_dir}/fullchain.pem ]; then
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \\
    -subj /CN={domain} -keyout {tls_dir}/privkey.pem -out {tls_dir}/fullchain.pem 2>/dev/null)
  chmod 0644 {tls_dir}/fullchain.pem
fi
chown {EDGE_UID}:0 {tls_dir}/privkey.pem && chmod 0440 {tls_dir}/privkey.pem
"""


def issue_command(
    domain: str, email: str, server: str, webroot: str, *extra: str, hook: str = DEPLOY_HOOK
) -> str:
    """certbot certonly over HTTP-01; a no-op while the certificate is far from expiry."""
    args = [
        "certbot",
        "certonly",
        "--non-interactive",
        "--agree-tos",
        "--keep-until-expiring",
        "--webroot",
        "--webroot-path",
        webroot,
        "--domain",
        domain,
        "--email",
        email,
        "--server",
        server,
        "--deploy-hook",
        hook,
        *extra,
    ]
    return shlex.join(args)


@dataclass(frozen=True)
class AcmeArgs:
    domain: str
    email: str
    server: str
    connection: command.remote.ConnectionArgs
    sudo: object  # bootstrap.sudo_command, injected to keep this module's imports small
    user: str
    depends_on: list[pulumi.Resource]


class Acme(pulumi.ComponentResource):
    """Obtains the certificate once nginx answers on port 80; renewals are the host's."""

    def __init__(self, name: str, args: AcmeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Acme", name, None, opts)
        create = args.sudo(args.user, issue_command(args.domain, args.email, args.server, WEBROOT))
        self.certificate = command.remote.Command(
            f"{name}-certificate",
            connection=args.connection,
            create=create,
            triggers=[args.domain, args.email, args.server],
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        self.register_outputs({"domain": args.domain, "server": args.server})
