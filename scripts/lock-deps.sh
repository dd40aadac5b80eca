#!/usr/bin/env bash
# Regenerates the hash locks from the pins: requirements.lock (the Pulumi program and the
# tests, from requirements.txt) and app/requirements.lock (the image, from
# app/requirements.txt), plus app/constraints.txt (the image's pins without hashes, for
# the offline wheelhouse). Resolved for Python 3.11 on this platform (linux x86_64), the
# lowest the machines and the image run; a pin already locked is kept unless its
# requirement moved. Each command is the one written in its lock's header, which Renovate's
# pip-compile manager re-runs. Then checks that Python 3.12 needs nothing the locks lack.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-.venv/bin/uv}
[ -x "$uv" ] || { echo "lock-deps: $uv is missing: make venv (uv is pinned in requirements.txt)" >&2; exit 1; }

compile() { "$uv" pip compile --quiet --python-version=3.11 "$@"; }
compile --generate-hashes --no-strip-extras --output-file=requirements.lock requirements.txt
compile --generate-hashes --no-strip-extras --output-file=app/requirements.lock app/requirements.txt
# pip refuses extras in a constraints file: this one keeps them stripped.
compile --output-file=app/constraints.txt app/requirements.txt

# What 3.12 (CI's setup-python, the upstream base image) resolves, seeded with each lock.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
names() { grep -E '^[A-Za-z0-9]' "$1" | sed -E 's/[[ ].*//; s/==.*//' | tr 'A-Z_.' 'a-z--' | sort -u; }
for pair in requirements.txt:requirements.lock app/requirements.txt:app/requirements.lock; do
  source=${pair%%:*} lock=${pair#*:}
  cp "$lock" "$tmp/py312.lock"
  "$uv" pip compile --quiet --python-version=3.12 --no-strip-extras \
    --output-file="$tmp/py312.lock" "$source"
  extra=$(comm -13 <(names "$lock") <(names "$tmp/py312.lock"))
  [ -z "$extra" ] || { echo "lock-deps: Python 3.12 needs packages $lock lacks: $extra" >&2; exit 1; }
done
echo "lock-deps: $(names requirements.lock | wc -l) packages in requirements.lock," \
  "$(names app/requirements.lock | wc -l) in app/requirements.lock"
