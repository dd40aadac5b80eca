"""The alerting rules, as data: each alert's PromQL, `for:`, severity and annotations.

Thresholds come from the stack's config (`Monitoring`), durations from `Timing`
(infra/monitoring/runtime.py), so the rendered rules file, the promtool tests
(tests/monitoring) and the email all agree.
Metric contract (what the exporters and the app expose) is listed in METRICS.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra import topology
from infra.config.monitoring import Monitoring
from infra.monitoring import edge_series
from infra.monitoring.runtime import Timing

# Metric name -> who exposes it. The rules below use nothing else.
METRICS = {
    "ora_edge_errors_total": "mtail, the edge's 5xx answers from nginx's JSON access log",
    "ora_edge_request_duration_seconds_bucket{le}, ora_edge_request_duration_seconds_count": (
        "mtail, request_time histogram (its count: every request)"
    ),
    "ora_edge_requests_total{status}": "mtail, requests per status (dashboard only)",
    "ora_log_bytes_total{stream}": "mtail, bytes written per log file (stream = file name)",
    "up": "Prometheus, per scrape target",
    "node_filesystem_avail_bytes / node_filesystem_size_bytes": "node-exporter",
    "probe_ssl_earliest_cert_expiry": "blackbox-exporter probing the public URL",
    "ora_backup_last_success_timestamp_seconds": "ora-backup, via node-exporter's textfile dir",
    "ora_container_restarts_total{name}": "ora-container-metrics (the engine's RestartCount), "
    "via node-exporter's textfile dir",
    "ora_container_memory_working_set_bytes{name}, ora_container_memory_limit_bytes{name}": (
        "ora-container-metrics (docker stats' figures), via node-exporter's textfile dir"
    ),
    "ora_container_cpu_usage_seconds_total{name}": "ora-container-metrics (dashboard only)",
    "node_textfile_mtime_seconds{file}": "node-exporter: when each textfile was last written",
    "ora_jobs_queue_depth{queue=ready|dead}": "the app's and the worker's /metrics (Redis)",
    "ora_jobs_runs_total{kind}, ora_jobs_failures_total{kind}": "the app's and the worker's "
    "/metrics (Redis: every worker's attempts)",
    "ora_scheduler_last_run_timestamp_seconds": "the app's and the worker's /metrics (Redis: "
    "stamped by the scheduler's loop_health job)",
}
# The job series are exported by every app replica and the worker, from the same Redis
# keys: the rules take max() across those copies, never sum().
DISK_PERCENT = 85
CERT_DAYS = 14
BACKUP_HOURS = 26
RESTARTS_IN_15M = 3
MEMORY_PERCENT = 90
MIN_EDGE_REQUESTS = 20  # below this many requests in the window, no error-rate alert


MIN_JOB_RUNS = 5  # below this many attempts of a kind in the window, no failure-rate alert
# The scheduler's loop_health period (the worker's LOOP_HEALTH_INTERVAL, set by
# infra/targets/host/app.py); a loop not run for SCHEDULER_STALE_INTERVALS periods is stale.
SCHEDULER_STALE_INTERVALS = 3
SCHEDULER_STALE_SECONDS = topology.SCHEDULER_INTERVAL_SECONDS * SCHEDULER_STALE_INTERVALS
# ora-container-metrics rewrites ora_containers.prom every
# topology.CONTAINER_METRICS_INTERVAL_SECONDS. node-exporter labels a file's mtime with its path
# (1.5, 1.9; older ones: its base name) and leaves out a file it cannot parse. Not rewritten for
# CONTAINER_METRICS_STALE_INTERVALS: the writer is dead, and RestartLoop and ContainerMemory
# read its last figures.
CONTAINER_METRICS_MTIME = (
    'node_textfile_mtime_seconds{job="node",file=~"(.*/)?ora_containers[.]prom"}'
)
CONTAINER_METRICS_STALE_INTERVALS = 20
CONTAINER_METRICS_STALE_SECONDS = (
    topology.CONTAINER_METRICS_INTERVAL_SECONDS * CONTAINER_METRICS_STALE_INTERVALS
)
# Dashboard panel ids (the dashboard's contract with the alert links).
PANELS = {
    "EdgeErrorRate": 2,
    "EdgeResponseTime": 3,
    "LogGrowth": 4,
    "TargetDown": 1,
    "DiskFull": 10,
    "CertificateExpiry": 11,
    "BackupTooOld": 12,
    "RestartLoop": 9,
    "QueueDepth": 5,
    "DeadLetters": 6,
    "ContainerMemory": 9,
    "JobFailureRate": 15,
    "SchedulerStale": 8,
    "ContainerMetricsStale": 9,
}


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: str
    summary: str  # Prometheus template; $value is the expression's value
    value: str
    threshold: str
    description: str


def disk_selector(mounts: tuple[str, ...]) -> str:
    regex = "|".join(mounts)
    return f'{{mountpoint=~"{regex}",fstype!~"tmpfs|overlay|squashfs"}}'


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
FLOOR_PERIOD_SECONDS = 600  # ora:alertLogFloorBytes counts bytes per 10 minutes


def window_floor(floor_bytes: int, window: str) -> int:
    """ora:alertLogFloorBytes (per 10 minutes) scaled to the rule's window ("15s", "10m")."""
    seconds = int(window[:-1]) * _UNIT_SECONDS[window[-1]]
    return round(floor_bytes * seconds / FLOOR_PERIOD_SECONDS)


