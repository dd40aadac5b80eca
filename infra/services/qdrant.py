"""Qdrant as data, for either target: its port, paths, launch script (the API key from its
secret file) and healthcheck. No resources here."""

from __future__ import annotations

from infra import topology
from infra.services import baseline
from infra.services.store import Store

ALIAS = topology.QDRANT.host
HTTP_PORT = topology.QDRANT.port
STORAGE = "/qdrant/storage"
SNAPSHOTS = "/qdrant/snapshots"
NOFILE = 65535  # Qdrant keeps a file open per segment; the default 1024 runs out.
MAX_PROCESSES = 1024
CREDENTIAL_FILE = "qdrant-api-key"
API_KEY_FILE = topology.secret_path(CREDENTIAL_FILE)
OWNER = "0:0"  # the official image runs as root
# Qdrant reads its API key from the environment or its config file only. The key goes
# from its secret file into the server process's environment at start, so it is never
# in the container's declared environment (`docker inspect`) nor on a command line.
# The image's own entrypoint (WORKDIR /qdrant) then starts the server as usual.
LAUNCH = (
    f'key="$(cat {API_KEY_FILE})" && [ -n "$key" ] '
    f'|| {{ echo "qdrant: no API key in {API_KEY_FILE}" >&2; exit 1; }}; '
    'export QDRANT__SERVICE__API_KEY="$key"; unset key; exec ./entrypoint.sh "$@"'
)

# The image has no curl or wget; bash's /dev/tcp speaks just enough HTTP.
# /readyz is exempt from the API key by Qdrant's design.
HEALTHCHECK = baseline.Healthcheck(
    test=[
        "CMD",
        "bash",
        "-c",
        f"exec 3<>/dev/tcp/127.0.0.1/{HTTP_PORT} && "
        'printf "GET /readyz HTTP/1.0\\r\\n\\r\\n" >&3 && head -n1 <&3 | grep -q " 200"',
    ]
)

# The official image runs as root; with every capability dropped and no-new-privileges,
# root inside cannot bypass file permissions or escalate.
COMMAND = ["bash", "-c", LAUNCH, "qdrant"]
ENV = [
    "QDRANT__TELEMETRY_DISABLED=true",
    f"QDRANT__STORAGE__STORAGE_PATH={STORAGE}",
    f"QDRANT__STORAGE__SNAPSHOTS_PATH={SNAPSHOTS}",
]
# Snapshots are taken onto tmpfs and streamed out by the backup job.
TMPFS = {"/tmp": "rw,noexec,nosuid,size=64m", SNAPSHOTS: "rw,noexec,nosuid,size=512m"}

STORE = Store(
    service="qdrant",
    alias=ALIAS,
    command=COMMAND,
    data_dir=STORAGE,
    credential_file=CREDENTIAL_FILE,
    file_owner=OWNER,
    healthcheck=HEALTHCHECK,
    env=ENV,
    tmpfs=TMPFS,
    max_processes=MAX_PROCESSES,
    max_open_files=NOFILE,
)
