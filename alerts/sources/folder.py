"""``kind = "folder"``: a directory that another tool (a crawler, a mail rule, a colleague)
drops notice files into. Each file is read as ``rulewatch import`` reads it; a file seen
before stores nothing new, since the store knows each notice by its content."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alerts.errors import ExtractionError
from alerts.sources.base import Batch, Fetched
from alerts.timeline.ingest import notices_in


class FolderSourceConfig(BaseModel):
    """A ``[[sources]]`` entry of kind ``folder``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    kind: Literal["folder"] = "folder"
    path: Path
    pattern: str = Field(default="*.txt", min_length=1)  # which files, as a glob


class FolderSource:
    """Reads every file of the folder that matches the pattern, in name order."""

    def __init__(self, config: FolderSourceConfig) -> None:
        self.config = config
        self.name = config.name

    async def fetch(self) -> Fetched:
        # Files are read in a thread: a folder on a network share may be slow.
        return await asyncio.to_thread(self._read)

    def _read(self) -> Fetched:
        folder = self.config.path
        if not folder.is_dir():
            return Fetched(problems=((str(folder), "is not a folder that can be read"),))
        batches: list[Batch] = []
        problems: list[tuple[str, str]] = []
        for path in sorted(p for p in folder.glob(self.config.pattern) if p.is_file()):
            try:
                notices = notices_in(path)
            except ExtractionError as exc:
                problems.append((path.name, str(exc)))
                continue
            batches.append(Batch(origin=path.name, notices=tuple(notices)))
        return Fetched(tuple(batches), tuple(problems))
