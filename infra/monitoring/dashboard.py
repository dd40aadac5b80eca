"""The Grafana dashboard as code: plain dashboard JSON built from the stack's thresholds,
and the provisioning files that make Grafana load it.

Panel ids are the contract with the alert links (`monitoring_rules.PANELS`: an alert's
email links to `/grafana/d/ora/ora?viewPanel=ID`). Every query here is run against a real
Prometheus by tests/monitoring/test_dashboard.py. Grafana itself cannot run on the build
machine (it is not in Debian or PyPI), so the JSON is checked by that test and by its shape.

CLI: `python -m infra.monitoring.dashboard STACK` prints the JSON to provision.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from infra.config import StackConfig, offline
from infra.monitoring import edge_series
from infra.monitoring.rules import (
    BACKUP_HOURS,
    CERT_DAYS,
    DISK_PERCENT,
    MEMORY_PERCENT,
    PANELS,
    SCHEDULER_STALE_SECONDS,
)
from infra.monitoring.runtime import CURRENT

W = "10m"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}


@dataclass(frozen=True)
class Panel:
    id: int
    title: str
    unit: str
    queries: tuple[tuple[str, str], ...]  # (PromQL, legend)
    threshold: float | None = None  # drawn as a red line (the alert's threshold)


def panels(config: StackConfig) -> list[Panel]:
    m = config.monitoring
    latency = "sum by (le) (rate(ora_edge_request_duration_seconds_bucket[10m]))"
    return [
        Panel(PANELS["TargetDown"], "Targets up", "none", (("up", "{{job}} {{instance}}"),)),
        Panel(
            14,
            "Request rate at the edge",
            "reqps",
            ((f"sum by (status) (rate(ora_edge_requests_total[{W}]))", "{{status}}"),),
        ),
        Panel(
            PANELS["EdgeErrorRate"],
            "Error rate (5xx) vs threshold",
            "percent",
            (
                (
                    edge_series.error_percent(W),
                    "5xx %",
                ),
            ),
            m.error_rate_percent,
        ),
        Panel(
            PANELS["EdgeResponseTime"],
            "Latency percentiles vs threshold",
            "s",
            tuple(
                (f"histogram_quantile({q}, {latency})", f"p{int(q * 100)}")
                for q in (0.5, 0.95, 0.99)
            ),
            m.response_time_seconds,
        ),
        Panel(
            PANELS["LogGrowth"],
            "Log growth per stream (vs the hour before)",
            "percent",
            (
                (
                    f"100 * (sum by (stream) (increase(ora_log_bytes_total[{W}]))"
                    f" / (sum by (stream) (increase(ora_log_bytes_total[1h] offset {W})) / 6) - 1)",
                    "{{stream}}",
                ),
            ),
            m.log_growth_percent,
        ),
        Panel(
            PANELS["QueueDepth"],
            "Job queue depth",
            "none",
            (('max by (queue) (ora_jobs_queue_depth{queue!="dead"})', "{{queue}}"),),
            m.queue_depth,
        ),
        Panel(
            PANELS["DeadLetters"],
            "Dead letters",
            "none",
            (('max(ora_jobs_queue_depth{queue="dead"})', "dead"),),
            m.dead_letters,
        ),
        # The job series come from every app replica and the worker: max(), never sum().
        Panel(
            7,
            "Job throughput and failures (attempts per second)",
            "ops",
            (
                (f"max by (kind) (rate(ora_jobs_runs_total[{W}]))", "runs {{kind}}"),
                (f"max by (kind) (rate(ora_jobs_failures_total[{W}]))", "failures {{kind}}"),
            ),
        ),
        Panel(
            PANELS["JobFailureRate"],
            "Job failure rate vs threshold",
            "percent",
            (
                (
                    f"100 * max by (kind) (rate(ora_jobs_failures_total[{W}]))"
                    f" / max by (kind) (rate(ora_jobs_runs_total[{W}]))",
                    "{{kind}}",
                ),
            ),
            m.job_failure_percent,
        ),
        Panel(
            PANELS["SchedulerStale"],
            "Loop health: seconds since the scheduler loop last ran",
            "s",
            (("time() - max(ora_scheduler_last_run_timestamp_seconds)", "scheduler"),),
            SCHEDULER_STALE_SECONDS,
        ),
        Panel(
            PANELS["ContainerMemory"],
            "Container memory vs limit",
            "percent",
            (
                (
                    "100 * max by (name) (ora_container_memory_working_set_bytes)"
                    " / max by (name) (ora_container_memory_limit_bytes > 0)",
                    "{{name}}",
                ),
            ),
            MEMORY_PERCENT,
        ),
        Panel(
            13,
            "Container CPU (cores)",
            "none",
            (
                (
                    "sum by (name) (rate(ora_container_cpu_usage_seconds_total[5m]))",
                    "{{name}}",
                ),
            ),
        ),
        Panel(
            PANELS["DiskFull"],
            "Disk used",
            "percent",
            (
                (
                    '100 * (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"}'
                    ' / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"})',
                    "{{mountpoint}}",
                ),
            ),
            DISK_PERCENT,
        ),
        Panel(
            PANELS["CertificateExpiry"],
            "Certificate days left",
            "d",
            (("(probe_ssl_earliest_cert_expiry - time()) / 86400", "{{instance}}"),),
            CERT_DAYS,
        ),
        Panel(
            PANELS["BackupTooOld"],
            "Hours since the last successful backup",
            "h",
            (("(time() - ora_backup_last_success_timestamp_seconds) / 3600", "backup"),),
            BACKUP_HOURS,
        ),
    ]


def _panel(panel: Panel, index: int) -> dict:
    steps = [{"color": "green", "value": None}]
    if panel.threshold is not None:
        steps.append({"color": "red", "value": panel.threshold})
    return {
        "id": panel.id,
        "type": "timeseries",
        "title": panel.title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {
            "defaults": {
                "unit": panel.unit,
                "thresholds": {"mode": "absolute", "steps": steps},
                "custom": {"thresholdsStyle": {"mode": "line"}},
            },
            "overrides": [],
        },
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
            }
            for i, (expr, legend) in enumerate(panel.queries)
        ],
    }


def dashboard(config: StackConfig) -> dict:
    return {
        "uid": "ora",
        "title": f"Ora ({config.stack})",
        "schemaVersion": 39,
        "editable": False,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "tags": ["ora"],
        "panels": [_panel(p, i) for i, p in enumerate(panels(config))],
    }


def grafana_files(config: StackConfig) -> dict[str, str]:
    """Provisioning: the Prometheus datasource and the repo's dashboard (JSON is YAML)."""
    datasource = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": DATASOURCE["uid"],
                "type": "prometheus",
                "access": "proxy",
                "url": "http://prometheus:9090",
                "isDefault": True,
                "editable": False,
            }
        ],
    }
    provider = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "ora",
                "folder": "Ora",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "options": {"path": f"{CURRENT}/grafana/dashboards"},
            }
        ],
    }
    return {
        "grafana/provisioning/datasources/ora.yml": json.dumps(datasource, indent=2) + "\n",
        "grafana/provisioning/dashboards/ora.yml": json.dumps(provider, indent=2) + "\n",
        "grafana/dashboards/ora.json": json.dumps(dashboard(config), indent=2) + "\n",
    }


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m infra.monitoring.dashboard STACK", file=sys.stderr)
        return 2
    print(json.dumps(dashboard(offline(args[0])), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
