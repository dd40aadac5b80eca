"""promtool unit tests for every alert, generated from the stack's thresholds.

Each alert gets: a series just above its threshold (fires once `for:` has passed), one
just below (stays quiet), and an evaluation one minute before `for:` has passed (not yet
firing). Samples are one minute apart and sit on the windows' edges, so rate() and
increase() are exact and the expected figures below are exact too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.config.monitoring import Monitoring
from infra.monitoring import edge_series
from infra.monitoring.render import REQUEST_BUCKETS
from infra.monitoring.rules import (
    BACKUP_HOURS,
    CERT_DAYS,
    CONTAINER_METRICS_STALE_SECONDS,
    DISK_PERCENT,
    MEMORY_PERCENT,
    MIN_EDGE_REQUESTS,
    MIN_JOB_RUNS,
    RESTARTS_IN_15M,
    SCHEDULER_STALE_SECONDS,
)
from infra.monitoring.runtime import Timing

MINUTES = 60  # length of every input series, in samples (one a minute)


def minutes(duration: str) -> int:
    value, unit = int(duration[:-1]), duration[-1]
    return value * {"s": 0, "m": 1, "h": 60}[unit] if unit != "s" else value // 60


def counter(rates: list[float], start: float = 0.0) -> str:
    """Cumulative values of a counter growing by rates[i] in minute i (first sample: start)."""
    values, total = [start], start
    for rate in rates:
        total += rate
        values.append(total)
    return " ".join(f"{v:.15g}" for v in values)


def constant(value: float, samples: int = MINUTES + 1) -> str:
    return " ".join([f"{value:.15g}"] * samples)


@dataclass
class Case:
    """One promtool test: series, and the alert's expected label sets at given minutes."""

    title: str
    series: dict[str, str]
    expect: dict[int, list[dict[str, str]]] = field(default_factory=dict)  # minute -> alerts
    figure: str = ""  # the value the alert sees, for the report


def edge_error_rate(m: Monitoring, t: Timing) -> list[Case]:
    total = 1000  # requests a minute
    cases = []
    for title, percent in (
        ("above", m.error_rate_percent + 0.5),
        ("below", m.error_rate_percent - 0.5),
    ):
        errors = total * percent / 100
        series = {
            edge_series.ERRORS: counter([errors] * MINUTES),
            edge_series.REQUESTS: counter([total] * MINUTES),
        }
        fire = [{}] if title == "above" else []
        expect = {40: fire}
        if title == "above":
            expect[minutes(t.fire_for)] = []  # active from minute 1, still pending
        cases.append(Case(title, series, expect, f"{percent:g} %"))
    few = MIN_EDGE_REQUESTS // 10 - 1  # every request fails, but too few of them
    cases.append(
        Case(
            "too few requests",
            {
                edge_series.ERRORS: counter([few] * MINUTES),
                edge_series.REQUESTS: counter([few] * MINUTES),
            },
            {40: []},
        )
    )
    return cases


def p95(fraction_at_or_below: float, low: float, threshold: float, high: float) -> float:
    """histogram_quantile's interpolation when every observation sits in (low, high]."""
    f = fraction_at_or_below
    if f >= 0.95:
        return low + 0.95 / f * (threshold - low)
    return threshold + (0.95 - f) / (1 - f) * (high - threshold)


def edge_response_time(m: Monitoring, t: Timing) -> list[Case]:
    s = m.response_time_seconds
    buckets = sorted({*REQUEST_BUCKETS, s})
    i = buckets.index(s)
    low = buckets[i - 1] if i else 0.0
    high = buckets[i + 1] if i + 1 < len(buckets) else s * 2
    cases = []
    for title, share in (("above", 0.94), ("below", 0.96)):
        per_minute = 1000
        series = {}
        for le in [*buckets, float("inf")]:
            count = 0 if le < s else per_minute * share if le == s else per_minute
            if le <= low:
                count = 0
            label = "+Inf" if le == float("inf") else f"{le:g}"
            series[f'ora_edge_request_duration_seconds_bucket{{le="{label}"}}'] = counter(
                [count] * MINUTES
            )
        expect = {40: [{}] if title == "above" else []}
        if title == "above":
            expect[minutes(t.fire_for)] = []
        cases.append(Case(title, series, expect, f"p95 {p95(share, low, s, high):.3f} s"))
    return cases


