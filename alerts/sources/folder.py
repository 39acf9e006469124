"""``kind = "folder"``: a directory that another tool (a crawler, a mail rule, a colleague)
drops notice files into. Each file is read as ``rulewatch import`` reads it; it is known by
its name and the digest of its bytes, so a file that is rewritten is read again. Hidden files
are passed over: a tool that writes ``.name.txt`` and renames it when done is never read
half-written."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from alerts.errors import ExtractionError
from alerts.sources.base import Context, Fetched, Item, SourceConfig, SourceError


class FolderSourceConfig(SourceConfig):
    """A ``[[sources]]`` entry of kind ``folder``."""

    kind: Literal["folder"] = "folder"
    path: Annotated[Path, Field(strict=False)]  # written as a string in TOML
    pattern: str = Field(default="*.txt", min_length=1)  # which files, as a glob

    @field_validator("path")
    @classmethod
    def _beside_config(cls, value: Path, info: ValidationInfo) -> Path:
        # A relative folder is beside config.toml, as a relative SQLite file is.
        context = info.context if isinstance(info.context, dict) else {}
        base = context.get("base_dir")
        return value if value.is_absolute() or base is None else Path(base) / value


class FolderSource:
    """Reads every file of the folder that matches the pattern, in name order."""

    def __init__(self, config: FolderSourceConfig) -> None:
        self.config = config
        self.name = config.name

    async def fetch(self, context: Context) -> Fetched:
        # Files are read in a thread: a folder on a network share may be slow.
        return await asyncio.to_thread(self._read, context)

    def _read(self, context: Context) -> Fetched:
        from alerts.timeline.ingest import notices_in  # the store's code: not for the config

        folder = self.config.path
        if not folder.is_dir():
            raise SourceError(f"{folder} 不是能读取的文件夹（is not a folder that can be read）")
        items: list[Item] = []
        names = folder.glob(self.config.pattern)
        for path in sorted(p for p in names if p.is_file() and not p.name.startswith(".")):
            try:
                data = path.read_bytes()
            except OSError as exc:
                problem = f"读不了这个文件（cannot read it: {exc.strerror}）"
                items.append(Item(key=path.name, problem=problem, again=True))
                continue
            key = f"{path.name}#{hashlib.sha256(data).hexdigest()[:16]}"
            if context.seen(key):
                continue
            try:
                notices = notices_in(path)
            except ExtractionError as exc:
                items.append(Item(key=key, problem=str(exc), label=path.name))
                continue
            items.append(Item(key=key, notices=tuple(notices), label=path.name))
        return Fetched(items=tuple(items))