def container_metrics_stale(t: Timing, writer: bool) -> Alert:
    """The file is older than the threshold; or, where the bootstrap installs the writer,
    missing (the value -1 stands for missing in the annotations)."""
    age = f"time() - max by (job) ({CONTAINER_METRICS_MTIME})"
    missing = f" or absent({CONTAINER_METRICS_MTIME}) * -1" if writer else ""
    return Alert(
        "ContainerMetricsStale",
        f"{age} > {CONTAINER_METRICS_STALE_SECONDS}{missing}",
        t.fire_for,
        "warning",
        "{{ if lt $value 0.0 }}ora_containers.prom is missing (or unreadable) in node-exporter's"
        " textfile directory{{ else }}ora_containers.prom was last written"
        ' {{ $value | printf "%.0f" }} s ago{{ end }}',
        '{{ if lt $value 0.0 }}missing{{ else }}{{ $value | printf "%.0f" }} s{{ end }}',
        f"{CONTAINER_METRICS_STALE_SECONDS} s ({CONTAINER_METRICS_STALE_INTERVALS} x its"
        f" {topology.CONTAINER_METRICS_INTERVAL_SECONDS} s interval)"
        + (", or missing" if writer else ""),
        "ora-container-metrics stopped writing: RestartLoop and ContainerMemory read stale"
        " figures until it runs again.",
    )


