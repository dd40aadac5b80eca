"""ASGI entry point: `gunicorn -c /app/gunicorn.conf.py ora.main:app`."""

import os

from ora.logs import configure
from ora.settings import load_settings_or_exit
from ora.web import create_app

settings = load_settings_or_exit(os.environ)
configure(settings.log_level, settings.log_dir, "app")
app = create_app(settings)