def log_growth(m: Monitoring, t: Timing) -> list[Case]:
    window, base_minutes, k = minutes(t.window), minutes(t.baseline), t.baseline_windows
    base_rate = 2 * m.log_growth_floor_bytes / window + 1000  # bytes a minute, above the floor
    step = base_minutes + window + 20
    length = step + 40
    cases = []
    for title, growth in (("above", m.log_growth_percent + 5), ("below", m.log_growth_percent - 5)):
        rates = [base_rate] * step + [base_rate * (1 + growth / 100)] * (length - step)
        values = [0.0]
        for r in rates:
            values.append(values[-1] + r)

        def active(minute: int, values=values) -> bool:
            now = values[minute] - values[minute - window]
            base = (values[minute - window] - values[minute - window - base_minutes]) / k
            return now > m.log_growth_floor_bytes and 100 * (now / base - 1) > m.log_growth_percent

        series = {'ora_log_bytes_total{stream="scheduler"}': " ".join(f"{v:.15g}" for v in values)}
        if title == "above":
            first = next(x for x in range(step, length) if active(x))
            fire_at = first + minutes(t.fire_for)
            assert all(active(x) for x in range(first, fire_at + 1)), "window shorter than for:"
            expect = {fire_at: [{"stream": "scheduler"}], fire_at - 1: []}
            # A rotation at minute `step`: mtail counts bytes written, so the counter goes on
            # (tests/monitoring/test_log_growth.py: the real mtail across real rotations).
            cases.append(Case(f"above, rotation at minute {step}", series, expect, f"+{growth} %"))
        else:
            assert not any(active(x) for x in range(step, length))
            cases.append(
                Case(title, series, {x: [] for x in range(step, length, 5)}, f"+{growth} %")
            )
    # mtail restarted (counter back to 0) at a steady rate: increase() absorbs the reset.
    steady = [0.0]
    for minute in range(length):
        steady.append(0.0 if minute == step else steady[-1] + base_rate)
    reset = {'ora_log_bytes_total{stream="worker"}': " ".join(f"{v:.15g}" for v in steady)}
    cases.append(Case("counter reset, steady rate", reset, {x: [] for x in range(step, length, 5)}))
    return cases


def target_down(m: Monitoring, t: Timing) -> list[Case]:
    down_for = minutes(t.down_for)
    long = " ".join(["1"] * 10 + ["0"] * 30)
    short = " ".join(["1"] * 10 + ["0"] * down_for + ["1"] * 30)  # down just under `for:`
    cases = []
    for job, instance in (("qdrant", "qdrant:6333"), ("worker", "worker:9100")):
        labels = {"job": job, "instance": instance}
        name = f'up{{job="{job}",instance="{instance}"}}'
        expect = {10 + down_for: [labels], 10 + down_for - 1: []}
        cases.append(Case(f"{job} above", {name: long}, expect, t.down_for))
        expect = {10 + down_for: [], 10 + down_for + 5: []}
        cases.append(Case(f"{job} below", {name: short}, expect, f"<{t.down_for}"))
    return cases


def _steady(name: str, labels: dict[str, str], above: float, below: float, t_for: str, extra=None):
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    cases = []
    for title, value in (("above", above), ("below", below)):
        series = {f"{name}{{{selector}}}": constant(value), **(extra or {})}
        expect = {40: [labels] if title == "above" else []}
        if title == "above" and minutes(t_for):
            expect[minutes(t_for) - 1] = []
        cases.append(Case(title, series, expect, f"{value:g}"))
    return cases


def disk_full(m: Monitoring, t: Timing) -> list[Case]:
    labels = {"mountpoint": "/opt/ora", "fstype": "ext4"}
    size = '{mountpoint="/opt/ora",fstype="ext4"}'
    cases = _steady(
        "node_filesystem_avail_bytes",
        labels,
        100 - DISK_PERCENT - 1,
        100 - DISK_PERCENT + 1,
        t.slow_for,
        {f"node_filesystem_size_bytes{size}": constant(100)},
    )
    # a full tmpfs is not ours to watch
    cases[1].series['node_filesystem_avail_bytes{mountpoint="/opt/ora/tmp",fstype="tmpfs"}'] = (
        constant(1)
    )
    cases[1].series['node_filesystem_size_bytes{mountpoint="/opt/ora/tmp",fstype="tmpfs"}'] = (
        constant(100)
    )
    cases[0].figure, cases[1].figure = f"{DISK_PERCENT + 1} % used", f"{DISK_PERCENT - 1} % used"
    return cases


