"""The cached-search fast path reads (q, limit) exactly as the route does, or steps aside."""

import pytest
from ora.fastpath import search_key
from prometheus_client.parser import text_string_to_metric_families


@pytest.mark.parametrize(
    ("query_string", "expected"),
    [
        (b"q=redis", ("redis", 10)),
        (b"q=redis+queue&limit=5", ("redis queue", 5)),
        (b"q=a&q=b&limit=3", ("b", 3)),  # the last value wins, as in Starlette
        (b"q=%C3%A9t%C3%A9", ("\u00e9t\u00e9", 10)),  # percent-decoded as UTF-8, as Starlette
        (b"limit=5", None),
        (b"q=x&limit=5.0", None),
        (b"q=x&limit=-1", None),
        (b"q=x&limit=100", None),
    ],
)
def test_search_key(query_string, expected):
    assert search_key(query_string) == expected


def test_fast_path_hit_is_counted_under_the_route_template(client):
    client.post("/api/v1/documents", json={"text": "fast path"})
    assert client.get("/api/v1/search?q=fast").headers["x-cache"] == "miss"
    hit = client.get("/api/v1/search?q=fast", headers={"X-Request-ID": "hit-1"})
    assert (hit.headers["x-cache"], hit.headers["x-request-id"]) == ("hit", "hit-1")
    assert hit.headers["content-type"] == "application/json"
    families = text_string_to_metric_families(client.get("/metrics").text)
    [requests] = [f for f in families if f.name == "ora_http_requests"]
    routes = {s.labels["route"] for s in requests.samples if s.labels.get("status") == "200"}
    assert "/api/v1/search" in routes
