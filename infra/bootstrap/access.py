"""Pure builders for the host's access: SSH daemon, firewall, deploy user's keys, /opt/ora.

Each returns shell (for infra/bootstrap/script.py) or file text; each step is idempotent and
validates before it changes anything that could lock an operator out.
"""

from __future__ import annotations

from infra.config import StackConfig

SSHD_DROP_IN = "/etc/ssh/sshd_config.d/ora.conf"
# First value wins in sshd_config, and Debian's main file includes sshd_config.d/*.conf
# before its own settings, so these take effect. Local TCP forwarding stays on for
# `make tunnel` (to Prometheus and Alertmanager); remote forwarding does not.
SSHD_SETTINGS = (
    ("PasswordAuthentication", "no"),
    ("KbdInteractiveAuthentication", "no"),
    ("X11Forwarding", "no"),
    ("AllowAgentForwarding", "no"),
    ("AllowTcpForwarding", "local"),
    ("MaxAuthTries", "3"),
)


def sshd_settings(config: StackConfig) -> tuple[tuple[str, str], ...]:
    """Root logs in with a key only while it is ora:bootstrapUser (root by default, refused
    in prod): every later run of the bootstrap logs in again. With a sudo user, never."""
    root = "prohibit-password" if config.access.bootstrap_user == "root" else "no"
    return (*SSHD_SETTINGS, ("PermitRootLogin", root))


NFT_FILE = "/etc/nftables.d/ora.nft"
FIREWALL_UNIT = "ora-firewall.service"
# Owner, group (None: the deploy user) and mode of each directory. The deploy user is
# root-equivalent anyway (the docker group: `docker run -v /:/host`), so these modes are
# no wall against its key; they keep its ordinary processes (and files it writes by
# mistake) out of what root's units read, such as backup.env, an EnvironmentFile.
DIRECTORIES = (
    ("/opt/ora", "root", "root", "0755"),
    ("/opt/ora/logs", "root", None, "0750"),  # the deploy user reads the logs
    ("/opt/ora/backups", "root", "root", "0700"),
    ("/opt/ora/data", "root", "root", "0750"),
)
ROOT_ONLY_FILES = (
    "/opt/ora/backup.env",
    "/opt/ora/.restic-password",
    "/opt/ora/.backup-offsite-ssh-key",  # infra.bootstrap.backup_units.OFFSITE_SSH_KEY_FILE
)


def sshd_drop_in(config: StackConfig) -> str:
    lines = [f"{key} {value}" for key, value in sshd_settings(config)]
    return (
        "# Written by ora-infra's bootstrap (infra/bootstrap/access.py).\n"
        + "\n".join(lines)
        + "\n"
    )


def sshd_steps(config: StackConfig) -> str:
    """Installs the drop-in only if `sshd -t` accepts it, then reloads; else restores."""
    include = "Include /etc/ssh/sshd_config.d/*.conf"
    return f"""install -d -m 0755 /etc/ssh/sshd_config.d /run/sshd
ssh-keygen -A
grep -qE '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config.d/\\*\\.conf' /etc/ssh/sshd_config \\
  || sed -i '1i {include}' /etc/ssh/sshd_config
cat > {SSHD_DROP_IN}.new <<'ORA_SSHD'
{sshd_drop_in(config)}ORA_SSHD
if ! cmp -s {SSHD_DROP_IN}.new {SSHD_DROP_IN}; then
  [ -e {SSHD_DROP_IN} ] && cp -p {SSHD_DROP_IN} {SSHD_DROP_IN}.old
  mv {SSHD_DROP_IN}.new {SSHD_DROP_IN}
  if sshd -t; then
    systemctl reload ssh 2>/dev/null || systemctl reload sshd
  else
    echo "bootstrap: sshd -t rejects {SSHD_DROP_IN}; the previous file is back" >&2
    rm -f {SSHD_DROP_IN}
    [ ! -e {SSHD_DROP_IN}.old ] || mv {SSHD_DROP_IN}.old {SSHD_DROP_IN}
    exit 1
  fi
fi
rm -f {SSHD_DROP_IN}.new {SSHD_DROP_IN}.old
"""


