#!/usr/bin/env bash
# Installs the Debian packages the test suites need, then Renovate (install-renovate.sh).
# As root, or where `sudo -n` works, on Debian/Ubuntu: apt-get update and install only
# when something is missing (a warm machine runs no apt at all). Elsewhere: one line
# naming every missing package and the command that installs them, and exit 1.
# The services the packages start are stopped: the tests start their own on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

# The single list: each package with the executables the suites start from it.
# tests/deps/test_test_deps.py checks every executable a suite starts against it.
PACKAGES=$(
  cat <<'PACKAGES'
ca-certificates
curl                            curl
openssl                         openssl
make                            make
git                             git
python3                         python3
python3-venv
procps                          pgrep
iproute2                        ip
util-linux                      nsenter unshare setpriv runuser
mount                           mount umount
passwd                          useradd userdel
tar                             tar
systemd                         systemctl systemd-analyze
nftables                        nft
unattended-upgrades             unattended-upgrade
shellcheck                      shellcheck
nginx-light                     nginx
redis-server                    redis-server redis-cli
wrk                             wrk
pebble                          pebble pebble-challtestsrv
certbot                         certbot
docker.io                       docker dockerd
debootstrap                     debootstrap
restic                          restic
openssh-server                  sshd
openssh-client                  ssh ssh-keygen
prometheus                      prometheus promtool
prometheus-alertmanager         prometheus-alertmanager amtool
prometheus-blackbox-exporter    prometheus-blackbox-exporter
prometheus-node-exporter        prometheus-node-exporter
mtail                           mtail
caddy                           caddy
PACKAGES
)
# What the packages start at install, whose ports the tests need.
SERVICES="nginx redis-server prometheus prometheus-alertmanager prometheus-blackbox-exporter
prometheus-node-exporter mtail caddy"

packages=$(awk '{print $1}' <<<"$PACKAGES")

installed() {
  if command -v dpkg-query >/dev/null; then
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
  else
    local exe executables
    read -ra executables <<<"$(awk -v p="$1" '$1 == p {$1 = ""; print}' <<<"$PACKAGES")"
    for exe in "${executables[@]}"; do
      command -v "$exe" >/dev/null || [ -x "/usr/sbin/$exe" ] || return 1
    done
  fi
}

missing=()
for package in $packages; do
  installed "$package" || missing+=("$package")
done
# Node for Renovate's validator (tests/deps); a runner's own Node (>= 20) is kept.
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  missing+=(nodejs npm)
fi

privileged=true
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    privileged=false
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  if ! $privileged || ! command -v apt-get >/dev/null; then
    echo "install-test-deps: missing ${missing[*]}; install them as root:" \
      "apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "install-test-deps: apt-get install ${missing[*]}" >&2
  # Waits for another apt (a boot's unattended-upgrades) rather than failing on its lock.
  apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
  "${as_root[@]}" "${apt[@]}" update -qq
  "${as_root[@]}" "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if $privileged; then
  for service in $SERVICES; do  # `stop` alone takes seconds where nothing runs
    if "${as_root[@]}" service "$service" status >/dev/null 2>&1; then
      ("${as_root[@]}" service "$service" stop || true) >/dev/null 2>&1
    fi
  done
  "${as_root[@]}" scripts/install-renovate.sh >/dev/null
else
  scripts/install-renovate.sh >/dev/null
fi
