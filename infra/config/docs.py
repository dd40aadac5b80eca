"""The README's configuration reference, generated from Pulumi.yaml.

`python -m infra.config.docs` rewrites the block between the markers in README.md;
tests/unit/config/test_readme.py fails when the README and Pulumi.yaml disagree.
"""

from __future__ import annotations

import sys

from infra.config import schema

README = schema.PROJECT_ROOT / "README.md"
BEGIN, END = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"


def config_reference() -> str:
    rows = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for key in schema.keys().values():
        default = (
            "*(secret)*" if key.secret else f"`{key.default}`" if key.default != "" else '`""`'
        )
        rows.append(f"| `ora:{key.name}` | {key.type} | {default} | {key.description} |")
    return "\n".join(rows)


def with_reference(readme: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{config_reference()}\n{END}{tail}"


def main() -> int:
    README.write_text(with_reference(README.read_text()))
    print(f"updated {README.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
