"""Structured JSON logging with a request id and secret redaction."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# Values that must never reach a log line, whatever logged them.
_REDACTIONS = (
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)([^\n\"',}]+)"), r"\1[REDACTED]"),
    (
        re.compile(r"(?i)(api[-_]?key|password|secret)([\"']?\s*[:=]\s*[\"']?)([^\s\"',}]+)"),
        r"\1\2[REDACTED]",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [REDACTED]"),
    (re.compile(r"(rediss?://)[^@/\s]*@"), r"\1[REDACTED]@"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "[REDACTED]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _access_fields(record: logging.LogRecord) -> dict:
    """uvicorn.access records carry (client, method, path, http_version, status) as args."""
    args = record.args
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        client, method, path, http_version, status = args
        return {
            "event": "access",
            "client": client,
            "method": method,
            "path": str(path).split("?", 1)[0],
            "http_version": http_version,
            "status": status,
        }
    return {}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
        }
        access = _access_fields(record)
        if access:
            entry.update(access)
        else:
            entry["msg"] = redact(record.getMessage())
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update({k: redact(v) if isinstance(v, str) else v for k, v in extra.items()})
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


# ORA_LOG_DIR: each process also writes its lines to STREAM.log there. Many processes
# (gunicorn workers, replicas in other containers) share app.log, so the handler must take
# a lock around every write and rotation: the standard RotatingFileHandler would let two
# processes rotate the same file and lose lines. concurrent-log-handler locks a sidecar
# file (.__STREAM.lock, flock) and reopens a file another process has rotated.
LOG_FILE_MAX_BYTES = 1024 * 1024
LOG_FILE_BACKUPS = 3
SCHEDULER_LOGGER = "ora.scheduler"  # the worker's scheduler: its own stream, scheduler.log


def _file_handler(log_dir: str, stream: str) -> dict:
    return {
        "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
        "formatter": "json",
        "filename": f"{log_dir.rstrip('/')}/{stream}.log",
        "maxBytes": LOG_FILE_MAX_BYTES,
        "backupCount": LOG_FILE_BACKUPS,
        "encoding": "utf-8",
    }


def logging_config(level: str, log_dir: str | None = None, stream: str = "app") -> dict:
    """A dictConfig: every logger (ours, uvicorn's, gunicorn's) as JSON on stdout and,
    with `log_dir`, in `log_dir`/`stream`.log (the scheduler's in scheduler.log)."""
    handlers: dict[str, dict] = {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        }
    }
    out, scheduler = ["stdout"], ["stdout"]
    if log_dir:  # files are opened (and their lock files created) on the first line
        handlers["file"] = _file_handler(log_dir, stream)
        handlers["scheduler-file"] = _file_handler(log_dir, "scheduler")
        out.append("file")
        scheduler.append("scheduler-file")

    def logger(logger_level: str, names: list[str]) -> dict:
        return {"level": logger_level, "handlers": names, "propagate": False}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "ora.logs.JsonFormatter"}},
        "handlers": handlers,
        "root": {"level": level, "handlers": out},
        "loggers": {
            "gunicorn.error": logger(level, out),
            "gunicorn.access": logger("INFO", out),
            "uvicorn.error": logger(level, out),
            "uvicorn.access": logger("INFO", out),
            SCHEDULER_LOGGER: logger(level, scheduler),
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }


def create_files(log_dir: str | None, streams: tuple[str, ...]) -> None:
    """Create the stream files at startup, empty: mtail reads a file it finds later from
    its end, so the lines written before it looked would not count."""
    for stream in streams if log_dir else ():
        with open(f"{log_dir.rstrip('/')}/{stream}.log", "a", encoding="utf-8"):
            pass


def configure(level: str, log_dir: str | None = None, stream: str = "app") -> None:
    import logging.config

    create_files(log_dir, (stream, "scheduler") if stream == "worker" else (stream,))
    logging.config.dictConfig(logging_config(level, log_dir, stream))
    logging.captureWarnings(True)
    if sys.stdout is not None and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)


def log(logger: logging.Logger, level: int, msg: str, **fields: object) -> None:
    logger.log(level, msg, extra={"fields": fields})
