"""Settings: a bad environment stops startup with one line naming the variable."""

import subprocess
import sys

import pytest
from conftest import APP_DIR, SECRET_KEY, process_env
from ora.settings import SettingsError, load_settings

GOOD = {"REDIS_HOST": "redis", "SECRET_KEY": SECRET_KEY, "ALLOWED_HOSTS": "ora.example.com"}


@pytest.mark.parametrize(
    ("overrides", "variable", "shown"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY", "is not set"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS", "is not set"),
        ({"ALLOWED_HOSTS": "ora.example.com,bad host"}, "ALLOWED_HOSTS", "bad host"),
        ({"REDIS_HOST": ""}, "REDIS_URL", "REDIS_HOST"),
        ({"REDIS_PORT": "six"}, "REDIS_PORT", "'six'"),
        ({"QDRANT_URL": "qdrant:6333"}, "QDRANT_URL", "'qdrant:6333'"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "'LOUD'"),
        ({"ORA_LOG_DIR": "logs"}, "ORA_LOG_DIR", "'logs'"),
        ({"WORKER_METRICS_PORT": "0"}, "WORKER_METRICS_PORT", "'0'"),
        ({"WORKER_METRICS_PORT": "70000"}, "WORKER_METRICS_PORT", "'70000'"),
        ({"WORKER_METRICS_PORT": "91OO"}, "WORKER_METRICS_PORT", "'91OO'"),
        ({"WEB_CONCURRENCY": "many"}, "WEB_CONCURRENCY", "'many'"),
        ({"SEARCH_REQUIRES_KEY": "maybe"}, "SEARCH_REQUIRES_KEY", "'maybe'"),
        ({"DIAGNOSTIC_JOBS": "2"}, "DIAGNOSTIC_JOBS", "'2'"),
        ({"WRITE_RATE_PER_MINUTE": "0"}, "WRITE_RATE_PER_MINUTE", "'0'"),
        ({"MAX_DOCUMENT_BYTES": "-1"}, "MAX_DOCUMENT_BYTES", "'-1'"),
        ({"MAX_METADATA_BYTES": "8k"}, "MAX_METADATA_BYTES", "'8k'"),
        ({"MAX_JOB_PAYLOAD_BYTES": "0"}, "MAX_JOB_PAYLOAD_BYTES", "'0'"),
        ({"MAX_DOCUMENTS": "0"}, "MAX_DOCUMENTS", "'0'"),
        ({"MAX_DOCUMENTS_PER_KEY": "0"}, "MAX_DOCUMENTS_PER_KEY", "'0'"),
        ({"MAX_QUEUED_JOBS": "lots"}, "MAX_QUEUED_JOBS", "'lots'"),
        ({"DEAD_LETTER_TTL_SECONDS": "10"}, "DEAD_LETTER_TTL_SECONDS", "'10'"),
        ({"API_KEYS_FILE": "/nonexistent/keys"}, "API_KEYS_FILE", "'/nonexistent/keys'"),
    ],
)
def test_bad_value_names_the_variable_the_value_and_the_fix(overrides, variable, shown):
    with pytest.raises(SettingsError) as error:
        load_settings({**GOOD, **overrides})
    message = str(error.value)
    assert message.startswith(f"config error: {variable}")
    assert shown in message
    assert "fix: " in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("overrides", "variable", "secret"),
    [
        ({"SECRET_KEY": "short-but-secret"}, "SECRET_KEY", "short-but-secret"),
        ({"REDIS_URL": "http://:hunter2secret@redis"}, "REDIS_URL", "hunter2secret"),
    ],
)
def test_bad_secret_is_named_but_never_shown(overrides, variable, secret):
    with pytest.raises(SettingsError) as error:
        load_settings({**GOOD, **overrides})
    assert variable in str(error.value)
    assert "value hidden" in str(error.value)
    assert secret not in str(error.value)


def test_defaults_and_redis_url_built_from_parts():
    settings = load_settings({**GOOD, "REDIS_PASSWORD": "p@ss/word", "OPENAI_API_KEY": ""})
    assert settings.redis_url == "redis://:p%40ss%2Fword@redis:6379/0"
    assert settings.log_level == "WARNING"
    assert settings.worker_metrics_port == 9100
    assert settings.openai_api_key is None
    assert settings.qdrant_url == ":memory:"
    assert settings.qdrant_is_local


def test_qdrant_server_url_and_host_form():
    assert not load_settings({**GOOD, "QDRANT_URL": "http://qdrant:6333"}).qdrant_is_local
    assert load_settings({**GOOD, "QDRANT_HOST": "qdrant"}).qdrant_url == "http://qdrant:6333"
    assert load_settings({**GOOD, "QDRANT_URL": "/data/qdrant"}).qdrant_is_local


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "ora.worker"],
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0"],
    ],
    ids=["worker", "gunicorn"],
)
def test_process_exits_with_one_clear_line(command):
    env = process_env({**GOOD, "WORKER_METRICS_PORT": "70000"})
    result = subprocess.run(
        command, cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "config error: WORKER_METRICS_PORT='70000' is invalid: must be an integer from 1 to "
        "65535; fix: set WORKER_METRICS_PORT to the port of the worker's /metrics, e.g. 9100"
    ]