def _crossing(
    name: str, labels: dict, above: float, below: float, t_for: str, figures
) -> list[Case]:
    """A constant whose alert crosses its threshold at minute 20 (above) or not by 30 (below)."""
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    fire_at = 20 + minutes(t_for)
    return [
        Case(
            "above",
            {f"{name}{{{selector}}}": constant(above)},
            {fire_at: [labels], fire_at - 1: []},
            figures[0],
        ),
        Case("below", {f"{name}{{{selector}}}": constant(below)}, {fire_at: []}, figures[1]),
    ]


def certificate_expiry(m: Monitoring, t: Timing) -> list[Case]:
    # time() is seconds since the test's start: 1 s short of the threshold at minute 20, and
    # 1 minute beyond it at the evaluation that would fire.
    limit, fire_at = CERT_DAYS * 86400, (20 + minutes(t.slow_for)) * 60
    return _crossing(
        "probe_ssl_earliest_cert_expiry",
        {"instance": "https://ora.example.com"},
        20 * 60 + limit - 1,
        fire_at + limit + 60,
        t.slow_for,
        (f"{CERT_DAYS} days - 1 s", f"{CERT_DAYS} days + 1 min"),
    )


def backup_too_old(m: Monitoring, t: Timing) -> list[Case]:
    limit, fire_at = BACKUP_HOURS * 3600, (20 + minutes(t.slow_for)) * 60
    return _crossing(
        "ora_backup_last_success_timestamp_seconds",
        {},
        20 * 60 - limit - 1,
        fire_at - limit + 60,
        t.slow_for,
        (f"{BACKUP_HOURS} h + 1 s", f"{BACKUP_HOURS} h - 1 min"),
    )


def restart_count(changes: dict[int, int]) -> str:
    """RestartCount a minute at a time: from each minute in `changes`, that value."""
    values, value = [], 0
    for minute in range(MINUTES + 1):
        value = changes.get(minute, value)
        values.append(str(value))
    return " ".join(values)


def restart_loop(m: Monitoring, t: Timing) -> list[Case]:
    name = 'ora_container_restarts_total{name="ora-app-1",service="app"}'
    n, fire = RESTARTS_IN_15M, [{"name": "ora-app-1"}]

    def case(title: str, changes: dict[int, int], expect, figure: str) -> Case:
        return Case(title, {name: restart_count(changes)}, expect, figure)

    # Restarts every 3 minutes from minute 20 (the count had reached 5 long before).
    loop = {0: 5, **{20 + 3 * i: 6 + i for i in range(n)}}
    spread = {0: 5, **{10 + 10 * i: 6 + i for i in range(n)}}  # one every 10 minutes
    return [
        case("above", loop, {19: [], 30: fire}, f"{n} restarts"),
        case("below", {0: 5, **{20 + 3 * i: 6 + i for i in range(n - 1)}}, {30: []}, f"{n - 1}"),
        case("spread over more than 15m", spread, {30: [], 40: []}, f"{n} in 20 minutes"),
        # A deploy replaces the container: its RestartCount starts again at 0.
        case("recreated by a deploy", {0: 7, 20: 0}, {21: [], 30: []}, "7, then 0"),
        case(
            "recreated, then restarting",
            {0: 7, 20: 0, **{22 + 2 * i: 1 + i for i in range(n)}},
            {30: fire},
            f"0, then {n}",
        ),
    ]


def queue_depth(m: Monitoring, t: Timing) -> list[Case]:
    return _steady(
        "ora_jobs_queue_depth", {"queue": "ready"}, m.queue_depth + 1, m.queue_depth, t.slow_for
    )


def dead_letters(m: Monitoring, t: Timing) -> list[Case]:
    return _steady(
        "ora_jobs_queue_depth", {"queue": "dead"}, m.dead_letters + 1, m.dead_letters, t.fire_for
    )


# The job series come from every app replica and the worker (the same Redis keys).
JOB_SOURCES = ('job="app",instance="10.0.0.5:8000"', 'job="worker",instance="worker:9100"')