def firewall_ports(config: StackConfig) -> tuple[int, ...]:
    """SSH and the ports nginx publishes: one source of truth with infra/targets/host/nginx.py."""
    edge = config.edge
    return tuple(sorted({config.access.ssh_port, edge.http_port, edge.https_port}))


def nftables_rules(ports: tuple[int, ...]) -> str:
    """Ora's own table: loaded atomically (one `nft -f`), never flushing Docker's rules."""
    opened = ", ".join(str(p) for p in ports)
    return f"""table inet ora
flush table inet ora
table inet ora {{
  chain input {{
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
    ct state invalid drop
    meta l4proto {{ icmp, ipv6-icmp }} accept
    tcp dport {{ {opened} }} accept
  }}
}}
"""


def firewall_unit() -> str:
    """Loads ora.nft at boot, apart from nftables.service: Debian's /etc/nftables.conf
    starts with `flush ruleset`, so a reload of that service would wipe Docker's rules."""
    return f"""[Unit]
Description=Ora's firewall table (inet ora), beside Docker's rules
DefaultDependencies=no
Wants=network-pre.target
Before=network-pre.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f {NFT_FILE}
ExecReload=/usr/sbin/nft -f {NFT_FILE}
ExecStop=/usr/sbin/nft delete table inet ora

[Install]
WantedBy=sysinit.target
"""


def firewall_steps(config: StackConfig) -> str:
    return f"""install -d -m 0755 /etc/nftables.d
cat > {NFT_FILE} <<'ORA_NFT'
{nftables_rules(firewall_ports(config))}ORA_NFT
# An earlier bootstrap appended an include to /etc/nftables.conf: take it out.
[ -f /etc/nftables.conf ] && sed -i '\\#include "{NFT_FILE}"#d' /etc/nftables.conf
cat > /etc/systemd/system/{FIREWALL_UNIT} <<'ORA_UNIT'
{firewall_unit()}ORA_UNIT
nft -f {NFT_FILE}
systemctl daemon-reload
systemctl enable {FIREWALL_UNIT}
"""


# What CI's key may do as the deploy user: the Docker API over SSH, which the docker CLI's
# and pulumi-docker's ssh:// helper asks for (`docker system dial-stdio`); no shell, pty or
# forwarding. The API itself is root on the host.
CI_KEY_OPTIONS = 'restrict,command="docker system dial-stdio"'


def authorized_keys(config: StackConfig) -> str:
    """The deploy user's authorized_keys: the operators' keys, then CI's, restricted."""
    access = config.access
    lines = [*access.deploy_keys, *(f"{CI_KEY_OPTIONS} {key}" for key in access.ci_keys)]
    return "\n".join(lines) + "\n"


def deploy_user_steps(config: StackConfig) -> str:
    """The deploy user, with exactly the configured keys, in the docker group: so every
    key it accepts is root on the host, CI's restricted one included."""
    user = config.access.ssh_user
    keys = authorized_keys(config)
    return f"""id -u {user} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash {user}
id -nG {user} | grep -qw docker || usermod -aG docker {user}
home="$(getent passwd {user} | cut -d: -f6)"
install -d -m 0700 -o {user} -g {user} "$home/.ssh"
install -m 0600 -o {user} -g {user} /dev/stdin "$home/.ssh/authorized_keys" <<'ORA_KEYS'
{keys}ORA_KEYS
"""


def directory_steps(config: StackConfig) -> str:
    user = config.access.ssh_user
    lines = [
        f"install -d -m {mode} -o {owner} -g {group or user} {path}"
        for path, owner, group, mode in DIRECTORIES
    ]
    lines += [
        f"if [ -e {path} ]; then chown root:root {path}; chmod 0600 {path}; fi"
        for path in ROOT_ONLY_FILES
    ]
    return "\n".join(lines) + "\n"
