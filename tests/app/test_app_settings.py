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
        ({"ALERT_THRESHOLD": "0"}, "ALERT_THRESHOLD", "'0'"),
        ({"ALERT_THRESHOLD": "150"}, "ALERT_THRESHOLD", "'150'"),
        ({"ALERT_THRESHOLD": "50%"}, "ALERT_THRESHOLD", "'50%'"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT", "'70000'"),
        ({"SMTP_USER": "ops"}, "SMTP_HOST", "SMTP_USER"),
        ({"WEB_CONCURRENCY": "many"}, "WEB_CONCURRENCY", "'many'"),
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
    assert settings.alert_threshold == 50
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
    env = process_env({**GOOD, "ALERT_THRESHOLD": "101"})
    result = subprocess.run(
        command, cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "config error: ALERT_THRESHOLD='101' is invalid: must be an integer from 1 to 100; "
        "fix: set ALERT_THRESHOLD to a percent, e.g. 50"
    ]
