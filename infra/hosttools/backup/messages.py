"""What the backup prints on stderr, and the two ways a run fails.

Every message names repositories without the password of their URL's userinfo.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

# The messages of what used to be the script's Python half always began so, whatever name
# the command was run by; the Qdrant job's errors are still read back by this prefix.
HELPER_PREFIX = "backup.sh"

# scheme://user:password@host and sftp:user:password@host: the password becomes ***.
_USERINFO = re.compile(r"(.*(?:://|sftp:)[^/@:\s]*:)[^/@\s]*@(.*)", re.S | re.A)


class Die(Exception):
    """A failure the run explains in one line: printed as `PROG: error: MESSAGE`, exit 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CommandFailed(Exception):
    """A command that had to succeed did not (its own output says why): exit its status."""

    def __init__(self, argv: list[str] | tuple[str, ...], status: int) -> None:
        super().__init__(f"{' '.join(argv)}: exit {status}")
        self.argv = list(argv)
        self.status = status or 1


def redacted(text: str) -> str:
    """`text` with the password of every URL's userinfo shown as ***."""
    tail = ""
    while found := _USERINFO.fullmatch(text):
        tail = f"***@{found[2]}{tail}"
        text = found[1]
    return text + tail


def helper_error(message: str, stream: TextIO | None = None) -> None:
    """An error of the manifest, AOF and Qdrant steps, as they have always printed it."""
    print(f"{HELPER_PREFIX}: error: {message}", file=stream or sys.stderr, flush=True)


def helper_note(message: str, stream: TextIO | None = None) -> None:
    print(f"{HELPER_PREFIX}: {message}", file=stream or sys.stderr, flush=True)


class Output:
    """Messages of the run, prefixed with the name it was started by (backup.sh, ora-backup)."""

    def __init__(self, prog: str, stream: TextIO | None = None) -> None:
        self.prog = prog
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def say(self, message: str) -> None:
        self.write(f"{self.prog}: {redacted(message).rstrip(chr(10))}")

    def error_line(self, message: str) -> str:
        return f"{self.prog}: error: {redacted(message).rstrip(chr(10))}"

    def error(self, message: str) -> None:
        self.write(self.error_line(message))

    def write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


class HelperFailed(Exception):
    """A failure of the manifest step, printed as it always was (`backup.sh: error: …`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
