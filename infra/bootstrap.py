"""The host bootstrap as a shell script: a pure function of the target.

Every step checks before it changes, so running it again changes nothing.
The firewall lives in its own nftables table and never flushes Docker's rules.
"""

from __future__ import annotations

from pathlib import Path

from infra import acme, backup_units
from infra.config import StackConfig

DIRECTORIES = ("/opt/ora", "/opt/ora/logs", "/opt/ora/backups", "/opt/ora/data")
OPEN_TCP_PORTS = (22, 80, 443)
BACKUP_COMMAND = "/usr/local/sbin/ora-backup"
BACKUP_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "backup.sh"
SYSTEMD_DIR = "/etc/systemd/system"


def nftables_rules(ssh_port: int) -> str:
    ports = ", ".join(str(p) for p in sorted({ssh_port, *OPEN_TCP_PORTS}))
    return f"""table inet ora
flush table inet ora
table inet ora {{
  chain input {{
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
    ct state invalid drop
    meta l4proto {{ icmp, ipv6-icmp }} accept
    tcp dport {{ {ports} }} accept
  }}
}}
"""


LOGROTATE = """/opt/ora/logs/*.log {
  size 1M
  rotate 3
  compress
  delaycompress
  missingok
  notifempty
  copytruncate
}
"""


def _write(path: str, content: str, mode: str = "0644") -> str:
    """A heredoc that writes `content` verbatim (a quoted delimiter expands nothing)."""
    return f"install -m {mode} /dev/stdin {path} <<'ORA_FILE_END'\n{content}ORA_FILE_END\n"


def script(config: StackConfig) -> str:
    """Idempotent bash run as root on the host."""
    target = config.target
    user = target.ssh_user
    dirs = " ".join(DIRECTORIES)
    units = "".join(_write(path, text) for path, text in backup_units.files(config).items())
    certbot = _acme_steps(config) if config.edge.tls_mode == "acme" else ""
    return f"""set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=""
command -v docker >/dev/null || need="$need docker.io"
command -v nft >/dev/null || need="$need nftables"
command -v logrotate >/dev/null || need="$need logrotate"
command -v restic >/dev/null || need="$need restic"
python3 -c 'import json' 2>/dev/null || need="$need python3"
{'command -v certbot >/dev/null || need="$need certbot"' if certbot else ""}
if [ -n "$need" ]; then apt-get update -qq && apt-get install -y -qq $need; fi
systemctl enable --now docker
id -u {user} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash {user}
id -nG {user} | grep -qw docker || usermod -aG docker {user}
install -d -m 0750 -o {user} -g {user} {dirs}
install -d -m 0755 /etc/nftables.d
cat > /etc/nftables.d/ora.nft <<'ORA_NFT'
{nftables_rules(target.ssh_port)}ORA_NFT
grep -q 'include "/etc/nftables.d/ora.nft"' /etc/nftables.conf 2>/dev/null \\
  || echo 'include "/etc/nftables.d/ora.nft"' >> /etc/nftables.conf
nft -f /etc/nftables.d/ora.nft
systemctl enable nftables >/dev/null 2>&1 || true
cat > /etc/logrotate.d/ora <<'ORA_LOGROTATE'
{LOGROTATE}ORA_LOGROTATE
{_write(BACKUP_COMMAND, BACKUP_SCRIPT.read_text(), "0750")}{units}{certbot}systemctl daemon-reload
systemctl enable --now {" ".join(backup_units.TIMERS)}
echo "bootstrap complete: docker $(docker version --format '{{{{.Server.Version}}}}')"
"""


def _acme_steps(config: StackConfig) -> str:
    """The host side of tlsMode acme: webroot, placeholder certificate, deploy hook."""
    reload_nginx = f"docker exec ora-{config.stack}-nginx nginx -s reload"
    return (
        f"install -d -m 0755 {acme.WEBROOT}\n"
        + acme.placeholder(acme.TLS_DIR, config.edge.domain)
        + "install -d -m 0755 /etc/letsencrypt/renewal-hooks/deploy\n"
        + _write(acme.DEPLOY_HOOK, acme.deploy_hook(acme.TLS_DIR, reload_nginx), "0755")
    )


def sudo_command(user: str, command: str) -> str:
    """One command as root, keeping its stdin (unlike `sudo`, which feeds it the script)."""
    return command if user == "root" else f"sudo -n sh -c '{command}'"


def sudo(user: str, body: str) -> str:
    """Runs the script as root: directly for root, else through non-interactive sudo."""
    return body if user == "root" else f"sudo -n bash -s <<'ORA_BOOTSTRAP'\n{body}ORA_BOOTSTRAP\n"
