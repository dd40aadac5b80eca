#!/bin/sh
# Stand-in of the official redis entrypoint (the gosu step is moot: we never start as root).
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi
exec "$@"
