#!/bin/sh
# Stand-in of nginx-unprivileged's entrypoint: run /docker-entrypoint.d/*.sh, then exec.
set -e
for script in /docker-entrypoint.d/*.sh; do
    [ -x "$script" ] && "$script"
done
exec "$@"
