"""The host bootstrap as a shell script: a pure function of the target.

Every step checks before it changes, so running it again changes nothing.
The firewall lives in its own nftables table and never flushes Docker's rules.
"""

from __future__ import annotations

import base64
import gzip
import io
import shlex
import tarfile
import textwrap

from infra import topology
from infra.bootstrap import access as host_access
from infra.bootstrap import backup_units, maintenance_units
from infra.bootstrap import metrics_units as container_metrics_units
from infra.config import StackConfig
from infra.edge import acme
from infra.edge import release as edge_release

BACKUP_COMMAND = "/usr/local/sbin/ora-backup"
BACKUP_SCRIPT = topology.REPO_ROOT / "scripts" / "backup.sh"


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


ENABLED_TIMERS = (
    *backup_units.TIMERS,
    *maintenance_units.TIMERS,
    *maintenance_units.APT_TIMERS,
)


def _write(path: str, content: str, mode: str = "0644") -> str:
    """A heredoc that writes `content` verbatim (a quoted delimiter expands nothing)."""
    return f"install -m {mode} /dev/stdin {path} <<'ORA_FILE_END'\n{content}ORA_FILE_END\n"


def packed(files: dict[str, str]) -> str:
    """`files` (absolute paths) as a gzipped tar in base64, the same bytes for the same files
    (no times, no owners): a fifth of their size in the script."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.USTAR_FORMAT) as archive,
    ):
        for path, text in sorted(files.items()):
            data = text.encode()
            member = tarfile.TarInfo(path.lstrip("/"))
            member.size, member.mode, member.mtime = len(data), 0o644, 0
            archive.addfile(member, io.BytesIO(data))
    return "\n".join(textwrap.wrap(base64.b64encode(buffer.getvalue()).decode(), 76)) + "\n"


def _unpack(files: dict[str, str]) -> str:
    """Writes `files` from one archive. A script over 128 KiB cannot run at all: the SSH
    login shell (and `bash -c`) gets it as one argument, and Linux caps one at 128 KiB
    (MAX_ARG_STRLEN); the backup package alone is about 100 KiB as plain text."""
    return (
        "base64 -d <<'ORA_PACKAGE_END' | tar -xz --no-same-owner -C /\n"
        f"{packed(files)}ORA_PACKAGE_END\n"
    )


def script(config: StackConfig) -> str:
    """Idempotent bash run as root on the host."""
    package = f"install -d -m 0755 {backup_units.PACKAGE_DIR}\n" + _unpack(
        backup_units.package_files()
    )
    units = "".join(
        _write(path, text, backup_units.mode(path))
        for path, text in backup_units.files(config).items()
    )
    maintenance = "".join(_write(p, text) for p, text in maintenance_units.files().items())
    cleanup = maintenance_units.CLEANUP_COMMAND
    metrics = container_metrics_units
    metrics_files = "".join(_write(p, text) for p, text in metrics.files(config).items())
    certbot = _acme_steps(config) if config.edge.tls_mode == "acme" else ""
    access = "".join(
        (
            host_access.deploy_user_steps(config),
            host_access.directory_steps(config),
            host_access.firewall_steps(config),
            host_access.sshd_steps(config),
        )
    )
    return f"""set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=""
command -v docker >/dev/null || need="$need docker.io"
command -v nft >/dev/null || need="$need nftables"
command -v logrotate >/dev/null || need="$need logrotate"
command -v restic >/dev/null || need="$need restic"
python3 -c 'import json' 2>/dev/null || need="$need python3"
command -v sshd >/dev/null || need="$need openssh-server"
command -v unattended-upgrade >/dev/null || need="$need unattended-upgrades"
{'command -v certbot >/dev/null || need="$need certbot"' if certbot else ""}
if [ -n "$need" ]; then apt-get update -qq && apt-get install -y -qq $need; fi
systemctl enable --now docker
{access}cat > /etc/logrotate.d/ora <<'ORA_LOGROTATE'
{LOGROTATE}ORA_LOGROTATE
{package}{_write(BACKUP_COMMAND, BACKUP_SCRIPT.read_text(), "0750")}{units}\
{_write(cleanup, maintenance_units.CLEANUP_SCRIPT.read_text(), "0750")}{maintenance}{certbot}\
{_write(metrics.COMMAND, metrics.SCRIPT.read_text(), "0750")}{metrics_files}\
systemctl daemon-reload
systemctl enable --now {" ".join(ENABLED_TIMERS)}
{metrics.start_steps(config)}\
echo "bootstrap complete: docker $(docker version --format '{{{{.Server.Version}}}}')"
"""


def _acme_steps(config: StackConfig) -> str:
    """The host side of tlsMode acme: webroot, placeholder certificate, deploy hook."""
    # The edge runs the live release's config (infra/edge/release.py), not the image's.
    edge = topology.name(config.stack, "nginx")
    nginx = f"docker exec {edge} nginx -c {edge_release.LIVE}/nginx.conf"
    return (
        f"install -d -m 0755 {acme.WEBROOT}\n"
        + acme.placeholder(acme.TLS_DIR, config.edge.domain)
        + "install -d -m 0755 /etc/letsencrypt/renewal-hooks/deploy\n"
        + _write(acme.DEPLOY_HOOK, acme.deploy_hook(acme.TLS_DIR, nginx), "0755")
    )


def sudo_command(user: str, command: str) -> str:
    """One command as root, keeping its stdin (unlike `sudo`, which feeds it the script).
    The command is quoted whole: the login shell passes it on without expanding any of it."""
    return command if user == "root" else f"sudo -n sh -c {shlex.quote(command)}"


def sudo(user: str, body: str) -> str:
    """Runs the script as root: directly for root, else through non-interactive sudo."""
    return body if user == "root" else f"sudo -n bash -s <<'ORA_BOOTSTRAP'\n{body}ORA_BOOTSTRAP\n"
