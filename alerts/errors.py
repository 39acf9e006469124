"""The exceptions rulewatch raises on purpose.

    RulewatchError
    ├── ConfigError        config.toml (or the environment) is wrong; carries every problem found
    ├── ExtractionError    an input could not be read as notices at all (not "no dates found")
    └── Refused            a write that cannot be done as asked; ``status`` is the HTTP answer

The library raises these (and the store its own ``store.errors.StoreError``); the CLI turns
them into a message and an exit status and the API into an HTTP status, each in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


class RulewatchError(Exception):
    """Base class of every error rulewatch raises deliberately."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a config file: where it is and what is wrong."""

    path: str  # file the problem is in
    key: str  # dotted key path, e.g. "channels[1].url"
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class ConfigError(RulewatchError):
    """The configuration cannot be used. ``problems`` lists everything found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ExtractionError(RulewatchError):
    """An input could not be read as notices (bad JSON line, unknown format, unreadable file)."""


class Refused(RulewatchError):
    """A write refused for what it asks (no such change: 404; a conflict with what is
    stored: 409; a value that cannot be: 422); ``status`` is the HTTP status that says so,
    ``field`` the field of the request at fault, when one is."""

    def __init__(self, message: str, *, status: int, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
