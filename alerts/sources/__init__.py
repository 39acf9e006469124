"""Sources: where rulewatch finds new notices by itself, one module per kind, and the
registry of kinds (the shape of ``notifiers.CHANNELS``).

``SOURCES`` maps each ``kind`` to its pydantic config model and its factory; adding a kind is
one new module and one line here, and every kind passes tests/sources/test_source_contract.py.
``poll`` (alerts/sources/poll.py) fetches a source and stores what it found through ingest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, NamedTuple, Union

from pydantic import BaseModel, Field

from alerts.sources.base import Source, SourceConfig
from alerts.sources.folder import FolderSource, FolderSourceConfig
from alerts.sources.html_list import HtmlListSource, HtmlListSourceConfig
from alerts.sources.json_list import JsonListSource, JsonListSourceConfig
from alerts.sources.page import PageSource, PageSourceConfig
from alerts.sources.rss import RssSource, RssSourceConfig


class SourceKind(NamedTuple):
    """One registered kind: how its config is validated and how its source is built."""

    model: type[BaseModel]
    factory: Callable[[Any], Source]


SOURCES: dict[str, SourceKind] = {
    "folder": SourceKind(FolderSourceConfig, FolderSource),
    "rss": SourceKind(RssSourceConfig, RssSource),
    "html_list": SourceKind(HtmlListSourceConfig, HtmlListSource),
    "json_list": SourceKind(JsonListSourceConfig, JsonListSource),
    "page": SourceKind(PageSourceConfig, PageSource),
}


def source_union() -> Any:
    """The pydantic annotation validating one ``[[sources]]`` entry, chosen by ``kind``."""
    # A Union built at run time is invisible to mypy; callers type the result as SourceConfig.
    models = tuple(dict.fromkeys(kind.model for kind in SOURCES.values()))
    if len(models) == 1:
        return Annotated[models[0], Field(discriminator="kind")]
    return Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007


__all__ = ["SOURCES", "Source", "SourceConfig", "SourceKind", "build_source", "source_union"]


def build_source(config: BaseModel) -> Source:
    """The source for a validated config of a registered kind; ValueError otherwise."""
    kind = SOURCES.get(str(getattr(config, "kind", "")))
    if kind is None or not isinstance(config, kind.model):
        raise ValueError(
            f"{type(config).__name__} is not the config of a known source kind; "
            f"known kinds: {', '.join(SOURCES)}"
        )
    return kind.factory(config)
