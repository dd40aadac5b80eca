"""/metrics is valid Prometheus text with the series the alert rules rely on."""

from prometheus_client.parser import text_string_to_metric_families


def scrape(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def samples(family, suffix=""):
    return [s for s in family.samples if s.name == family.name + suffix]


def request_counts(families):
    return {
        (s.labels["route"], s.labels["status"]): s.value
        for s in samples(families["ora_http_requests"], "_total")
    }


def test_metrics_parse_and_label_requests_by_route_template(client):
    job_id = client.post("/api/v1/jobs", json={"kind": "loop_health"}).json()["id"]
    before = request_counts(scrape(client))  # counters are process-wide: compare deltas
    client.get(f"/api/v1/jobs/{job_id}")
    client.get("/api/v1/jobs/someotherid")
    client.get("/no/such/path")
    families = scrape(client)
    after = request_counts(families)

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)

    assert delta(("/api/v1/jobs/{job_id}", "200")) == 1
    assert delta(("/api/v1/jobs/{job_id}", "404")) == 1
    assert delta(("<unmatched>", "404")) == 1
    assert not any(job_id in route for route, _ in after)
    assert samples(families["ora_http_request_duration_seconds"], "_bucket")


def test_metrics_report_in_flight_queue_depth_failures_and_cache(client):
    client.post("/api/v1/jobs", json={"kind": "loop_health"})
    client.get("/api/v1/search", params={"q": "x"})
    client.get("/api/v1/search", params={"q": "x"})
    families = scrape(client)

    assert samples(families["ora_http_requests_in_flight"])[0].value == 1  # the scrape itself
    depth = {s.labels["queue"]: s.value for s in samples(families["ora_jobs_queue_depth"])}
    assert depth == {"ready": 1, "processing": 0, "delayed": 0, "dead": 0}
    assert "ora_jobs_failures" in families and "ora_jobs_runs" in families
    assert samples(families["ora_search_cache_hits"], "_total")[0].value >= 1
    assert samples(families["ora_search_cache_misses"], "_total")[0].value >= 1
