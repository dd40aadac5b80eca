"""Redis's multi-part AOF, copied while Redis appends to it: the tar of its manifest, base
and incr files, with the last incr file cut after its last whole command (and before a
MULTI that has no EXEC yet), which is what Redis would replay of a file cut mid-write."""

from __future__ import annotations

import io
import mmap
import os
import shutil
import sys
import tarfile
import traceback
from typing import IO, TextIO

from .messages import helper_error

# In the redis-data volume (read-only): a tar of the multi-part AOF's manifest and the base
# and incr files it names (the directory and the manifest first); exit 3 when there is no
# manifest (Redis < 7).
AOF_FILES = "\n".join(
    (
        "cd /v/appendonlydir 2>/dev/null || exit 3",
        'set -- *.manifest; [ -f "$1" ] || exit 3; manifest="$1"; set --',
        "while read -r _ name _ _ _ type; do",
        '    case "$type" in b | i) set -- "$@" "appendonlydir/$name" ;; esac',
        'done <"$manifest"',
        "exec tar -C /v --numeric-owner --no-recursion -cf - appendonlydir"
        ' "appendonlydir/$manifest" "$@"',
    )
)
NO_MANIFEST = 3  # AOF_FILES's exit status when Redis keeps no multi-part AOF


class AofError(Exception):
    pass


def whole_commands(path: str) -> int:
    """Bytes of the AOF file at `path` up to its last whole command, and before a MULTI
    that has no EXEC yet."""
    size = os.path.getsize(path)
    if size == 0:
        return 0
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        pos = end = multi = 0
        open_multi = False
        while pos < size:
            start = pos
            line = m.find(b"\r\n", pos)
            if line < 0:
                break
            if m[pos : pos + 1] == b"#":  # an annotation (aof-timestamp-enabled)
                pos = end = line + 2
                continue
            if m[pos : pos + 1] != b"*":
                raise AofError(f"{path}: not an AOF command at byte {pos}")
            pos, first, whole = line + 2, None, True
            for _ in range(int(m[start + 1 : line])):
                line = m.find(b"\r\n", pos)
                if line < 0 or m[pos : pos + 1] != b"$":
                    whole = False
                    break
                data = line + 2
                pos = data + int(m[pos + 1 : line]) + 2
                if pos > size:
                    whole = False
                    break
                first = first if first is not None else m[data : min(data + 5, pos - 2)].upper()
            if not whole:
                break
            if first == b"MULTI":
                open_multi, multi = True, start
            elif first == b"EXEC":
                open_multi = False
            end = pos
        return multi if open_multi else end


def copy_aof(source: tarfile.TarFile, target: str) -> int:
    """The members of `source` into the tar `target`, the last incr file (named by the
    manifest, which comes first) cut to whole commands; returns the bytes kept of it."""
    last, kept = None, 0
    with (
        open(target, "wb") as raw,
        tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as out,
    ):
        for member in source:
            data = source.extractfile(member) if member.isfile() else None
            if member.name.endswith(".manifest"):
                text = data.read()
                incr = [
                    line.split()[1]
                    for line in text.decode().splitlines()
                    if line.split()[-1:] == ["i"]
                ]
                last = f"appendonlydir/{incr[-1]}" if incr else None
                out.addfile(member, io.BytesIO(text))
            elif member.name == last:
                spool = f"{target}.incr"
                with open(spool, "wb") as copy:
                    shutil.copyfileobj(data, copy, 1 << 20)
                kept = whole_commands(spool)
                member.size = kept
                with open(spool, "rb") as copy:
                    out.addfile(member, copy)
                os.remove(spool)
            else:
                out.addfile(member, data)
    if last is None:
        raise AofError("the AOF manifest names no incr file")
    return kept


def copy_stream(stream: IO[bytes], target: str, errors: TextIO | None = None) -> tuple[int, str]:
    """The AOF tar read from `stream` into `target`: (status, what to report). Status 0 with
    the bytes kept of the last incr file; 4 for an empty stream (the copy failed, the
    caller says why); 5 and 6 with the reason (a full disk, a short stream); 1 after an
    error message."""
    errors = errors or sys.stderr
    try:
        source = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - closed with stream
    except tarfile.ReadError as error:
        if "empty" in str(error):
            return 4, ""
        helper_error(f"the copy of the AOF is not a tar stream: {error}", errors)
        return 1, ""
    try:
        kept = copy_aof(source, target)
    except OSError as error:  # one line, no traceback: a full disk
        return 5, f"cannot write {error.filename or target}: {error.strerror}\n"
    except (tarfile.TarError, EOFError) as error:
        return 6, f"the copy of the AOF ended early: {error}\n"
    except AofError as error:
        helper_error(str(error), errors)
        return 1, ""
    except Exception:  # shown whole: an unexpected failure
        traceback.print_exc(file=errors)
        return 1, ""
    return 0, f"{kept}\n"
