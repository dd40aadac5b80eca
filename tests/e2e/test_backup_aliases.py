"""Qdrant's collection aliases (the app reads through `ora_documents_live`) are part of a
backup: recorded in the manifest, and a rollback puts them back as they were, in one
atomic alias request. Run: pytest tests/e2e -k backup_aliases"""

from __future__ import annotations

import json
import secrets

import httpx
import pytest

from tests.e2e.test_backup import all_healthy, backup, found, host_environment, restic, store

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.destructive,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

LIVE = "ora_documents_live"  # app/ora/documents.py
SWITCHED = "ora_e2e_switched"
STRAY = "ora_e2e_stray"
DOC = f"the alias canary {secrets.token_hex(4)}"


@pytest.fixture
def qdrant(deployment):
    """Qdrant's REST API on the stack's internal network, with the stack's API key."""
    container = deployment.client.containers.get(deployment.outputs["containers"]["qdrant"])
    read = 'cat /run/secrets/qdrant-api-key 2>/dev/null || printf %s "$QDRANT__SERVICE__API_KEY"'
    key = container.exec_run(["sh", "-c", read]).output.decode().strip()
    networks = container.attrs["NetworkSettings"]["Networks"]
    ip = next(n["IPAddress"] for name, n in networks.items() if name.endswith("-internal"))
    with httpx.Client(base_url=f"http://{ip}:6333", headers={"api-key": key}, timeout=60) as api:
        yield api


def aliases(api) -> dict[str, str]:
    response = api.get("/aliases")
    assert response.status_code == 200, response.text
    return {a["alias_name"]: a["collection_name"] for a in response.json()["result"]["aliases"]}


def test_a_rollback_puts_the_aliases_back(deployment, qdrant, tmp_path):
    env = host_environment(tmp_path)
    all_healthy(deployment)
    store(deployment, DOC)  # the app points LIVE at its collection
    before = aliases(qdrant)
    assert LIVE in before, before
    created = backup(env, "create")
    assert created.returncode == 0, created.stderr
    name = created.stdout.strip()
    (snapshot,) = json.loads(restic(env, "snapshots", "--tag", f"name={name}", "--json").stdout)
    manifest = json.loads(restic(env, "dump", snapshot["id"], "manifest.json").stdout)
    assert manifest["qdrant"]["aliases"] == before

    # As a re-embedding would: LIVE moves to a new, empty collection; and a stray alias.
    vectors = qdrant.get(f"/collections/{before[LIVE]}").json()["result"]["config"]["params"]
    made = qdrant.put(f"/collections/{SWITCHED}", json={"vectors": vectors["vectors"]})
    assert made.status_code == 200, made.text
    actions = [
        {"delete_alias": {"alias_name": LIVE}},
        {"create_alias": {"collection_name": SWITCHED, "alias_name": LIVE}},
        {"create_alias": {"collection_name": before[LIVE], "alias_name": STRAY}},
    ]
    changed = qdrant.post("/collections/aliases", json={"actions": actions})
    assert changed.status_code == 200, changed.text
    assert aliases(qdrant) == {**before, LIVE: SWITCHED, STRAY: before[LIVE]}

    result = backup(env, "rollback", name)
    assert result.returncode == 0, result.stderr
    assert f"aliases: {LIVE} -> {SWITCHED}" in result.stderr  # the counts before
    assert "Qdrant aliases restored" in result.stderr
    assert aliases(qdrant) == before
    collections = [c["name"] for c in qdrant.get("/collections").json()["result"]["collections"]]
    assert SWITCHED not in collections
    all_healthy(deployment)
    assert found(deployment, DOC)
