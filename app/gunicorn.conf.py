"""Gunicorn configuration for the Ora web service (Uvicorn workers).

Settings are validated here, in the master, so a bad environment stops startup with one
clear line before any worker forks.
"""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ora.logs import create_files, logging_config
from ora.settings import load_settings_or_exit

_settings = load_settings_or_exit(os.environ)

# prometheus_client multiprocess mode: each worker writes its samples under this directory
# (under /tmp, the only writable path besides volumes); it must exist before workers import
# prometheus_client, and it is emptied at startup so counters never mix across restarts.
_metrics_dir = tempfile.mkdtemp(prefix="ora-prometheus-", dir="/tmp")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

wsgi_app = "ora.main:app"
bind = [f"0.0.0.0:{_settings.port}"]
worker_class = "uvicorn_worker.UvicornWorker"
workers = _settings.web_concurrency or max(2, os.cpu_count() or 1)
timeout = 30
graceful_timeout = 25  # under Docker's default 30 s stop timeout
keepalive = 75  # longer than nginx's upstream keepalive_timeout (60 s)
# No worker recycling. A worker that reaches max_requests closes the connections it has
# accepted but not yet read, and nginx sees a reset (benoitc/gunicorn#2567, #3038). nginx
# resends such a GET to another replica but never a POST whose request went out, and
# bench/recycle_bench.py measured 502s with recycling and none without. Memory is bounded
# instead by the container's limit (ora:appMemory: the kernel ends the largest worker,
# the master forks a new one) and watched by the ContainerMemory alert.
max_requests = 0
# The heartbeat file belongs on tmpfs: os.fchmod on a disk file can block a worker.
_SHM = "/dev/shm"  # noqa: S108
worker_tmp_dir = _SHM if os.access(_SHM, os.W_OK) else tempfile.gettempdir()
control_socket_disable = True  # it would be created under $HOME, read-only in the image
forwarded_allow_ips = "*"  # only nginx reaches the app, on the edge network
proxy_allow_ips = "*"

accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level.lower()
logconfig_dict = logging_config(_settings.log_level, _settings.log_dir, "app")


def on_starting(server):
    create_files(_settings.log_dir, ("app",))
    if _settings.static_export_dir:
        from ora.static_export import export_static

        copied = export_static(_settings.static_export_dir)
        server.log.info("exported %d static assets to %s", len(copied), _settings.static_export_dir)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)