def job_failure_rate(m: Monitoring, t: Timing) -> list[Case]:
    runs = 10  # attempts a minute
    cases = []
    for title, percent in (
        ("above", m.job_failure_percent + 0.5),
        ("below", m.job_failure_percent - 0.5),
    ):
        series = {}
        for source in JOB_SOURCES:
            series[f'ora_jobs_runs_total{{{source},kind="reembed"}}'] = counter([runs] * MINUTES)
            series[f'ora_jobs_failures_total{{{source},kind="reembed"}}'] = counter(
                [runs * percent / 100] * MINUTES
            )
            series[f'ora_jobs_runs_total{{{source},kind="loop_health"}}'] = counter([1] * MINUTES)
            series[f'ora_jobs_failures_total{{{source},kind="loop_health"}}'] = constant(0)
        expect = {40: [{"kind": "reembed"}] if title == "above" else []}
        if title == "above":
            expect[minutes(t.fire_for)] = []  # active from minute 1, still pending
        cases.append(Case(title, series, expect, f"{percent:g} %"))
    # every attempt of a rare kind fails, but fewer than MIN_JOB_RUNS of them in the window
    few = (MIN_JOB_RUNS - 1) / minutes(t.window)
    rare = {
        f'ora_jobs_{name}_total{{{source},kind="reembed"}}': counter([few] * MINUTES)
        for name in ("runs", "failures")
        for source in JOB_SOURCES  # the same attempts, seen twice: max(), not sum()
    }
    cases.append(Case(f"{MIN_JOB_RUNS - 1} attempts, all failed", rare, {40: []}))
    return cases


def scheduler_stale(m: Monitoring, t: Timing) -> list[Case]:
    """The loop runs every minute, 1 s before each sample, until minute `stop`; then it
    stalls for good (above), or runs once more and resumes after a stall just under the
    threshold (below)."""
    stop, limit = 20, SCHEDULER_STALE_SECONDS
    name = "ora_scheduler_last_run_timestamp_seconds"
    running = [60 * minute - 1 for minute in range(stop + 1)]
    stalled = running + [running[-1]] * (MINUTES - stop)
    first = next(x for x in range(stop, MINUTES) if 60 * x - stalled[x] > limit)
    fire_at = first + minutes(t.fire_for)
    cases = [
        Case(
            "above",
            {f"{name}{{{s}}}": " ".join(f"{v:g}" for v in stalled) for s in JOB_SOURCES},
            {fire_at: [{}], fire_at - 1: []},
            f"{60 * first - stalled[first]} s since the last run",
        )
    ]
    # One last run such that, where the stall above turns active, this one is 1 s short of
    # the threshold; it then stalls as long as `for:`, and resumes: never active long enough.
    last, resume = 60 * first - (limit - 1), first + minutes(t.fire_for) + 1
    values = (
        running + [last] * (resume - 1 - stop) + [60 * x - 1 for x in range(resume, MINUTES + 1)]
    )
    longest = max(60 * x - v for x, v in enumerate(values))
    assert longest == limit - 1 + 60 * minutes(t.fire_for)
    series = {f"{name}{{{s}}}": " ".join(f"{v:g}" for v in values) for s in JOB_SOURCES}
    figure = f"{limit - 1} s when the stall above fires; stalled {longest} s in all"
    cases.append(Case("below", series, {x: [] for x in range(stop, MINUTES)}, figure))
    return cases


def container_memory(m: Monitoring, t: Timing) -> list[Case]:
    limit = {'ora_container_memory_limit_bytes{name="ora-redis"}': constant(1000)}
    cases = _steady(
        "ora_container_memory_working_set_bytes",
        {"name": "ora-redis"},
        10 * (MEMORY_PERCENT + 1),
        10 * (MEMORY_PERCENT - 1),
        t.fire_for,
        limit,
    )
    cases[0].figure, cases[1].figure = f"{MEMORY_PERCENT + 1} %", f"{MEMORY_PERCENT - 1} %"
    return cases


