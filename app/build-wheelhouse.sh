#!/usr/bin/env bash
# Build every wheel the image needs into app/wheels/, so `docker build` works without
# network access (the builder stage then installs with --no-index --find-links).
# The wheels are built for this host's Python: use a base image with the same minor
# version (Debian bookworm's python3 is 3.11), e.g. PYTHON=python3.11 ./build-wheelhouse.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
mkdir -p "$here/wheels"
rm -f "$here/wheels/"*.whl
# async-timeout: redis needs it on Python < 3.11.3, as Debian bookworm's 3.11.2 is, even
# when the host's Python is newer and so would skip it.
"$python" -m pip wheel --disable-pip-version-check --wheel-dir "$here/wheels" \
    -r "$here/requirements.txt" -c "$here/constraints.txt" "async-timeout>=4.0.3"
echo "wheelhouse: $(find "$here/wheels" -name '*.whl' | wc -l) wheels in $here/wheels"
