"""Background job handlers, run by `python -m ora.worker`."""

from __future__ import annotations

import asyncio
import logging
import math
import smtplib
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage

from redis.asyncio import Redis

from ora.cache import GENERATION_KEY
from ora.documents import DocumentStore
from ora.logs import log
from ora.queue import JobQueue
from ora.settings import Settings

logger = logging.getLogger("ora.jobs")
LOOP_HEALTH_SNAPSHOT = "ora:stats:loop_health:last"
REEMBED_LOCK = "ora:lock:reembed"
# Release the lock only if it is still ours (it may have expired and been taken since).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"


class ReembedRunning(RuntimeError):
    """Another worker holds the reembed lock; the job is retried later."""


@dataclass
class JobContext:
    settings: Settings
    redis: Redis
    queue: JobQueue
    store: DocumentStore


Handler = Callable[[dict, JobContext], Awaitable[object]]


async def reembed(payload: dict, ctx: JobContext) -> dict:
    """One at a time across workers: a lock with a TTL of the job's lease."""
    token = uuid.uuid4().hex
    lease = max(1, math.ceil(ctx.settings.job_visibility_timeout))
    if not await ctx.redis.set(REEMBED_LOCK, token, nx=True, ex=lease):
        raise ReembedRunning("another reembed is running")
    try:
        count = await ctx.store.reembed()
    finally:
        await ctx.redis.eval(_RELEASE, 1, REEMBED_LOCK, token)
    await ctx.redis.incr(GENERATION_KEY)  # cached results hold the old vectors' scores
    return {"reembedded": count, "embedder": ctx.store.embedder.name}


async def loop_health(payload: dict, ctx: JobContext) -> dict:
    """Failure rate of jobs since the previous report, alerting above ALERT_THRESHOLD %."""
    failures, runs = await ctx.queue.counters()
    total_failures, total_runs = sum(failures.values()), sum(runs.values())
    previous = await ctx.redis.hgetall(LOOP_HEALTH_SNAPSHOT)
    window_runs = total_runs - int(previous.get(b"runs", 0))
    window_failures = total_failures - int(previous.get(b"failures", 0))
    await ctx.redis.hset(
        LOOP_HEALTH_SNAPSHOT, mapping={"runs": total_runs, "failures": total_failures}
    )
    failure_pct = round(100.0 * window_failures / window_runs, 1) if window_runs > 0 else 0.0
    report = {
        "window_runs": window_runs,
        "window_failures": window_failures,
        "failure_pct": failure_pct,
        "threshold_pct": ctx.settings.alert_threshold,
        "alert": window_runs > 0 and failure_pct >= ctx.settings.alert_threshold,
        "queues": await ctx.queue.depths(),
        "at": time.time(),
    }
    if report["alert"]:
        log(logger, logging.WARNING, "job failure rate above threshold", **report)
        if ctx.settings.smtp_host and ctx.settings.alert_email_to:
            await asyncio.to_thread(send_alert_email, ctx.settings, report)
    return report


def open_smtp(host: str, port: int, implicit_tls: bool, context: ssl.SSLContext) -> smtplib.SMTP:
    """Implicit TLS, or STARTTLS except on port 25 (relay to relay), verified by `context`."""
    if implicit_tls:
        return smtplib.SMTP_SSL(host, port, timeout=10, context=context)
    smtp = smtplib.SMTP(host, port, timeout=10)
    if port != 25:
        try:
            smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
    return smtp


def send_alert_email(settings: Settings, report: dict) -> None:
    message = EmailMessage()
    message["Subject"] = f"[ora] job failure rate {report['failure_pct']}%"
    message["From"] = settings.smtp_user or f"ora@{settings.smtp_host}"
    message["To"] = settings.alert_email_to
    message.set_content("\n".join(f"{k}: {v}" for k, v in report.items()))
    # The system's trust store, host name checked: a relay with a bad certificate is refused.
    context = ssl.create_default_context()
    port = settings.smtp_port
    with open_smtp(settings.smtp_host, port, port == 465, context) as smtp:
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)


async def fail(payload: dict, ctx: JobContext) -> None:
    """Diagnostic: always raises, to exercise retries, dead-lettering and alerting."""
    raise RuntimeError(payload.get("message", "diagnostic failure"))


async def sleep(payload: dict, ctx: JobContext) -> dict:
    """Diagnostic: holds the worker for `seconds` (visibility-timeout drills)."""
    seconds = min(float(payload.get("seconds", 1)), 3600.0)
    await asyncio.sleep(seconds)
    return {"slept": seconds}


HANDLERS: dict[str, Handler] = {
    "reembed": reembed,
    "loop_health": loop_health,
    "fail": fail,
    "sleep": sleep,
}
