"""Fingerprinted static assets, exported for nginx at startup."""

import hashlib
import re

from ora.static_export import STATIC_DIR, export_static


def test_css_name_carries_its_content_fingerprint():
    [css] = STATIC_DIR.glob("app.*.css")
    fingerprint = re.fullmatch(r"app\.([0-9a-f]{8})\.css", css.name).group(1)
    assert hashlib.sha256(css.read_bytes()).hexdigest()[:8] == fingerprint


def test_export_copies_every_asset(tmp_path):
    target = tmp_path / "srv" / "static"
    copied = export_static(target)
    assert {"favicon.ico", "robots.txt"} <= set(copied)
    assert sorted(p.name for p in target.iterdir()) == sorted(copied)
    for name in copied:
        assert (target / name).read_bytes() == (STATIC_DIR / name).read_bytes()


def test_app_serves_static_for_dev(client):
    assert client.get("/static/robots.txt").text.startswith("User-agent: *")
