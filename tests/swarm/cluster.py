"""A real two-node Docker Swarm on this machine, created and removed by the test.

Node 1 is the host's dockerd (the manager). Node 2 is a second dockerd inside a network
namespace of its own, started with `nsenter --net=…` (`ip netns exec` remounts /sys and
dockerd then fails: "Devices cgroup isn't mounted"), joined over a veth pair whose two
ends carry the only addresses swarm traffic uses. Images cannot be pulled here: they
reach node 2 with `docker save | docker load`.

`Cluster.up()` and `Cluster.down()` leave the host as they found it: down() runs every
step even when one fails (the swarm left on both nodes, node 2's dockerd stopped, its
directories, the namespace and the veth removed) and reports what it could not undo.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker

NETNS = "ora-swarm-n2"
HOST_END, NODE_END = "ora-sw0", "ora-sw1"
HOST_ADDR, NODE_ADDR = "10.213.7.1", "10.213.7.2"
PREFIX = 24
API_VERSION = "1.41"  # Docker 20.10, Debian's docker.io
ADDRESS_POOL = "10.214.0.0/16"  # the overlays' subnets, clear of the host's networks


def run(*argv: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kwargs)


def in_netns(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return run("nsenter", f"--net=/var/run/netns/{NETNS}", *argv, **kwargs)


def log(message: str) -> None:
    print(f"[swarm] {message}", flush=True)


@dataclass
class Cluster:
    workdir: Path
    host: docker.DockerClient = field(default_factory=lambda: docker.from_env(timeout=300))
    node2: docker.DockerClient | None = None
    daemon: subprocess.Popen | None = None
    ids: dict[str, str] = field(default_factory=dict)  # node name -> swarm node ID

    @property
    def root(self) -> Path:
        return self.workdir / "node2"

    @property
    def socket(self) -> str:
        return f"unix://{self.root}/docker.sock"

    def up(self) -> float:
        started = time.monotonic()
        if self.host.info()["Swarm"]["LocalNodeState"] != "inactive":
            raise RuntimeError("the host engine is already in a swarm; not touching it")
        self._network()
        self._dockerd()
        self.host.swarm.init(
            advertise_addr=HOST_ADDR,
            listen_addr=f"{HOST_ADDR}:2377",
            default_addr_pool=[ADDRESS_POOL],
            subnet_size=24,
        )
        token = self.host.swarm.attrs["JoinTokens"]["Worker"]
        # The token reaches node 2 through the API, never on a command line.
        self.node2.swarm.join(
            remote_addrs=[f"{HOST_ADDR}:2377"],
            join_token=token,
            advertise_addr=NODE_ADDR,
            listen_addr=f"{NODE_ADDR}:2377",
        )
        self.ids["node1"] = self.host.info()["Swarm"]["NodeID"]
        self.ids["node2"] = self.node2.info()["Swarm"]["NodeID"]
        self._wait_ready()
        log(f"two nodes ready in {time.monotonic() - started:.1f} s: {self.ids}")
        return time.monotonic() - started

    def label(self, node: str, labels: dict[str, str]) -> None:
        found = self.host.nodes.get(self.ids[node])
        spec = found.attrs["Spec"]
        spec["Labels"] = {**spec.get("Labels", {}), **labels}
        found.update(spec)

    def load(self, tags: list[str]) -> float:
        """`docker save` on node 1 piped into `docker load` on node 2."""
        started = time.monotonic()
        save = subprocess.Popen(["docker", "save", *tags], stdout=subprocess.PIPE)
        loaded = subprocess.run(
            ["docker", "-H", self.socket, "load", "-q"],
            stdin=save.stdout,
            capture_output=True,
            text=True,
        )
        save.stdout.close()
        if save.wait() or loaded.returncode:
            raise RuntimeError(f"docker save | docker load failed: {loaded.stderr}")
        seconds = time.monotonic() - started
        log(f"loaded on node 2 in {seconds:.1f} s: {' '.join(tags)}")
        return seconds

    def client(self, node_id: str) -> docker.DockerClient:
        return self.host if node_id == self.ids["node1"] else self.node2

    # -- setup -------------------------------------------------------------------------
    def _network(self) -> None:
        run("ip", "netns", "add", NETNS)
        run("ip", "link", "add", HOST_END, "type", "veth", "peer", "name", NODE_END)
        run("ip", "link", "set", NODE_END, "netns", NETNS)
        run("ip", "addr", "add", f"{HOST_ADDR}/{PREFIX}", "dev", HOST_END)
        run("ip", "link", "set", HOST_END, "up")
        in_netns("ip", "addr", "add", f"{NODE_ADDR}/{PREFIX}", "dev", NODE_END)
        in_netns("ip", "link", "set", NODE_END, "up")
        in_netns("ip", "link", "set", "lo", "up")

    def _dockerd(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.workdir / "node2-dockerd.log").open("ab") as log_file:
            self.daemon = self._popen(log_file)
        # A fixed API version: the client asks the engine nothing until the ping.
        self.node2 = docker.DockerClient(base_url=self.socket, version=API_VERSION, timeout=300)
        deadline = time.monotonic() + 60
        while True:
            # Connecting before the socket exists would leak a socket (docker's unixconn).
            if Path(self.socket.removeprefix("unix://")).exists():
                try:
                    self.node2.ping()
                    return
                except Exception:  # noqa: S110 - not answering yet
                    pass
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"node 2's dockerd did not start; see {self.workdir}/node2-dockerd.log"
                )
            time.sleep(0.5)

    def _popen(self, log_file) -> subprocess.Popen:
        return subprocess.Popen(
            [
                "nsenter",
                f"--net=/var/run/netns/{NETNS}",
                "dockerd",
                "--iptables=false",
                "--ip-masq=false",
                "--bridge=none",
                "--storage-driver=overlay2",
                "--data-root",
                str(self.root / "data"),
                "--exec-root",
                str(self.root / "exec"),
                "--pidfile",
                str(self.root / "dockerd.pid"),
                "-H",
                self.socket,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [n.attrs["Status"]["State"] for n in self.host.nodes.list()]
            if states.count("ready") == 2:
                return
            time.sleep(0.5)
        raise RuntimeError(f"nodes not ready after {timeout} s: {states}")

    # -- teardown ----------------------------------------------------------------------
    def down(self) -> list[str]:
        """Every step runs; returns what failed (empty: the host is as it was)."""
        failed = []
        steps = [
            ("node 2 leaves the swarm", lambda: self.node2 and self.node2.swarm.leave(force=True)),
            ("node 1 leaves the swarm", lambda: self.host.swarm.leave(force=True)),
            ("node 2's dockerd stops", self._stop_dockerd),
            ("node 2's directories go", lambda: self._remove_root()),
            ("the veth goes", lambda: run("ip", "link", "del", HOST_END, check=False)),
            ("the namespace goes", lambda: run("ip", "netns", "del", NETNS, check=False)),
        ]
        for what, step in steps:
            try:
                step()
            except docker.errors.APIError as error:
                if "not part of a swarm" not in str(error):
                    failed.append(f"{what}: {error}")
            except Exception as error:
                failed.append(f"{what}: {error}")
        if Path(f"/var/run/netns/{NETNS}").exists():
            failed.append(f"namespace {NETNS} still exists")
        if run("ip", "link", "show", HOST_END, check=False).returncode == 0:
            failed.append(f"link {HOST_END} still exists")
        if self.host.info()["Swarm"]["LocalNodeState"] != "inactive":
            failed.append("the host engine is still in a swarm")
        log("torn down" if not failed else f"teardown left: {failed}")
        return failed

    def _stop_dockerd(self) -> None:
        if self.node2 is not None:
            self.node2.close()
        if self.daemon is None:
            return
        self.daemon.terminate()
        try:
            self.daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait()

    def _remove_root(self) -> None:
        # Mounts a killed dockerd may leave (overlay layers, netns files of containers).
        mounts = Path("/proc/mounts").read_text().splitlines()
        for line in reversed(mounts):
            point = line.split()[1]
            if point.startswith(str(self.root)):
                run("umount", "-l", point, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
