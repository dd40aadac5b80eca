"""The host bootstrap as a shell script: a pure function of the target.

Every step checks before it changes, so running it again changes nothing.
The firewall lives in its own nftables table and never flushes Docker's rules.
"""

from __future__ import annotations

from infra.config import Target

DIRECTORIES = ("/opt/ora", "/opt/ora/logs", "/opt/ora/backups", "/opt/ora/data")
OPEN_TCP_PORTS = (22, 80, 443)


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


def script(target: Target) -> str:
    """Idempotent bash run as root on the host."""
    user = target.ssh_user
    dirs = " ".join(DIRECTORIES)
    return f"""set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=""
command -v docker >/dev/null || need="$need docker.io"
command -v nft >/dev/null || need="$need nftables"
command -v logrotate >/dev/null || need="$need logrotate"
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
echo "bootstrap complete: docker $(docker version --format '{{{{.Server.Version}}}}')"
"""


def sudo(user: str, body: str) -> str:
    """Runs the script as root: directly for root, else through non-interactive sudo."""
    return body if user == "root" else f"sudo -n bash -s <<'ORA_BOOTSTRAP'\n{body}ORA_BOOTSTRAP\n"
