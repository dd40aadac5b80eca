"""docker's command lines: the stack's containers, found by their labels (never by name),
the helper containers that copy volumes, and redis-cli inside the redis container."""

from __future__ import annotations

from .messages import CommandFailed, Die
from .names import HELPER_LABEL, IMAGED_SERVICES, REDIS_SECRET, SERVICE_LABEL, STACK_LABEL
from .runner import DEVNULL, PIPE, Result, Runner, Stream
from .settings import Settings

HEALTH = "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}"
# redis-cli with the password from the secret file (or, before secrets became files,
# REDISCLI_AUTH in the container's environment): never on a command line.
REDIS_CLI = (
    f'[ -r {REDIS_SECRET} ] && REDISCLI_AUTH="$(cat {REDIS_SECRET})" && export REDISCLI_AUTH;'
    ' exec redis-cli "$@"'
)
IMAGES = (
    f'{{{{index .Config.Labels "{SERVICE_LABEL}"}}}} {{{{slice .Name 1}}}}'
    " {{.Config.Image}} {{.Image}}"
)


class Docker:
    def __init__(self, settings: Settings, runner: Runner) -> None:
        self.settings = settings
        self.runner = runner
        self.stack = settings.stack

    def run(
        self, *args: str, stdin: Stream = None, stdout: Stream = PIPE, stderr: Stream = None
    ) -> Result:
        return self.runner.run(
            ["docker", *args], env=self.settings.env, stdin=stdin, stdout=stdout, stderr=stderr
        )

    def output(self, *args: str) -> str:
        """What `docker ARGS` printed; a failure stops the run."""
        done = self.run(*args)
        if not done.ok:
            raise CommandFailed(["docker", *args], done.returncode)
        return done.stdout

    def answers(self) -> bool:
        return self.run("info", stdout=DEVNULL, stderr=DEVNULL).ok

    def containers(self, service: str, everything: bool = False) -> list[str]:
        """Names of this stack's containers of one service (running ones, or all), sorted."""
        scope = ["--all"] if everything else []
        listed = self.output(
            "ps", *scope, "--filter", f"label={STACK_LABEL}={self.stack}",
            "--filter", f"label={SERVICE_LABEL}={service}", "--format", "{{.Names}}",
        )  # fmt: skip
        return sorted(listed.split())

    def stack_images(self) -> list[tuple[str, str, str, str]]:
        """(service, container, image reference, image id) of each running container of the
        stack whose image a manifest records, sorted."""
        ids = self.run("ps", "--quiet", "--filter", f"label={STACK_LABEL}={self.stack}")
        if not ids.ok or not ids.stdout.split():
            return []
        described = self.run("inspect", "--format", IMAGES, *ids.stdout.split())
        rows = []
        for line in sorted(described.stdout.splitlines()):
            fields = [*line.split(None, 3), "", "", ""][:4]
            if fields[0] in IMAGED_SERVICES:
                rows.append((fields[0], fields[1], fields[2], fields[3].strip()))
        return rows

    def store_container(self, service: str) -> str:
        """The one running container of a data store."""
        found = self.containers(service)
        if not found:
            raise Die(
                f"no running {service} container labelled {STACK_LABEL}={self.stack},"
                f" {SERVICE_LABEL}={service}"
            )
        if len(found) > 1:
            raise Die(
                f"more than one {service} container for stack {self.stack}: {' '.join(found)}"
            )
        return found[0]

    def helper_image(self) -> str:
        """The image of the helper containers: the redis image (it has sh, tar and find, and
        is on the host already). Works with the redis container stopped."""
        found = self.containers("redis", everything=True)
        if not found:
            raise Die(
                f"no redis container labelled {STACK_LABEL}={self.stack}: its image runs the"
                " volume copies"
            )
        return self.output("inspect", "--format", "{{.Image}}", found[0]).rstrip("\n")

    def helper(self, *args: str) -> list[str]:
        """A throwaway container without network, logs, or new privileges."""
        return [
            "docker", "run", "--rm", "-i", "--network", "none", "--user", "0:0",
            "--security-opt", "no-new-privileges", "--label", f"{HELPER_LABEL}={self.stack}",
            "--log-driver", "none", *args,
        ]  # fmt: skip

    def require_volume(self, volume: str) -> None:
        if not self.run("volume", "inspect", volume, stdout=DEVNULL, stderr=DEVNULL).ok:
            raise Die(f"the volume {volume} does not exist (is ORA_STACK={self.stack} right?)")

    def health(self, container: str) -> str:
        """healthy/unhealthy/starting, or the state of a container without a healthcheck."""
        return self.output("inspect", "--format", HEALTH, container).rstrip("\n")

    def has_healthcheck(self, container: str) -> bool:
        described = self.output("inspect", "--format", "{{if .State.Health}}x{{end}}", container)
        return bool(described.rstrip("\n"))

    def redis_cli(self, container: str, *args: str, stderr: Stream = None) -> Result:
        return self.run("exec", container, "sh", "-c", REDIS_CLI, "redis-cli", *args, stderr=stderr)
