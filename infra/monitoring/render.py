"""Pure builders: StackConfig -> the monitoring files (Prometheus, its rules, Alertmanager,
the email template and the mtail programs), as text keyed by file name.

Like infra/edge/render.py: no Pulumi import, templates in monitoring_templates/ rendered with
`StrictUndefined`, and `TemplateVars` is the one contract with them. The templates use
`[[ ]]` and `[% %]` so that Prometheus' and Alertmanager's own `{{ }}` pass through.

`MonitoringRuntime` (infra/monitoring/runtime.py) holds the container topology (addresses,
file paths) and the `Timing`; tests override it and render through the same functions.
CLI: `python -m infra.ops.render prometheus|rules|alertmanager|mtail|blackbox STACK`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from infra import topology
from infra.config import StackConfig
from infra.monitoring import rules as monitoring_rules
from infra.monitoring.runtime import (
    DEFAULT_RUNTIME,
    QDRANT_KEY_FILE,
    SMTP_CA_FILE,
    SMTP_PASSWORD_FILE,
    MonitoringRuntime,
    Timing,
)

TEMPLATES_DIR = topology.REPO_ROOT / "monitoring_templates"
# Buckets of the edge's request-time histogram; the response-time threshold is added.
REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RUNBOOK_PATH = "docs/runbook.md"  # in this repository; one section per alert
# Grafana is reached over `make tunnel`, which forwards this local port.
GRAFANA_TUNNEL_PORT = 3000
DASHBOARD_URL = f"http://localhost:{GRAFANA_TUNNEL_PORT}/d/ora/ora"


@dataclass(frozen=True)
class Job:
    name: str
    target: str  # host:port
    metrics_path: str = "/metrics"
    credentials_file: str = ""  # Bearer token read from this file by Prometheus
    discovered: bool = False  # every address the target's name resolves to, by DNS

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.target.rpartition(":")
        return host, int(port)


@dataclass(frozen=True)
class TemplateVars:
    """Every variable the monitoring templates receive."""

    stack: str
    timing: Timing
    rules_file: str  # path of the rendered rules, as Prometheus sees it
    targets: dict[str, str]  # job -> host:port (alertmanager and blackbox are used by name)
    static_jobs: tuple[Job, ...]  # scrape jobs with one fixed target
    app_dns: dict[str, Any] | None  # {name, port}: the app replicas by Docker DNS
    public_url: str  # the instance label of the probe (edge.url)
    probe_url: str  # what blackbox requests
    probe_host: str  # TLS server name and Host header of the probe ("" = from probe_url)
    alerts: tuple[monitoring_rules.Alert, ...]
    panels: dict[str, int]  # alert name -> dashboard panel id
    dashboard_url: str
    runbook_url: str  # ora:runbookUrl ("" = none: the emails name RUNBOOK_PATH)
    runbooks: dict[str, str]  # alert name -> its section's URL, or the file and the section
    smtp: dict[str, str]  # smarthost, sender, user, password_file, ca_file
    recipients: tuple[str, ...]
    email_template_file: str
    request_buckets: str  # mtail histogram buckets, comma-separated
    access_log_regex: str  # mtail: which file is nginx's access log
    blackbox_ca_file: str  # CA bundle the https_2xx probe trusts ("" = the system's)


def _jobs(runtime: MonitoringRuntime) -> tuple[Job, ...]:
    special = {
        "qdrant": {"credentials_file": f"{runtime.secrets_dir}/{QDRANT_KEY_FILE}"},
    }
    skip = {"alertmanager_api", "blackbox"}
    return tuple(
        Job(name, target, discovered=name in runtime.discovered, **special.get(name, {}))
        for name, target in runtime.targets.items()
        if name not in skip
    )


def runbook(alert_name: str, base_url: str) -> str:
    """Where an alert's runbook section is: its URL, or without ora:runbookUrl the file's
    path in this repository and the section's heading."""
    section = alert_name.lower()
    if base_url:
        return f"{base_url}#{section}"
    return f'{RUNBOOK_PATH}, section "{section}", in the repository this stack is deployed from'


