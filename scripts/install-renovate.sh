#!/usr/bin/env bash
# Installs the pinned Renovate (its config validator and its extractor) from npm into a
# cache outside the repository, once; prints the directory of its executables.
# RENOVATE_CACHE overrides the cache root (default /var/cache/ora-renovate).
set -euo pipefail

# renovate: datasource=npm depName=renovate
RENOVATE_VERSION=39.264.1
# Renovate 39 is the last line that runs on Node 20 (40+ needs Node 22).
NODE_MAJOR_MIN=20

root=${RENOVATE_CACHE:-/var/cache/ora-renovate}/$RENOVATE_VERSION
bin=$root/node_modules/.bin

if [ -x "$bin/renovate" ] && [ -x "$bin/renovate-config-validator" ] && [ -e "$root/.complete" ]; then
  echo "$bin"
  exit 0
fi
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "install-renovate: node and npm are missing: apt-get install nodejs npm" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge "$NODE_MAJOR_MIN" ] \
  || { echo "install-renovate: node $(node --version) is too old for renovate $RENOVATE_VERSION: install Node >= $NODE_MAJOR_MIN (https://github.com/nodesource/distributions)" >&2; exit 1; }

mkdir -p "$root"
echo "install-renovate: npm install renovate@$RENOVATE_VERSION into $root" >&2
npm install --prefix "$root" --no-audit --no-fund --omit=dev --loglevel=error \
  "renovate@$RENOVATE_VERSION" >&2
touch "$root/.complete"
echo "$bin"
