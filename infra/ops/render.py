"""`make render`: print the files a stack renders, nginx's or monitoring's, offline.

python -m infra.ops.render nginx dev
"""

from __future__ import annotations

import argparse
import sys

from infra import config
from infra.edge.render import format_files, render_nginx
from infra.monitoring.render import RENDERERS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.ops.render")
    parser.add_argument("what", choices=["nginx", *RENDERERS], help="which rendered files to print")
    parser.add_argument("stack", help=f"stack name ({', '.join(config.known_stacks())})")
    args = parser.parse_args(argv)
    if args.stack not in config.known_stacks():
        known = ", ".join(config.known_stacks())
        print(f"unknown stack {args.stack!r}; known stacks: {known}", file=sys.stderr)
        return 2
    try:
        stack_config = config.offline(args.stack)
    except config.ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    render = RENDERERS.get(args.what, render_nginx)
    sys.stdout.write(format_files(render(stack_config)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
