#!/usr/bin/env bash
# Download every wheel the image needs into app/wheels/, so `docker build` works without
# network access (the builder stage then installs them with --no-index --find-links).
# Exactly the releases of requirements.lock, each checked against its hashes here and again
# in the image; wheels for Python 3.11 on linux x86_64 (Debian bookworm's python3, which
# the offline base runs), e.g. PYTHON=.venv/bin/python ./build-wheelhouse.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
mkdir -p "$here/wheels"
rm -f "$here/wheels/"*.whl
"$python" -m pip download --disable-pip-version-check --require-hashes --no-deps \
    --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 \
    --platform manylinux_2_28_x86_64 --platform linux_x86_64 \
    --dest "$here/wheels" -r "$here/requirements.lock"
echo "wheelhouse: $(find "$here/wheels" -name '*.whl' | wc -l) wheels in $here/wheels"
