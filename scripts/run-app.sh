#!/usr/bin/env bash
# make run-app: the service on 127.0.0.1:8000 against a throwaway local
# redis-server and embedded Qdrant (qdrant-client local mode). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d)"
redis_port="${REDIS_PORT:-6390}"
password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
printf 'port %s\nbind 127.0.0.1\ndir %s\nsave ""\nrequirepass %s\n' \
  "$redis_port" "$work" "$password" > "$work/redis.conf"
chmod 600 "$work/redis.conf"
redis-server "$work/redis.conf" > "$work/redis.log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null; rm -rf "$work"' EXIT

# A local API key with every scope, kept in a 0600 file in the work directory.
api_key="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
(umask 077 && printf 'header = "Authorization: Bearer %s"\n' "$api_key" > "$work/curlrc")
key_hash="$(printf '%s' "$api_key" | sha256sum | cut -d' ' -f1)"
printf 'local read,write,admin %s\n' "$key_hash" > "$work/api-keys"

cat <<USAGE
Ora on http://127.0.0.1:8000 (redis-server on 127.0.0.1:$redis_port, Qdrant in-process)
API key (every scope): curl -K $work/curlrc ...
  curl -s localhost:8000/readyz
  curl -s -K $work/curlrc -XPOST localhost:8000/api/v1/documents \\
       -H 'content-type: application/json' \\
       -d '{"text": "the cat sat on the mat", "metadata": {"source": "demo"}}'
  curl -s -K $work/curlrc 'localhost:8000/api/v1/search?q=cat'
  curl -s localhost:8000/metrics | head
USAGE

cd app
REDIS_HOST=127.0.0.1 REDIS_PORT="$redis_port" REDIS_PASSWORD="$password" \
QDRANT_URL=":memory:" ALLOWED_HOSTS="localhost,127.0.0.1" LOG_LEVEL="${LOG_LEVEL:-INFO}" \
SECRET_KEY="$(head -c 48 /dev/urandom | base64)" WEB_CONCURRENCY=1 API_KEYS_FILE="$work/api-keys" \
  ../.venv/bin/gunicorn -c gunicorn.conf.py --bind 127.0.0.1:8000 ora.main:app
