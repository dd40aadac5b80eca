"""Store -> search -> cache hit -> write -> cache invalidated, against real Redis."""

from ora.cache import ENTRY_PREFIX, GENERATION_KEY


def search(client, q, limit=5):
    response = client.get("/api/v1/search", params={"q": q, "limit": limit})
    assert response.status_code == 200, response.text
    return response


def test_store_search_cache_hit_write_invalidates(client, redis_client):
    stored = client.post(
        "/api/v1/documents",
        json={"text": "redis keeps the job queue", "metadata": {"source": "ops"}},
    )
    assert stored.status_code == 201, stored.text

    first = search(client, "job queue in redis")
    assert first.headers["x-cache"] == "miss"
    assert first.json()["results"][0]["id"] == stored.json()["id"]
    assert first.json()["results"][0]["metadata"] == {"source": "ops"}

    second = search(client, "job queue in redis")
    assert second.headers["x-cache"] == "hit"
    assert second.json() == first.json()

    client.post("/api/v1/documents", json={"text": "qdrant stores the job queue vectors"})
    third = search(client, "job queue in redis")
    assert third.headers["x-cache"] == "miss"
    assert len(third.json()["results"]) == 2


def test_cache_entries_carry_a_ttl_and_the_generation_counter_none(client, redis_client):
    client.post("/api/v1/documents", json={"text": "anything"})
    search(client, "anything")
    entries = redis_client.keys(ENTRY_PREFIX + "*")
    assert entries
    assert all(0 < redis_client.ttl(key) <= 300 for key in entries)
    assert redis_client.ttl(GENERATION_KEY) == -1


def test_search_rejects_out_of_range_limit(client):
    assert client.get("/api/v1/search", params={"q": "x", "limit": 0}).status_code == 422
