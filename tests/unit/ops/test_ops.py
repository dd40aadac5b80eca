"""infra/ops/commands.py: the operator commands' builders and parsers, without I/O."""

import datetime as dt

import pytest

from infra.config import offline
from infra.ops import commands as ops

NOW = dt.datetime(2026, 11, 29, 12, 0, 0, tzinfo=dt.UTC)


def inspected(**state) -> dict:
    return {
        "Name": "/ora-dev-redis",
        "Config": {"Image": "redis:7.4", "Labels": {"org.ora.service": "redis"}},
        "RestartCount": 2,
        "State": {
            "Status": "running",
            "Running": True,
            "StartedAt": "2026-11-29T10:30:00.123456789Z",
            "Health": {"Status": "healthy"},
            **state,
        },
    }


@pytest.mark.parametrize(
    ("stack", "env", "hosts"),
    [
        ("dev", {}, "local://"),
        ("prod", {"DOCKER_HOST": "ssh://deploy@ora-prod-1.example.net"}, None),
    ],
)
def test_a_remote_stack_is_reached_over_ssh(stack, env, hosts):
    cfg = offline(stack)
    assert ops.docker_env(cfg) == env
    if hosts:
        assert ops.testinfra_host(cfg) == hosts
    else:
        assert ops.testinfra_host(cfg).startswith("ssh://deploy@ora-prod-1.example.net:")


@pytest.mark.parametrize(
    ("service", "filters"),
    [
        (None, ["label=org.ora.stack=dev"]),
        ("app", ["label=org.ora.stack=dev", "label=org.ora.service=app"]),
    ],
)
def test_containers_are_found_by_label(service, filters):
    command = ops.list_containers("dev", service)
    assert [command[i + 1] for i, a in enumerate(command) if a == "--filter"] == filters


@pytest.mark.parametrize(
    ("since", "tail", "expected"),
    [
        (None, None, ["docker", "logs", "--timestamps", "c"]),
        ("10m", None, ["docker", "logs", "--timestamps", "--since", "10m", "c"]),
        (None, "5", ["docker", "logs", "--timestamps", "--tail", "5", "c"]),
    ],
)
def test_logs_command(since, tail, expected):
    assert ops.logs("c", since, tail) == expected


def test_status_of_a_running_container():
    status = ops.service_status(inspected(), NOW)
    assert status == ops.ServiceStatus(
        "ora-dev-redis", "redis", "running", "healthy", "redis:7.4", "1h29m", 2
    )


def test_status_of_a_stopped_container_without_healthcheck():
    state = {"Status": "exited", "Running": False, "Health": {}}
    status = ops.service_status(inspected(**state), NOW)
    assert (status.state, status.health, status.uptime) == ("exited", "none", "-")


def test_status_table_has_one_row_per_container():
    text = ops.status_table([ops.service_status(inspected(), NOW)] * 2)
    assert text.splitlines()[0].split() == [
        "SERVICE", "CONTAINER", "STATE", "HEALTH", "UPTIME", "RESTARTS", "IMAGE"
    ]  # fmt: skip
    assert len(text.splitlines()) == 3


def test_logs_merge_in_time_order_across_containers():
    merged = ops.merge_logs(
        {
            "a": "2026-11-29T10:00:01.5Z one\n2026-11-29T10:00:03Z three",
            "b": "2026-11-29T10:00:02.000000001Z two\ncontinued",
        }
    )
    assert [line.split("  ")[-1] for line in merged] == ["one", "two", "continued", "three"]
    assert [line.split("  ")[0] for line in merged] == ["a", "b", "b", "a"]


def test_service_logs_come_from_every_task_with_the_same_options():
    assert ops.service_logs("ora-swarm-app", "1h", "50") == [
        "docker", "service", "logs", "--timestamps", "--no-task-ids",
        "--since", "1h", "--tail", "50", "ora-swarm-app",
    ]  # fmt: skip
    assert ops.list_services("swarm", "app")[-4:] == [
        "--filter", "label=org.ora.stack=swarm", "--filter", "label=org.ora.service=app"
    ]  # fmt: skip


# What `docker service logs --timestamps --no-task-ids` prints: docker/cli's logWriter puts
# the task ("service.slot@node", padded) and "    |" between the time and the line.
SERVICE_LOGS = """\
2026-11-29T10:00:03Z ora-swarm-app.2@worker-1     | three | with a bar
2026-11-29T10:00:01.5Z ora-swarm-app.1@manager    | one
2026-11-29T10:00:04Z ora-swarm-app.1@manager    | \nerror from daemon in stream: node w2 is down"""


