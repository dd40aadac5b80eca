"""ora-container-metrics (infra/hosttools/container_metrics.py): engine data -> exposition text,
the atomic write, and the text as promtool and a real node-exporter textfile collector read it."""

from __future__ import annotations

import os
import subprocess
import urllib.request

import pytest

from infra.hosttools import container_metrics as metrics
from tests.monitoring.chain import wait_http
from tests.ports import allocate

STARTED = "2026-11-29T06:12:01.123456789Z"


def inspect(name="ora-dev-redis", restarts=2, memory=256 * 2**20, nano_cpus=0, **state):
    return {
        "Name": f"/{name}",
        "RestartCount": restarts,
        "Config": {"Labels": {"org.ora.stack": "dev", "org.ora.service": "redis"}},
        "State": {"Running": True, "Restarting": False, "StartedAt": STARTED, **state},
        "HostConfig": {"Memory": memory, "MemorySwap": memory, "NanoCpus": nano_cpus},
    }


def stats_v2(usage=100 * 2**20, inactive=20 * 2**20, cpu_ns=12_500_000_000):
    """The shape of GET /containers/ID/stats?stream=0&one-shot=1 on cgroup v2."""
    return {
        "memory_stats": {"usage": usage, "stats": {"inactive_file": inactive, "anon": 1}},
        "cpu_stats": {"cpu_usage": {"total_usage": cpu_ns}},
    }


def test_from_engine_takes_restart_count_working_set_limit_and_cpu():
    found = metrics.from_engine(inspect(nano_cpus=500_000_000), stats_v2())
    assert found == metrics.Container(
        name="ora-dev-redis",
        service="redis",
        restarts=2,
        started=metrics.instant(STARTED),
        memory_bytes=80 * 2**20,
        memory_limit=256 * 2**20,
        cpu_seconds=12.5,
        cpu_limit=0.5,
    )
    assert found.started == pytest.approx(1795932721.123457)


def test_working_set_on_cgroup_v1_less_total_inactive_file():
    memory = {"usage": 1000, "stats": {"total_inactive_file": 300}}
    assert metrics.working_set(memory) == 700


def test_a_restarting_container_has_its_restarts_but_no_usage():
    found = metrics.from_engine(
        inspect(restarts=4, Running=True, Restarting=True, StartedAt="0001-01-01T00:00:00Z"),
        None,
    )
    assert (found.restarts, found.memory_bytes, found.cpu_seconds, found.started) == (
        4,
        None,
        None,
        None,
    )


def test_render_base():
    text = metrics.render([metrics.from_engine(inspect(), stats_v2())])
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    labels = '{name="ora-dev-redis",service="redis"}'
    assert samples == [
        f"ora_container_restarts_total{labels} 2",
        f"ora_container_start_time_seconds{labels} 1795932721.12346",
        f"ora_container_memory_working_set_bytes{labels} 83886080",
        f"ora_container_memory_limit_bytes{labels} 268435456",
        f"ora_container_cpu_usage_seconds_total{labels} 12.5",
    ]
    assert text.count("# TYPE ") == len(metrics.METRICS)


def test_render_leaves_out_a_limit_that_is_not_set():
    text = metrics.render([metrics.from_engine(inspect(memory=0), stats_v2())])
    assert "ora_container_memory_limit_bytes{" not in text
    assert "ora_container_cpu_limit_cores{" not in text


def test_render_escapes_label_values():
    odd = metrics.Container('a"b\\c', "x\ny", 0, None, None, 0, None, 0)
    assert 'name="a\\"b\\\\c",service="x\\ny"' in metrics.render([odd])


def test_write_atomically_replaces_the_file_world_readable_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "textfile" / metrics.FILE_NAME
    metrics.write_atomically(target.parent, metrics.FILE_NAME, "old 1\n")
    metrics.write_atomically(target.parent, metrics.FILE_NAME, "new 2\n")
    assert target.read_text() == "new 2\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert os.listdir(target.parent) == [metrics.FILE_NAME]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    metrics.write_atomically(tmp_path, metrics.FILE_NAME, "old 1\n")

    def refuse(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(metrics.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        metrics.write_atomically(tmp_path, metrics.FILE_NAME, "new 2\n")
    assert (tmp_path / metrics.FILE_NAME).read_text() == "old 1\n"
    assert os.listdir(tmp_path) == [metrics.FILE_NAME]


def test_an_unreachable_engine_keeps_the_last_file(tmp_path, capsys):
    metrics.write_atomically(tmp_path, metrics.FILE_NAME, "old 1\n")
    assert metrics.once(tmp_path, str(tmp_path / "no-such.sock")) == 1
    assert (tmp_path / metrics.FILE_NAME).read_text() == "old 1\n"
    assert "ora-container-metrics:" in capsys.readouterr().err


def test_a_negative_interval_is_refused_with_the_fix(capsys):
    with pytest.raises(SystemExit):
        metrics.main(["--every", "-1"])
    assert "--every = -1.0" in capsys.readouterr().err


def _sample_text() -> str:
    return metrics.render(
        [
            metrics.from_engine(inspect(), stats_v2()),
            metrics.from_engine(inspect("ora-dev-worker", 0, nano_cpus=10**9), stats_v2()),
        ]
    )


def test_promtool_accepts_the_text():
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=_sample_text(), capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_node_exporter_textfile_collector_serves_every_series(tmp_path):
    directory = tmp_path / "textfile"
    metrics.write_atomically(directory, metrics.FILE_NAME, _sample_text())
    url = f"http://127.0.0.1:{allocate()}"
    log = tmp_path / "node-exporter.log"
    with log.open("w") as out:
        exporter = subprocess.Popen(
            [
                "prometheus-node-exporter",
                "--collector.disable-defaults",
                "--collector.textfile",
                f"--collector.textfile.directory={directory}",
                f"--web.listen-address={url.removeprefix('http://')}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"{url}/metrics", exporter, log)
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:  # noqa: S310
            served = answer.read().decode()
    finally:
        exporter.terminate()
        exporter.wait(10)
    assert "node_textfile_scrape_error 0" in served
    expected, scraped = _samples(_sample_text()), _samples(served)
    for series, value in expected.items():
        assert scraped.get(series) == pytest.approx(value), f"node-exporter serves {series}?"


def _samples(text: str) -> dict[str, float]:
    rows = (line.rsplit(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    return {series: float(value) for series, value in rows}
