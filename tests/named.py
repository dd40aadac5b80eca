"""Suites that run only when named on the command line (tests/e2e, tests/infra):
they need a deployed host, so a plain `pytest tests` leaves them out."""

from pathlib import Path


def deselect_unless_named(config, items, suite: Path) -> None:
    asked = any(Path(arg.split("::")[0]).resolve().is_relative_to(suite) for arg in config.args)
    if asked:
        return
    left_out = [item for item in items if Path(item.path).is_relative_to(suite)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]