def alerts(
    m: Monitoring, t: Timing, disk_mounts: tuple[str, ...], *, container_writer: bool = True
) -> list[Alert]:
    """Every alert; container_writer: the host runs ora-container-metrics (the bootstrap
    installs it), so a missing file is an alert too."""
    w, v1, pct = t.window, '{{ $value | printf "%.1f" }}', '{{ $value | printf "%.0f" }}'
    floor = window_floor(m.log_growth_floor_bytes, w)
    logs = f"sum by (stream) (increase(ora_log_bytes_total[{w}]))"
    baseline = f"sum by (stream) (increase(ora_log_bytes_total[{t.baseline}] offset {w}))"
    disk = disk_selector(disk_mounts)
    return [
        Alert(
            "EdgeErrorRate",
            f"{edge_series.error_percent(w)} > {m.error_rate_percent}"
            f" and sum(increase({edge_series.REQUESTS}[{w}])) >= {MIN_EDGE_REQUESTS}",
            t.fire_for,
            "critical",
            f"{v1} % of requests at the edge answered 5xx over {w}",
            f"{v1} %",
            f"{m.error_rate_percent} %",
            "nginx counts 502/504 that never reach the app; check the app and its logs.",
        ),
        Alert(
            "EdgeResponseTime",
            f"histogram_quantile(0.95, sum by (le) "
            f"(rate(ora_edge_request_duration_seconds_bucket[{w}]))) > {m.response_time_seconds:g}",
            t.fire_for,
            "warning",
            f'p95 edge request time is {{{{ $value | printf "%.2f" }}}} s over {w}',
            '{{ $value | printf "%.2f" }} s',
            f"{m.response_time_seconds:g} s",
            "Slow answers at the edge: check the app's latency panel, Qdrant and Redis.",
        ),
        Alert(
            "LogGrowth",
            f"100 * ({logs} / ({baseline} / {t.baseline_windows}) - 1) > {m.log_growth_percent}"
            f" and {logs} > {floor}",
            t.fire_for,
            "warning",
            f"{{{{ $labels.stream }}}} wrote {pct} % more in {w} than in its average {w}"
            f" of the {t.baseline} before",
            f"{pct} %",
            f"{m.log_growth_percent} % (streams writing over {floor} B/{w})",
            "A log stream grows faster than usual: read it in /opt/ora/logs/.",
        ),
        Alert(
            "TargetDown",
            "up == 0",
            t.down_for,
            "critical",
            "{{ $labels.job }} target {{ $labels.instance }} is down",
            "down",
            f"down for {t.down_for}",
            "Prometheus cannot scrape this target; its other alerts are inhibited.",
        ),
        Alert(
            "DiskFull",
            f"100 * (1 - node_filesystem_avail_bytes{disk} / node_filesystem_size_bytes{disk})"
            f" > {DISK_PERCENT}",
            t.slow_for,
            "critical",
            f"filesystem {{{{ $labels.mountpoint }}}} is {pct} % full",
            f"{pct} %",
            f"{DISK_PERCENT} %",
            "Free space under /opt/ora (logs, backups) or Docker's data root.",
        ),
        Alert(
            "CertificateExpiry",
            f"(min by (instance) (probe_ssl_earliest_cert_expiry) - time()) / 86400 < {CERT_DAYS}",
            t.slow_for,
            "warning",
            f"the certificate of {{{{ $labels.instance }}}} expires in {v1} days",
            f"{v1} days",
            f"{CERT_DAYS} days",
            "Renew or replace the served certificate.",
        ),
        Alert(
            "BackupTooOld",
            f"(time() - max(ora_backup_last_success_timestamp_seconds)) / 3600 > {BACKUP_HOURS}",
            t.slow_for,
            "critical",
            f"the newest successful backup is {v1} h old",
            f"{v1} h",
            f"{BACKUP_HOURS} h",
            "Check the ora-backup timer and its journal on the host.",
        ),
        Alert(
            "RestartLoop",
            # RestartCount is exact but counts from the container's creation: its rise over
            # 15m. A deploy's new container starts again at 0, which is never a rise.
            "max by (name) (ora_container_restarts_total"
            " - min_over_time(ora_container_restarts_total[15m]))"
            f" >= {RESTARTS_IN_15M}",
            "0s",
            "critical",
            f"container {{{{ $labels.name }}}} restarted {pct} times in 15m",
            f"{pct} restarts",
            f"{RESTARTS_IN_15M} restarts in 15m",
            "A container keeps restarting: docker logs NAME.",
        ),
        Alert(
            "QueueDepth",
            f'max by (queue) (ora_jobs_queue_depth{{queue="ready"}}) > {m.queue_depth}',
            t.slow_for,
            "warning",
            f"{pct} jobs wait in the ready queue",
            f"{pct} jobs",
            f"{m.queue_depth} jobs",
            "The worker does not keep up, or is stopped.",
        ),
        Alert(
            "DeadLetters",
            f'max by (queue) (ora_jobs_queue_depth{{queue="dead"}}) > {m.dead_letters}',
            t.fire_for,
            "warning",
            f"{pct} jobs are dead-lettered",
            f"{pct} jobs",
            f"{m.dead_letters} jobs",
            "Jobs failed every attempt: read the worker's log.",
        ),
        Alert(
            "JobFailureRate",
            f"100 * max by (kind) (rate(ora_jobs_failures_total[{w}]))"
            f" / max by (kind) (rate(ora_jobs_runs_total[{w}])) > {m.job_failure_percent}"
            f" and max by (kind) (increase(ora_jobs_runs_total[{w}])) >= {MIN_JOB_RUNS}",
            t.fire_for,
            "warning",
            f"{pct} % of {{{{ $labels.kind }}}} job attempts failed over {w}",
            f"{v1} %",
            f"{m.job_failure_percent} % (kinds with {MIN_JOB_RUNS}+ attempts in {w})",
            "Jobs of this kind keep failing: read the worker's log for their error.",
        ),
        Alert(
            "SchedulerStale",
            f"time() - max(ora_scheduler_last_run_timestamp_seconds) > {SCHEDULER_STALE_SECONDS}",
            t.fire_for,
            "critical",
            f"the scheduler loop last ran {pct} s ago",
            f"{pct} s",
            f"{SCHEDULER_STALE_SECONDS} s ({SCHEDULER_STALE_INTERVALS} x its"
            f" {topology.SCHEDULER_INTERVAL_SECONDS} s interval)",
            "No periodic job has run: the worker is stuck, stopped, or cannot reach Redis.",
        ),
        Alert(
            "ContainerMemory",
            "100 * max by (name) (ora_container_memory_working_set_bytes)"
            " / max by (name) (ora_container_memory_limit_bytes > 0)"
            f" > {MEMORY_PERCENT}",
            t.fire_for,
            "warning",
            f"container {{{{ $labels.name }}}} uses {pct} % of its memory limit",
            f"{pct} %",
            f"{MEMORY_PERCENT} %",
            "Near its limit the kernel kills the container: raise the limit or find the leak.",
        ),
        container_metrics_stale(t, container_writer),
    ]
