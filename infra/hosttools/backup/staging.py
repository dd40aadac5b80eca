"""The staging directory of a create (STAGING/create): the artefacts before restic stores
them, and the list of what they are."""

from __future__ import annotations

import os
import shutil

from .messages import Die


class Staging:
    def __init__(self, root: str) -> None:
        self.root = root
        self.work = os.path.join(root, "create")
        self.artefacts = os.path.join(self.work, "artefacts")

    def reset(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work, exist_ok=True)
        open(self.artefacts, "w").close()

    def note(self, line: str) -> None:
        """A line of the artefact list; the staging disk may fill up here too."""
        try:
            with open(self.artefacts, "a") as out:
                out.write(line + "\n")
        except OSError:
            raise Die(
                f"cannot write into the staging directory {self.root} (disk full?); no backup"
                " was stored"
            ) from None

    def lines(self) -> list[str]:
        with open(self.artefacts) as handle:
            return handle.read().splitlines()

    def remove(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
