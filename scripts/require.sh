#!/usr/bin/env bash
# Fails, naming on one line every tool a make target needs that is missing here and how
# to install it, before the target runs anything.
set -euo pipefail

# The Debian package of a tool; "" for the ones that come another way (hint below).
package() {
  case "$1" in
    docker | dockerd) echo docker.io ;;
    nginx) echo nginx-light ;;
    promtool) echo prometheus ;;
    amtool) echo prometheus-alertmanager ;;
    ip) echo iproute2 ;;
    nsenter) echo util-linux ;;
    python3-venv) echo "python3 python3-venv" ;;
    pulumi) echo "" ;;
    *) echo "$1" ;;
  esac
}

missing=() packages=() hints=()
for tool in "$@"; do
  if [ "$tool" = docker ]; then
    command -v docker >/dev/null && docker info >/dev/null 2>&1 && continue
    hints+=("start the Docker engine (systemctl start docker, or dockerd &)")
  elif [ "$tool" = python3-venv ]; then
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && continue
  elif command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ]; then
    continue
  fi
  missing+=("$tool")
  if [ "$tool" = pulumi ]; then
    version=$(sed -n 's/^PULUMI_VERSION=//p' "$(dirname "$0")/install-pulumi.sh")
    hints+=("the Pulumi CLI: curl -fsSL https://get.pulumi.com | sh -s -- --version $version")
  fi
  name=$(package "$tool")
  if [ -n "$name" ] && ! { [ "$tool" = docker ] && command -v docker >/dev/null; } \
    && [[ " ${packages[*]} " != *" $name "* ]]; then
    packages+=("$name")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

fixes=()
[ ${#packages[@]} -gt 0 ] && fixes+=("apt-get install -y ${packages[*]}")
fixes+=("${hints[@]}")
joined=$(printf '%s; ' "${fixes[@]}")
echo "missing: ${missing[*]}. Install: ${joined%; }" >&2
exit 1
