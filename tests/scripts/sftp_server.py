"""A real SFTP server for backup tests: Debian's sshd on a loopback port with throwaway
keys (host_key, client_key), and the known_hosts line that pins its host key."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.ports import allocate
from tests.scripts.listening import wait_listening

SSHD_CONFIG = """ListenAddress 127.0.0.1
Port {port}
HostKey {base}/host_key
AuthorizedKeysFile {base}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile {base}/sshd.pid
Subsystem sftp internal-sftp
"""


@dataclass(frozen=True)
class Server:
    base: Path
    port: int

    def url(self, path: str) -> str:
        """restic's URL of a repository at `path` (absolute) on this server, as root."""
        return f"sftp://root@127.0.0.1:{self.port}/{path}"

    @property
    def client_key(self) -> Path:
        return self.base / "client_key"

    @property
    def known_hosts(self) -> str:
        host_key = (self.base / "host_key.pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {' '.join(host_key)}\n"


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@contextmanager
def running(base: Path) -> Iterator[Server]:
    port = allocate()
    for key in ("host_key", "client_key"):
        keygen(base / key)
    shutil.copy(base / "client_key.pub", base / "authorized_keys")
    (base / "sshd_config").write_text(SSHD_CONFIG.format(port=port, base=base))
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    with (base / "sshd.log").open("w") as log:
        server = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(base / "sshd_config")], stderr=log
        )
    try:
        wait_listening(
            port,
            server,
            10,
            lambda: f"sshd did not listen on 127.0.0.1:{port}: {(base / 'sshd.log').read_text()}",
        )
        yield Server(base, port)
    finally:
        server.terminate()
        server.wait(timeout=10)
