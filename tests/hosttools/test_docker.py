"""docker's command lines: containers found by their labels, never by name; redis-cli only
with the password from the secret file; helpers without network, logs or privileges."""

from __future__ import annotations

from infra.hosttools.backup.docker import REDIS_CLI
from infra.hosttools.backup.runner import Result
from tests.hosttools.fakes import FakeRunner, host, run_of


def test_containers_are_found_by_stack_and_service_label(tmp_path):
    runner = FakeRunner(lambda argv, options: Result(0, "b\na\n"))
    run, _ = run_of(host(tmp_path), runner)
    assert run.docker.containers("redis", everything=True) == ["a", "b"]
    assert runner.calls == [
        [
            "docker", "ps", "--all", "--filter", "label=org.ora.stack=dev",
            "--filter", "label=org.ora.service=redis", "--format", "{{.Names}}",
        ]
    ]  # fmt: skip


def test_redis_cli_reads_the_password_from_the_secret_file(tmp_path):
    runner = FakeRunner()
    run, _ = run_of(host(tmp_path), runner)
    run.docker.redis_cli("ora-dev-redis", "LASTSAVE")
    assert runner.calls == [
        ["docker", "exec", "ora-dev-redis", "sh", "-c", REDIS_CLI, "redis-cli", "LASTSAVE"]
    ]
    assert REDIS_CLI == (
        "[ -r /run/secrets/redis-password ] && "
        'REDISCLI_AUTH="$(cat /run/secrets/redis-password)" && export REDISCLI_AUTH; '
        'exec redis-cli "$@"'
    )


def test_helpers_are_labelled_and_confined(tmp_path):
    run, _ = run_of(host(tmp_path))
    assert run.docker.helper("-v", "x:/v:ro", "img") == [
        "docker", "run", "--rm", "-i", "--network", "none", "--user", "0:0",
        "--security-opt", "no-new-privileges", "--label", "org.ora.backup-helper=dev",
        "--log-driver", "none", "-v", "x:/v:ro", "img",
    ]  # fmt: skip


def test_the_manifest_records_the_images_of_the_stacks_services(tmp_path):
    def answer(argv, options):
        if argv[1] == "ps":
            return Result(0, "id1\nid2\nid3\n")
        return Result(
            0,
            "worker ora-dev-worker ora-app:1 sha256:b\n"
            "app ora-dev-app-0 ora-app:1 sha256:b\n"
            " sidecar x y z\n",
        )

    run, _ = run_of(host(tmp_path), FakeRunner(answer))
    assert run.docker.stack_images() == [
        ("app", "ora-dev-app-0", "ora-app:1", "sha256:b"),
        ("worker", "ora-dev-worker", "ora-app:1", "sha256:b"),
    ]
