"""Qdrant's REST API, spoken inside the qdrant container through `docker exec`.

The container publishes nothing and has no curl: bash's /dev/tcp carries the bytes of one
HTTP exchange, http.client speaks HTTP over that pipe. The API key is read inside the
container (its secret file, else its environment) into this process: never argv.
Run as `python3 -m PACKAGE.qdrant CONTAINER WORK`, it snapshots every collection into WORK
(create runs it beside the volume copies).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import urllib.parse

from .messages import helper_error, helper_note
from .names import QDRANT_PORT, QDRANT_SECRET

KEY_COMMAND = (
    f"if [ -r {QDRANT_SECRET} ]; then cat {QDRANT_SECRET};"
    ' else printf %s "$QDRANT__SERVICE__API_KEY"; fi'
)
TUNNEL = (
    f"exec 3<>/dev/tcp/127.0.0.1/{QDRANT_PORT} 4<&0 || exit 7;"
    " cat <&4 >&3 2>/dev/null & exec cat <&3 4<&-"
)
_COLLECTION = re.compile(r"[A-Za-z0-9._-]+")


class QdrantError(Exception):
    """An API call that failed, or a download that does not match its checksum."""


def quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


class Tunnel(http.client.HTTPConnection):
    """One HTTP connection over `docker exec -i CONTAINER bash -c TUNNEL`."""

    def __init__(self, container: str, quiet: bool = False) -> None:
        super().__init__("qdrant", timeout=900)
        self.container = container
        self.quiet = quiet  # docker's own errors not shown
        self.process = None

    def connect(self) -> None:
        mine, theirs = socket.socketpair()
        command = ["docker", "exec", "-i", self.container, "bash", "-c", TUNNEL]
        stderr = subprocess.DEVNULL if self.quiet else None
        self.process = subprocess.Popen(command, stdin=theirs, stdout=theirs, stderr=stderr)
        theirs.close()
        self.sock = mine

    def close(self) -> None:
        super().close()
        if self.process:
            self.process.wait(timeout=60)
            self.process = None


class Qdrant:
    def __init__(self, container: str, quiet: bool = False) -> None:
        self.container = container
        self.quiet = quiet
        key = subprocess.run(
            ["docker", "exec", container, "sh", "-c", KEY_COMMAND], capture_output=True, check=True
        )
        self.key = key.stdout.decode().strip()

    def call(self, method, path, body=None, content_type="application/json", into=None):
        """The JSON reply of one request; with `into`, the body is written to that file and
        its sha256 returned."""
        connection = Tunnel(self.container, self.quiet)
        headers = {"api-key": self.key, "Connection": "close"}
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        if body is not None and not isinstance(body, bytes | bytearray):
            body, length = body
            headers["Content-Length"] = str(length)
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            if response.status == 200 and into is not None:
                return _download(response, into)
            data = response.read()
        finally:
            connection.close()
        if response.status != 200:
            shown = data[:300].decode(errors="replace")
            raise QdrantError(f"Qdrant {method} {path}: HTTP {response.status}: {shown}")
        return json.loads(data)

    def version(self) -> str:
        return self.call("GET", "/").get("version", "?")

    def collections(self) -> dict[str, int]:
        listed = self.call("GET", "/collections")["result"]["collections"]
        return {
            n: self.call("GET", f"/collections/{quote(n)}")["result"].get("points_count", 0)
            for n in sorted(c["name"] for c in listed)
        }

    def aliases(self) -> dict[str, str]:
        found = self.call("GET", "/aliases")["result"]["aliases"]
        return {a["alias_name"]: a["collection_name"] for a in found}

    def set_aliases(self, wanted: dict[str, str]) -> list[dict]:
        """Makes the aliases exactly `wanted` ({alias: collection}) in one request: Qdrant
        applies a request's actions together, so the app never sees an alias missing."""
        current, actions = self.aliases(), []
        for alias, collection in sorted(current.items()):
            if wanted.get(alias) != collection:
                actions.append({"delete_alias": {"alias_name": alias}})
        for alias, collection in sorted(wanted.items()):
            if current.get(alias) != collection:
                created = {"collection_name": collection, "alias_name": alias}
                actions.append({"create_alias": created})
        if actions:
            self.call("POST", "/collections/aliases", {"actions": actions})
        return actions

    def snapshot(self, name: str, target: str) -> str:
        """A new snapshot of collection `name` downloaded to `target` (then deleted in
        Qdrant); returns its sha256, hashed while it downloaded."""
        created = self.call("POST", f"/collections/{quote(name)}/snapshots?wait=true")["result"]
        path = f"/collections/{quote(name)}/snapshots/{quote(created['name'])}"
        sha = self.call("GET", path, into=target)
        self.call("DELETE", path + "?wait=true")
        if created.get("checksum") and created["checksum"] != sha:
            raise QdrantError(
                f"Qdrant snapshot {created['name']}: the download does not match its checksum"
            )
        return sha

    def counts(self) -> dict:
        return {
            "version": self.version(),
            "collections": self.collections(),
            "aliases": self.aliases(),
        }


def _download(response: http.client.HTTPResponse, into: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(into, "wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                digest.update(chunk)
    except OSError as error:  # a full disk: one line, no traceback
        raise QdrantError(f"cannot write {into}: {error.strerror}") from None
    return digest.hexdigest()


def snapshot_all(api: Qdrant, work: str, out=None) -> None:
    """Every collection's snapshot into `work`; the artefact list's lines on `out`."""
    out = out or sys.stdout
    print(f"qdrant-version {api.version()}", file=out)
    print(f"qdrant-aliases {json.dumps(api.aliases(), separators=(',', ':'))}", file=out)
    for name, points in api.collections().items():
        if not _COLLECTION.fullmatch(name):
            raise QdrantError(f"Qdrant collection name {name!r} cannot be a file name")
        file = f"qdrant-{name}.snapshot"
        sha = api.snapshot(name, os.path.join(work, file))  # hashed while downloaded
        print(f"qdrant-snapshot {file} {name} {points} {sha}", file=out)
        helper_note(f"qdrant collection {name}: snapshot of {points} points")


def main(argv: list[str]) -> int:
    container, work = argv
    try:
        snapshot_all(Qdrant(container), work)
    except QdrantError as error:
        helper_error(str(error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
