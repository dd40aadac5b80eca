"""The edge's series the error-rate alert, the dashboard and the report read, named once.

mtail counts nginx's JSON access log (monitoring_templates/edge.mtail.j2). These two series
are unlabelled, so mtail exports them at 0 from its start. A labelled series
(ora_edge_requests_total{status="502"}) is born at its first value, and rate() never counts
that first step: the first burst of 5xx after a deploy went unseen (the swarm e2e).
"""

from __future__ import annotations

REQUESTS = "ora_edge_request_duration_seconds_count"  # every request (the histogram's count)
ERRORS = "ora_edge_errors_total"  # the requests answered 5xx


def error_percent(window: str) -> str:
    """PromQL: the share of the edge's requests answered 5xx over `window`, in %."""
    return f"100 * sum(rate({ERRORS}[{window}])) / sum(rate({REQUESTS}[{window}]))"


def requests_per_minute(window: str) -> str:
    return f"60 * sum(rate({REQUESTS}[{window}]))"