def container_metrics_stale(m: Monitoring, t: Timing) -> list[Case]:
    """ora_containers.prom rewritten every minute, 1 s before each sample, until minute 20;
    then its age crosses the threshold at `first`. Debian's node-exporter 1.5 and the pinned
    1.9 label the mtime with the file's path (older ones with its base name)."""
    stop, limit, fire_for = 20, CONTAINER_METRICS_STALE_SECONDS, minutes(t.fire_for)
    path = "/var/lib/node-exporter/textfile/ora_containers.prom"
    first = next(x for x in range(stop, MINUTES) if 60 * x - (60 * stop - 1) > limit)
    node, fire = 'job="node",instance="node-exporter:9100"', [{"job": "node"}]

    def mtimes(resume: int | None, stalled_at: float) -> str:
        """Written 1 s before each minute up to `stop`, then `stalled_at`, then (from
        minute `resume`) written again."""
        values = [60 * x - 1 for x in range(stop + 1)]
        for x in range(stop + 1, MINUTES + 1):
            values.append(60 * x - 1 if resume is not None and x >= resume else stalled_at)
        return " ".join(f"{v:g}" for v in values)

    def series(values: str, file: str = path, **extra: str) -> dict[str, str]:
        return {f'node_textfile_mtime_seconds{{{node},file="{file}"}}': values, **extra}

    stalled = mtimes(None, 60 * stop - 1)
    # The age reaches the threshold exactly (not above it) at `first`, then the writer resumes.
    at_limit = mtimes(first + 1, 60 * first - limit)
    # Above it at `first`, for one minute less than `for:`, then the writer resumes.
    short = mtimes(first + fire_for, 60 * stop - 1)
    backup = 'node_textfile_mtime_seconds{job="node",instance="node-exporter:9100",'
    backup += f'file="{path.replace("containers", "backup")}"}}'
    every = range(stop, MINUTES, 5)
    return [
        Case(
            "above",
            series(stalled),
            {first + fire_for: fire, first + fire_for - 1: []},
            f"{60 * first - (60 * stop - 1)} s since written",
        ),
        Case("below", series(at_limit), {x: [] for x in every}, f"{limit} s at most"),
        Case(
            "above for less than for:",
            series(short),
            {x: [] for x in range(stop, MINUTES)},
            f"over {limit} s for {fire_for - 1} minute(s)",
        ),
        Case(
            "labelled by base name",
            series(stalled, "ora_containers.prom"),
            {first + fire_for: fire},
            "old node-exporter",
        ),
        Case(
            "the daily backup's file a day old, ours fresh",
            series(mtimes(0, 0), **{backup: constant(-86400)}),
            {x: [] for x in every},
            "ora_backup.prom 86400 s",
        ),
        Case(
            "missing",
            {f"up{{{node}}}": constant(1)},
            {fire_for - 1: [], fire_for: fire, 40: fire},
            "no ora_containers.prom",
        ),
    ]


CASES = {
    "EdgeErrorRate": edge_error_rate,
    "EdgeResponseTime": edge_response_time,
    "LogGrowth": log_growth,
    "TargetDown": target_down,
    "DiskFull": disk_full,
    "CertificateExpiry": certificate_expiry,
    "BackupTooOld": backup_too_old,
    "RestartLoop": restart_loop,
    "QueueDepth": queue_depth,
    "DeadLetters": dead_letters,
    "ContainerMemory": container_memory,
    "JobFailureRate": job_failure_rate,
    "SchedulerStale": scheduler_stale,
    "ContainerMetricsStale": container_metrics_stale,
}

SEVERITY_FREE = ("alertname", "severity")


def promtool_file(alert: str, severity: str, cases: list[Case], rules_file: str) -> dict:
    """The promtool test document: one test per case, each check on the ALERTS series
    (firing only), so that annotations, checked by the chain test, do not need spelling out."""
    tests = []
    for case in cases:
        checks = []
        for minute, alerts in sorted(case.expect.items()):
            samples = []
            for labels in alerts:
                every = {"alertname": alert, "alertstate": "firing", **labels, "severity": severity}
                selector = ",".join(f'{k}="{v}"' for k, v in sorted(every.items()))
                samples.append({"labels": f"ALERTS{{{selector}}}", "value": 1})
            checks.append(
                {
                    "expr": f'ALERTS{{alertname="{alert}",alertstate="firing"}}',
                    "eval_time": f"{minute}m",
                    "exp_samples": samples,
                }
            )
        tests.append(
            {
                "name": f"{alert}: {case.title}",
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                "promql_expr_test": checks,
            }
        )
    return {"rule_files": [rules_file], "evaluation_interval": "1m", "tests": tests}
