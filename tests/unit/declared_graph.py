"""The declared graph of a stack as plain JSON: every resource's type, name, options that
the engine acts on, and inputs (secrets unwrapped). The guard of a move that must not change
what Pulumi deploys: dump before, dump after, and compare.

    python -m tests.unit.declared_graph dev prod swarm > before.json
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from tests.unit import program
from tests.unit.targets.swarm.test_swarm import SECRETS as SWARM_SECRETS


def graph(stack: str) -> list[dict[str, Any]]:
    declared = program.evaluate(stack, secrets=SWARM_SECRETS if stack == "swarm" else None)
    found = [
        {
            "type": r.type,
            "name": r.name,
            "urn": r.options.urn if r.options else "",
            "deleteBeforeReplace": r.options.delete_before_replace if r.options else None,
            "protect": r.options.protect if r.options else False,
            "inputs": r.plain_inputs(),
        }
        for r in declared.resources
    ]
    return sorted(found, key=lambda r: (r["urn"], r["type"], r["name"]))  # registration races


def main(stacks: list[str]) -> int:
    dumped = {stack: graph(stack) for stack in stacks}
    text = json.dumps(dumped, indent=1, sort_keys=True, default=str)
    # prod's test certificate is made afresh by each run (tests/unit/certs.py), and so is the
    # fingerprint of the one-shot that installs it: masked, the rest must match exactly.
    for secret, mask in ((program.PROD_CERT, "<prod certificate>"), (program.PROD_KEY, "<key>")):
        text = text.replace(json.dumps(secret)[1:-1], mask)
    text = re.sub(r"ora-prod-nginx-config-[0-9a-f]{12}", "ora-prod-nginx-config-<fp>", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["dev", "prod", "swarm"]))
