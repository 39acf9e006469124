"""Reading config.toml: the file's text, its TOML, the line of each key, its ``env:`` values.

A key is named by its path, ``Parts`` such as ``("channels", 1, "url")``, and shown as TOML
writes it (``format_parts``: ``channels[1].url``). tomllib keeps no positions, so
``KeyLines`` finds the line of each path by scanning the text. A file that cannot be read or
parsed raises ``ConfigError`` at once; ``resolve_env`` returns its problems, per key, for
the loader to report together with the others.
"""

from __future__ import annotations

import contextlib
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alerts.config.values import quote
from alerts.errors import ConfigError, ConfigProblem

CONFIG_ENV = "RULEWATCH_CONFIG"

Parts = tuple[str | int, ...]  # a key path: ("channels", 1, "url")
KeyProblem = tuple[Parts, str]  # what is wrong at a key path, before file and line are known


def format_parts(parts: Parts) -> str:
    """``parts`` as written in TOML: ``channels[1].headers."X Trace"``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
            out += f".{name}" if out else name
    return out


def file_error(where: str, message: str, line: int | None = None) -> ConfigError:
    """A ``ConfigError`` with one problem that is about the whole file, not a key."""
    return ConfigError([ConfigProblem(where, "", message, line)])


# --- the text and its TOML ---------------------------------------------------------------


def read_text(path: Path) -> str:
    """The text of the config file at ``path``. Raises ConfigError when the file is missing,
    unreadable or not UTF-8."""
    try:
        # utf-8-sig: Notepad on Windows saves UTF-8 with a byte-order mark, which TOML
        # does not allow before the first key.
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise file_error(
            str(path),
            "no config file here; create it (the config.toml in the rulewatch "
            "repository is a working example, docs/configuration.md lists every key) "
            f"or name another file with --config or ${CONFIG_ENV}",
        ) from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise file_error(str(path), "is not UTF-8 text, which TOML requires", line) from exc
    except OSError as exc:
        raise file_error(str(path), f"cannot be read: {exc.strerror}") from exc


def parse_toml(text: str, where: str) -> tuple[dict[str, Any], KeyLines]:
    """``text`` parsed, and the lines of its keys. Raises ConfigError on a TOML syntax error,
    naming the line (and for a repeated key, the key)."""
    lines = KeyLines(text)
    try:
        return tomllib.loads(text), lines
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_problem(where, str(exc), lines)]) from exc


def _syntax_problem(where: str, message: str, lines: KeyLines) -> ConfigProblem:
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        detail = f"{message[: match.start()]} (column {match[2]})"
        return ConfigProblem(where, "", f"TOML syntax error: {detail}", int(match[1]))
    if lines.duplicate is not None:
        parts, line = lines.duplicate
        return ConfigProblem(
            where, format_parts(parts), "TOML syntax error: this key is given twice", line
        )
    return ConfigProblem(where, "", f"TOML syntax error: {message}")


# --- environment references --------------------------------------------------------------


def resolve_env(
    data: dict[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[KeyProblem], dict[Parts, str]]:
    """``data`` with every ``"env:NAME"`` string replaced by the variable NAME.

    Also returns a problem for each reference that cannot be resolved (a bad name, a
    variable not set or empty; such a value stays as written), and the name of the variable
    each resolved key path took its value from, so that messages never show that value.
    """
    found: list[KeyProblem] = []
    sourced: dict[Parts, str] = {}

    def resolve(node: Any, parts: Parts) -> Any:
        if isinstance(node, dict):
            return {k: resolve(v, (*parts, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v, (*parts, i)) for i, v in enumerate(node)]
        if not (isinstance(node, str) and node.startswith("env:")):
            return node
        name = node[4:]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            found.append((parts, f'"env:" must be followed by a variable name; got {quote(node)}'))
        elif not environ.get(name):
            state = "is empty" if name in environ else "is not set"
            found.append(
                (
                    parts,
                    f"the environment variable {name} {state} (this key is written "
                    f"{quote(node)}); set it before starting rulewatch, or write the value here",
                )
            )
        else:
            sourced[parts] = name
            return environ[name]
        return node

    resolved: dict[str, Any] = resolve(data, ())
    return resolved, found, sourced


# --- where keys are in the file ----------------------------------------------------------

_KEY_PART = re.compile(r"""\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*""")


def _read_key(text: str, pos: int) -> tuple[list[str], int] | None:
    parts: list[str] = []
    while match := _KEY_PART.match(text, pos):
        bare, basic, literal = match.groups()
        if basic is not None:
            with contextlib.suppress(ValueError):
                basic = json.loads(f'"{basic}"')
        parts.append(next(p for p in (bare, basic, literal) if p is not None))
        pos = match.end()
        if not text.startswith(".", pos):
            return parts, pos
        pos += 1
    return None


_STRING_OR_COMMENT = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'|#.*""")


def _bracket_balance(text: str) -> int:
    bare = _STRING_OR_COMMENT.sub("", text)
    return bare.count("[") - bare.count("]")


class KeyLines:
    """Line numbers of keys and table headers, found by scanning the TOML text.

    tomllib keeps no positions, so this follows the grammar just far enough: table and
    array-of-tables headers (counting each array's entries), ``key =`` lines, and
    multi-line strings, whose content must not be read as keys.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[Parts, int] = {}
        self.duplicate: tuple[Parts, int] | None = None
        arrays: dict[Parts, int] = {}  # array-of-tables path -> index of its current entry
        table: Parts = ()
        closing: str | None = None  # delimiter of an open multi-line string
        depth = 0  # of an open multi-line array, whose lines hold values, not keys
        for number, line in enumerate(text.splitlines(), start=1):
            if closing is not None:
                if line.count(closing) % 2:
                    closing = None
                continue
            if depth > 0:
                depth += _bracket_balance(line)
                continue
            stripped = line.lstrip()
            is_array = stripped.startswith("[[")
            if stripped.startswith("["):
                key = _read_key(stripped, 2 if is_array else 1)
                if key is None:
                    continue
                path = self._resolve(key[0][:-1] if is_array else key[0], arrays)
                if is_array:
                    path = (*path, key[0][-1])
                    arrays[path] = arrays.get(path, -1) + 1
                    self.lines.setdefault(path, number)
                    path = (*path, arrays[path])
                table = path
                self.lines.setdefault(table, number)
                continue
            key = _read_key(line, 0)
            if key is None or not line.startswith("=", key[1]):
                continue
            path = (*table, *key[0])
            if path in self.lines and self.duplicate is None:
                self.duplicate = (path, number)
            self.lines.setdefault(path, number)
            for delimiter in ('"""', "'''"):
                if line.count(delimiter) % 2:
                    closing = delimiter
                    break
            else:
                depth = _bracket_balance(line[key[1] + 1 :])

    @staticmethod
    def _resolve(names: list[str], arrays: Mapping[Parts, int]) -> Parts:
        # [channels.headers] after [[channels]] belongs to the latest channels entry.
        path: Parts = ()
        for name in names:
            path = (*path, name)
            if path in arrays:
                path = (*path, arrays[path])
        return path

    def line_of(self, parts: Parts) -> int | None:
        """The line of ``parts``, else of its nearest enclosing key or table, else None."""
        for end in range(len(parts), 0, -1):
            if parts[:end] in self.lines:
                return self.lines[parts[:end]]
        return None
