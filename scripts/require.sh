#!/usr/bin/env bash
# Fails with what to install when a tool a make target needs is missing.
set -euo pipefail

hint() {
  case "$1" in
    pulumi) echo "the Pulumi CLI: curl -fsSL https://get.pulumi.com | sh (https://www.pulumi.com/docs/install/)" ;;
    docker) echo "a running Docker engine: apt-get install docker.io && systemctl start docker" ;;
    dockerd) echo "the Docker engine: apt-get install docker.io" ;;
    nginx) echo "nginx: apt-get install nginx-light" ;;
    redis-server) echo "redis: apt-get install redis-server" ;;
    promtool) echo "promtool: apt-get install prometheus" ;;
    amtool) echo "amtool: apt-get install prometheus-alertmanager" ;;
    *) echo "$1: apt-get install $1" ;;
  esac
}

missing=0
for tool in "$@"; do
  if [ "$tool" = docker ]; then
    if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
      echo "missing: $(hint docker)" >&2
      missing=1
    fi
  elif ! command -v "$tool" >/dev/null && ! [ -x "/usr/sbin/$tool" ]; then
    echo "missing: $(hint "$tool")" >&2
    missing=1
  fi
done
exit "$missing"
