"""A rollback's Qdrant part: every collection recovered from the backup's snapshot (the
others dropped), then the aliases made what the backup recorded, in one request."""

from __future__ import annotations

import json
import os
import urllib.parse
import uuid

from .messages import helper_note
from .qdrant import Qdrant, QdrantError, quote


def recover(api: Qdrant, name: str, source: str, sha: str) -> None:
    """Uploads the snapshot file `source` as collection `name` (streamed, multipart)."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="snapshot"; '
        f'filename="{os.path.basename(source)}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        yield head
        with open(source, "rb") as handle:
            yield from iter(lambda: handle.read(1 << 20), b"")
        yield tail

    length = len(head) + os.path.getsize(source) + len(tail)
    query = urllib.parse.urlencode({"priority": "snapshot", "wait": "true", "checksum": sha})
    api.call(
        "POST",
        f"/collections/{quote(name)}/snapshots/upload?{query}",
        body=(chunks(), length),
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def restore_all(api: Qdrant, work: str) -> None:
    with open(os.path.join(work, "manifest.json")) as handle:
        manifest = json.load(handle)
    wanted = {
        a["collection"]: a for a in manifest["artefacts"] if a.get("kind") == "qdrant-snapshot"
    }
    for name in api.collections():
        if name not in wanted:
            api.call("DELETE", f"/collections/{quote(name)}?wait=true")
            helper_note(f"dropped the collection {name} (not in the backup)")
    for name, item in sorted(wanted.items()):
        recover(api, name, os.path.join(work, item["file"]), item["sha256"])
        helper_note(f"recovered the collection {name} from {item['file']}")
    aliases = manifest.get("qdrant", {}).get("aliases")
    if aliases is None:
        helper_note(
            "the backup has no Qdrant aliases (made before they were recorded):"
            " the aliases were left as they are"
        )
        return
    missing = sorted(a for a, c in aliases.items() if c not in wanted)
    if missing:
        raise QdrantError(f"the backup's aliases {missing} name collections it does not hold")
    actions = api.set_aliases(aliases)
    shown = ", ".join(f"{a} -> {c}" for a, c in sorted(aliases.items())) or "none"
    helper_note(f"Qdrant aliases restored ({len(actions)} changes): {shown}")