def test_the_retired_alert_email_settings_are_not_read(tmp_path):
    """Alerts go through Alertmanager: the app no longer reads SMTP_* or ALERT_*, so a
    leftover SMTP_PASSWORD_FILE pointing nowhere does not stop it."""
    retired = {
        "SMTP_HOST": "bad host",
        "SMTP_PORT": "70000",
        "SMTP_PASSWORD_FILE": str(tmp_path / "gone"),
        "ALERT_THRESHOLD": "150",
    }
    settings = load_settings({**GOOD, **retired})
    assert not any(name.startswith(("smtp", "alert")) for name in vars(settings))


def test_limits_and_access_defaults():
    settings = load_settings(GOOD)
    assert settings.api_keys.keys == ()
    assert (settings.search_requires_key, settings.diagnostic_jobs) == (True, False)
    assert settings.write_rate_per_minute == 120
    assert (settings.max_document_bytes, settings.max_metadata_bytes) == (65536, 8192)
    assert settings.max_job_payload_bytes == 8192
    assert (settings.max_documents, settings.max_queued_jobs) == (1_000_000, 10_000)
    assert settings.max_documents_per_key == 100_000
    assert settings.dead_letter_ttl_seconds == 604800


SECRET_FIELDS = {
    "REDIS_PASSWORD": lambda s: s.redis_url,
    "QDRANT_API_KEY": lambda s: s.qdrant_api_key,
    "SECRET_KEY": lambda s: s.secret_key,
    "OPENAI_API_KEY": lambda s: s.openai_api_key,
}
FILE_SECRET = "file-secret-value-" + "x" * 32


@pytest.mark.parametrize("name", sorted(SECRET_FIELDS))
def test_secret_read_from_its_file_without_the_trailing_newline(tmp_path, name):
    secret = tmp_path / "secret"
    secret.write_text(FILE_SECRET + "\n")
    environ = {**GOOD, f"{name}_FILE": str(secret)}
    environ.pop(name, None)
    value = SECRET_FIELDS[name](load_settings(environ))
    assert FILE_SECRET in value and not value.endswith("\n")


@pytest.mark.parametrize("name", sorted(SECRET_FIELDS))
def test_secret_and_its_file_together_is_an_error(tmp_path, name):
    secret = tmp_path / "secret"
    secret.write_text(FILE_SECRET)
    environ = {**GOOD, name: "a" * 40, f"{name}_FILE": str(secret)}
    with pytest.raises(SettingsError, match=f"^config error: {name}_FILE=.*{name} is set too"):
        load_settings(environ)


@pytest.mark.parametrize("name", sorted(SECRET_FIELDS))
def test_unreadable_secret_file_names_the_variable_and_path_only(tmp_path, name):
    missing = tmp_path / "no-such-secret"
    environ = {**GOOD, f"{name}_FILE": str(missing)}
    environ.pop(name, None)
    with pytest.raises(SettingsError) as error:
        load_settings(environ)
    message = str(error.value)
    assert message.startswith(f"config error: {name}_FILE='{missing}' is invalid: cannot read")
    assert "\n" not in message


def test_a_directory_as_secret_file_is_refused_without_content(tmp_path):
    environ = {**GOOD, "SECRET_KEY_FILE": str(tmp_path)}
    environ.pop("SECRET_KEY")
    with pytest.raises(SettingsError, match=r"SECRET_KEY_FILE=.* cannot read the file"):
        load_settings(environ)


def test_bad_keys_file_line_names_variable_path_and_line_not_content(tmp_path):
    from ora.apikeys import format_line

    keys = tmp_path / "keys"
    keys.write_text(format_line("ok", ["read"], "k") + "\nleaked-secret-key read,write\n")
    with pytest.raises(SettingsError) as error:
        load_settings({**GOOD, "API_KEYS_FILE": str(keys)})
    message = str(error.value)
    assert message.startswith(f"config error: API_KEYS_FILE='{keys}' is invalid: line 2: ")
    assert "leaked-secret-key" not in message
    assert "fix: " in message


def test_keys_file_is_read_at_startup(tmp_path):
    from ora.apikeys import format_line

    keys = tmp_path / "keys"
    keys.write_text("# ops keys\n\n" + format_line("ops", ["admin", "read"], "k") + "\n")
    [key] = load_settings({**GOOD, "API_KEYS_FILE": str(keys)}).api_keys.keys
    assert (key.name, key.scopes) == ("ops", frozenset({"admin", "read"}))
