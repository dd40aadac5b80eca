"""The edge's release mechanism on a real nginx: install, validate, reload in place.

infra/edge/release.py's installer and launcher run here exactly as they run in the
containers, with their paths pointed at a temporary tree and the host's nginx.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from infra.edge import release as edge_release
from tests.ports import allocate

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the installer chowns (CI is root)")
OWNER = "101:101"  # nginx's UID in the image
# The one-shot installer is root with CAP_CHOWN alone (infra/targets/host/oneshot.py):
# no DAC_OVERRIDE.
AS_INSTALLER = ["setpriv", "--bounding-set=-all,+chown"]


def site(tmp: Path, port: int, body: str, extra: str = "") -> str:
    return f"""pid {tmp}/nginx.pid;
error_log stderr;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        {extra}
        location / {{ return 200 "{body}\\n"; }}
    }}
}}
"""


def install(tmp: Path, text: str) -> subprocess.CompletedProcess:
    staging = tmp / "staging"
    staging.mkdir(exist_ok=True)
    (staging / "nginx.conf").write_text(text)
    (staging / "tls").mkdir(exist_ok=True)
    (staging / "tls" / "privkey.pem").write_text("not read by this site's config\n")
    script = edge_release.install_script(
        OWNER, root=str(tmp / "edge"), staging=str(staging), state=str(tmp / "state")
    )
    return subprocess.run([*AS_INSTALLER, "sh", "-c", script], capture_output=True, text=True)


def launch(tmp: Path) -> subprocess.Popen:
    script = edge_release.launch_script(
        root=str(tmp / "edge"), poll_seconds=0.2, state=str(tmp / "state"), drain_seconds=3
    )
    # As a container's PID 1 gets them: with default signal actions. A test run started
    # in the background of a shell without job control inherits SIGQUIT ignored, and a
    # non-interactive sh cannot trap a signal ignored on entry (the launcher's QUIT trap).
    command = ["env", "--default-signal=QUIT,INT,TERM", "sh", "-c", script]
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)


def stop_launcher(launcher: subprocess.Popen) -> str:
    """SIGQUIT, as `docker stop` of the edge would send it; its stderr. If it does not
    exit in 20 s, its process group (nginx too) is killed so no later test meets it."""
    launcher.send_signal(signal.SIGQUIT)
    try:
        return launcher.communicate(timeout=20)[1]
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)
        launcher.communicate()
        raise


def loaded(tmp: Path) -> str:
    return (tmp / "state" / "loaded").read_text().strip()


def live(tmp: Path) -> str:
    return os.readlink(tmp / "edge" / "live")


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
        return response.read().decode().strip()


def eventually(check, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = check()
            if result:
                return result
        except OSError:
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_installer_makes_a_valid_release_live(tmp_path):
    result = install(tmp_path, site(tmp_path, allocate(), "A"))
    assert result.returncode == 0, result.stderr
    release = live(tmp_path)
    assert release.startswith("releases/") and "is live" in result.stdout
    assert (tmp_path / "edge" / release / "nginx.conf").exists()
    key = (tmp_path / "edge" / release / edge_release.PRIVATE_KEY).stat()
    assert (oct(key.st_mode & 0o777), key.st_uid) == ("0o400", 101)
    assert not (tmp_path / "staging").exists()


def test_installer_refuses_a_config_nginx_rejects_and_keeps_the_live_one(tmp_path):
    assert install(tmp_path, site(tmp_path, allocate(), "A")).returncode == 0
    before = live(tmp_path)
    broken = site(tmp_path, allocate(), "B", extra="no_such_directive on;")
    result = install(tmp_path, broken)
    assert result.returncode == 1
    assert 'unknown directive "no_such_directive"' in result.stderr
    assert "the live configuration is unchanged" in result.stderr
    assert live(tmp_path) == before
    assert os.listdir(tmp_path / "edge" / "releases") == [before.split("/")[1]]


def test_installer_keeps_the_last_releases_only(tmp_path):
    port = allocate()
    for n in range(edge_release.KEEP_RELEASES + 2):
        assert install(tmp_path, site(tmp_path, port, f"R{n}")).returncode == 0
    releases = sorted(os.listdir(tmp_path / "edge" / "releases"))
    assert len(releases) == edge_release.KEEP_RELEASES
    assert live(tmp_path) == f"releases/{releases[-1]}"


def test_launcher_reloads_a_new_release_in_place_and_refuses_a_broken_one(tmp_path):
    port = allocate()
    assert install(tmp_path, site(tmp_path, port, "A")).returncode == 0
    launcher = launch(tmp_path)
    try:
        eventually(lambda: get(port) == "A")
        master = (tmp_path / "nginx.pid").read_text().strip()

        assert install(tmp_path, site(tmp_path, port, "B")).returncode == 0
        eventually(lambda: get(port) == "B")
        assert (tmp_path / "nginx.pid").read_text().strip() == master, "nginx was restarted"

        # A release that bypassed the installer's check is never loaded.
        releases = tmp_path / "edge" / "releases"
        (releases / "broken").mkdir()
        (releases / "broken" / "nginx.conf").write_text("this is not nginx syntax;")
        (tmp_path / "edge" / ".live.next").symlink_to("releases/broken")
        os.replace(tmp_path / "edge" / ".live.next", tmp_path / "edge" / "live")
        time.sleep(1.5)
        assert get(port) == "B"
        assert launcher.poll() is None
    finally:
        stderr = stop_launcher(launcher)
    assert launcher.returncode == 0, stderr
    assert "reloaded with releases/" in stderr
    assert "releases/broken not loaded; still serving" in stderr


def test_installer_returns_once_nginx_serves_the_new_release(tmp_path):
    # Pulumi removes the old replicas when the installer exits: nginx must be off them.
    port = allocate()
    first = install(tmp_path, site(tmp_path, port, "A"))
    assert "no nginx is running" in first.stdout
    launcher = launch(tmp_path)
    try:
        eventually(lambda: loaded(tmp_path) == live(tmp_path))
        for body in ("B", "C"):
            result = install(tmp_path, site(tmp_path, port, body))
            assert result.returncode == 0, result.stderr
            assert "nginx serves release" in result.stdout
            assert loaded(tmp_path) == live(tmp_path)
            assert get(port) == body  # no waiting here: the reload is done
    finally:
        stop_launcher(launcher)


def test_installer_fails_when_the_running_nginx_refuses_the_release(tmp_path):
    # Valid for `nginx -t`, refused by the running master: its port is taken.
    port, taken = allocate(), allocate()
    assert install(tmp_path, site(tmp_path, port, "A")).returncode == 0
    launcher = launch(tmp_path)
    blocker = subprocess.Popen(["python3", "-m", "http.server", "--bind", "127.0.0.1", str(taken)])
    try:
        eventually(lambda: loaded(tmp_path) == live(tmp_path))
        eventually(lambda: get(taken) is not None)
        result = install(tmp_path, site(tmp_path, taken, "B"))
        assert result.returncode == 1
        assert "nginx did not load release" in result.stderr
        assert loaded(tmp_path) == f"failed {live(tmp_path)}"
        assert get(port) == "A"
    finally:
        blocker.kill()
        blocker.wait()
        stop_launcher(launcher)
