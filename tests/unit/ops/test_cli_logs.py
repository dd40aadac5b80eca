"""make logs: on one host every container of the stack, on swarm every task of every
service wherever it runs; both merged in time order (the docker CLI faked)."""

from __future__ import annotations

import pytest

from infra.config import offline
from infra.ops import cli


def fake_docker(services: str, logs: dict[str, str], ran: list[list[str]]):
    """`docker service ls` prints `services`; `docker service logs NAME` prints logs[NAME]."""

    def run(command, cfg, check=True):
        ran.append(command)
        if command[:3] == ["docker", "service", "ls"]:
            return services
        if command[:3] == ["docker", "service", "logs"]:
            return logs[command[-1]]
        raise AssertionError(f"unexpected {command}")

    return run


def test_swarm_logs_are_every_services_tasks_merged(monkeypatch, capsys):
    ran: list[list[str]] = []
    logs = {
        "ora-swarm-app": "2026-12-07T10:00:03Z ora-swarm-app.2@w1    | GET /healthz\n",
        "ora-swarm-nginx": "2026-12-07T10:00:01Z ora-swarm-nginx.1@m1    | started\n",
    }
    monkeypatch.setattr(cli, "_run", fake_docker("ora-swarm-app\nora-swarm-nginx\n", logs, ran))
    cli.logs(offline("swarm"), None, "1h", None)
    lines = capsys.readouterr().out.splitlines()
    tasks = [line.split("  ")[0] for line in lines]
    assert tasks == ["ora-swarm-nginx.1@m1", "ora-swarm-app.2@w1"]
    assert lines[1].endswith("  GET /healthz")
    assert ran[1][:3] == ["docker", "service", "logs"] and "--since" in ran[1]
    assert not any(command[:2] == ["docker", "ps"] for command in ran)


def test_a_swarm_service_that_is_not_there_is_named(monkeypatch):
    monkeypatch.setattr(cli, "_run", fake_docker("", {}, []))
    with pytest.raises(SystemExit, match="no swarm service of service 'nosuch' of stack 'swarm'"):
        cli.logs(offline("swarm"), "nosuch", None, None)