def template_vars(config: StackConfig, runtime: MonitoringRuntime) -> TemplateVars:
    m, service, url = config.monitoring, config.service, config.edge.url
    buckets = sorted({*REQUEST_BUCKETS, m.response_time_seconds})
    writer = config.access.bootstrap and bool(config.backup_textfile_dir)
    alerts = monitoring_rules.alerts(
        m, runtime.timing, runtime.disk_mounts, container_writer=writer
    )
    sender = service.smtp_user if "@" in service.smtp_user else f"ora-alerts@{config.edge.domain}"
    return TemplateVars(
        stack=config.stack,
        timing=runtime.timing,
        rules_file=f"{runtime.config_dir}/rules.yml",
        targets=dict(runtime.targets),
        static_jobs=_jobs(runtime),
        probe_url=runtime.probe_url or url,
        probe_host=config.edge.domain if runtime.probe_url else "",
        app_dns={"name": runtime.app_dns[0], "port": runtime.app_dns[1]}
        if runtime.app_dns
        else None,
        public_url=url,
        alerts=tuple(alerts),
        panels=monitoring_rules.PANELS,
        dashboard_url=DASHBOARD_URL,
        runbook_url=m.runbook_url,
        runbooks={a.name: runbook(a.name, m.runbook_url) for a in alerts},
        smtp={
            "smarthost": f"{service.smtp_host or 'localhost'}:{service.smtp_port}",
            "sender": sender,
            "user": service.smtp_user,
            "password_file": f"{runtime.secrets_dir}/{SMTP_PASSWORD_FILE}",
            "ca_file": runtime.smtp_ca_file
            or (f"{runtime.alertmanager_dir}/{SMTP_CA_FILE}" if m.smtp_ca_certificate else ""),
        },
        recipients=m.emails or (f"root@{config.edge.domain}",),
        email_template_file=f"{runtime.alertmanager_dir}/email.tmpl",
        request_buckets=", ".join(f"{b:g}" for b in buckets),
        blackbox_ca_file=runtime.blackbox_ca_file,
        access_log_regex=Path(runtime.access_log).name.replace(".", "\\.") + "$",
    )


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - YAML and mtail, never HTML
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        comment_start_string="[#",
        comment_end_string="#]",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["q"] = json.dumps  # a double-quoted YAML scalar
    return env


def _render(name: str, config: StackConfig, runtime: MonitoringRuntime) -> str:
    context = {
        f.name: getattr(template_vars(config, runtime), f.name)
        for f in dataclasses.fields(TemplateVars)
    }
    return environment().get_template(name).render(context)


def render_prometheus(
    config: StackConfig, runtime: MonitoringRuntime = DEFAULT_RUNTIME
) -> dict[str, str]:
    return {
        "prometheus.yml": _render("prometheus.yml.j2", config, runtime),
        "rules.yml": _render("rules.yml.j2", config, runtime),
    }


def render_alertmanager(
    config: StackConfig, runtime: MonitoringRuntime = DEFAULT_RUNTIME
) -> dict[str, str]:
    return {
        "alertmanager.yml": _render("alertmanager.yml.j2", config, runtime),
        "email.tmpl": (TEMPLATES_DIR / "email.tmpl").read_text(),
    }


def render_blackbox(
    config: StackConfig, runtime: MonitoringRuntime = DEFAULT_RUNTIME
) -> dict[str, str]:
    return {"blackbox.yml": _render("blackbox.yml.j2", config, runtime)}


def render_mtail(
    config: StackConfig, runtime: MonitoringRuntime = DEFAULT_RUNTIME
) -> dict[str, str]:
    return {
        "edge.mtail": _render("edge.mtail.j2", config, runtime),
        "logs.mtail": _render("logs.mtail.j2", config, runtime),
    }


RENDERERS = {
    "prometheus": lambda c: {"prometheus.yml": render_prometheus(c)["prometheus.yml"]},
    "rules": lambda c: {"rules.yml": render_prometheus(c)["rules.yml"]},
    "alertmanager": render_alertmanager,
    "mtail": render_mtail,
    "blackbox": render_blackbox,
}