def test_service_logs_split_per_task_then_merge_with_the_other_services():
    tasks = ops.split_service_logs("ora-swarm-app", SERVICE_LOGS)
    assert tasks == {
        "ora-swarm-app.2@worker-1": "2026-11-29T10:00:03Z three | with a bar",
        "ora-swarm-app.1@manager": "2026-11-29T10:00:01.5Z one\n2026-11-29T10:00:04Z ",
        "ora-swarm-app": "error from daemon in stream: node w2 is down",
    }
    edge = {"ora-swarm-nginx.1@manager": "2026-11-29T10:00:02Z two"}
    merged = ops.merge_logs(tasks | edge)
    assert [line.split("  ", 1)[0] for line in merged] == [
        "ora-swarm-app", "ora-swarm-app.1@manager", "ora-swarm-nginx.1@manager",
        "ora-swarm-app.2@worker-1", "ora-swarm-app.1@manager",
    ]  # fmt: skip
    assert merged[3].endswith("  three | with a bar")


@pytest.mark.parametrize("mode", ["", "yes", "ON"])
def test_maintenance_refuses_a_mode_other_than_on_or_off(mode):
    with pytest.raises(ValueError, match="is not on or off"):
        ops.maintenance_commands("dev", mode)


@pytest.mark.parametrize(("mode", "value"), [("on", "true"), ("off", "false")])
def test_maintenance_sets_the_config_key_then_applies(mode, value):
    config_set, up = ops.maintenance_commands("prod", mode)
    assert config_set == ["pulumi", "config", "set", "ora:maintenance", value, "--stack", "prod"]
    assert up[:4] == ["pulumi", "up", "--stack", "prod"]


LISTING = """\
NAME              TIME (UTC)           SIZE     SNAPSHOT
20261127T020000Z  2026-11-27 02:00:03  1.2 MiB  0a1b2c3d
20261128T020000Z  2026-11-28 02:00:04  1.3 MiB  4e5f6a7b
"""


def test_backup_list_is_parsed_oldest_first():
    backups = ops.parse_backup_list(LISTING)
    assert [(b.name, b.size) for b in backups] == [
        ("20261127T020000Z", "1.2 MiB"),
        ("20261128T020000Z", "1.3 MiB"),
    ]


@pytest.mark.parametrize(
    ("hours", "fresh", "words"),
    [(48, True, "(ok), 1.3 MiB; 2 backups kept"), (26, False, "(OLDER than 26h)")],
)
def test_backup_summary_says_age_size_and_verdict(hours, fresh, words):
    backups = ops.parse_backup_list(LISTING)
    assert ops.backup_is_fresh(backups, NOW, hours) is fresh
    summary = ops.backup_summary(backups, NOW, hours)
    assert summary.startswith("newest backup: 20261128T020000Z, 1d9h old") and words in summary


def test_no_backup_is_not_fresh():
    assert not ops.backup_is_fresh([], NOW, 26)
    assert "NONE" in ops.backup_summary([], NOW, 26)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_backup_check_runs_where_the_backups_are(stack):
    listing, check = ops.backup_commands(offline(stack), "scripts/backup.sh")
    if stack == "dev":
        assert (listing, check) == (["scripts/backup.sh", "list"], ["restic", "check", "--no-lock"])
    else:
        assert listing[0] == "ssh" and listing[-2:] == [ops.BACKUP_COMMAND, "list"]
        assert check[-3:] == ["restic", "check", "--no-lock"]


def test_backup_env_keeps_the_operators_repository():
    env = ops.backup_env("dev", {"RESTIC_REPOSITORY": "/srv/r"})
    assert env["RESTIC_REPOSITORY"] == "/srv/r" and env["ORA_STACK"] == "dev"
    assert env["RESTIC_PASSWORD_FILE"] == "/opt/ora/.restic-password"


@pytest.mark.parametrize(("stack", "markers"), [("dev", "not destructive and not prod")])
def test_health_is_the_read_only_subset(stack, markers):
    assert ops.health_markers(offline(stack)) == markers


def test_status_and_logs_leave_out_the_one_shot_installers():
    def container(service, role=None):
        labels = {"org.ora.service": service, **({"org.ora.role": role} if role else {})}
        return {"Config": {"Labels": labels}}

    inspected = [container("app"), container("nginx-config", "oneshot"), container("redis")]
    kept = [c["Config"]["Labels"]["org.ora.service"] for c in ops.services_only(inspected)]
    assert kept == ["app", "redis"]
