"""What is wrong with a config: pydantic errors and cross-entry checks as ``ConfigProblem``s.

``translate`` turns one pydantic error into the key path as written in TOML and a message
that says what is allowed and what was given: redacted, or not shown at all when the value
came from the environment or belongs to a secret. ``cross_check`` finds what no single model
can see: repeated names, watches naming channels that do not exist, email without
``[smtp]``. ``to_problems`` gives each problem its file and line, in file order.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

from alerts.config.source import KeyLines, KeyProblem, Parts, format_parts
from alerts.config.values import quote, url_masked
from alerts.errors import ConfigProblem
from alerts.sources import SOURCES
from notifiers import CHANNEL_MODELS, CHANNELS
from notifiers.chat import ChatChannel

_PLAIN_MESSAGES = {
    "string_type": "should be a string (in quotes)",
    "int_type": "should be a whole number",
    "float_type": "should be a number",
    "bool_type": "should be true or false",
    "list_type": 'should be an array, e.g. ["a", "b"]',
    "dict_type": "should be a table",
    "model_type": "should be a table",
    "date_type": "should be a date, e.g. 2024-03-01",
    "time_type": 'should be a time of day, e.g. "09:00"',
}


def translate(
    error: Mapping[str, Any],
    *,
    model: type[BaseModel],
    raw: Mapping[str, Any],
    sourced: Mapping[Parts, str],
) -> KeyProblem:
    """One error of ``model.model_validate(raw)`` as a key path and a message.

    ``sourced`` names the environment variable each key path took its value from.
    """
    # The discriminated union adds the entry's kind to the location; the user never wrote it.
    loc = [p for p in error["loc"] if p != "[key]"]
    section = loc[0] if loc and loc[0] in _KINDS else "channels"
    parts: Parts = tuple(
        p
        for i, p in enumerate(loc)
        if not (i == 2 and loc[0] == section and isinstance(p, str) and p in _KINDS[section])
    )
    kind, value = error["type"], error.get("input")
    kinds = ", ".join(_KINDS[section])
    noun = "a source kind" if section == "sources" else "a channel kind"
    if kind == "extra_forbidden":
        parent = _annotation_at(model, parts[:-1], raw)
        allowed = [f.alias or n for n, f in parent.model_fields.items()] if parent else []
        close = difflib.get_close_matches(str(parts[-1]), allowed, n=1)
        hint = f"did you mean {quote(close[0])}? " if close else ""
        return parts, f"unknown key; {hint}allowed here: {', '.join(allowed)}"
    if kind == "missing":
        return parts, "is required but missing"
    if kind == "union_tag_not_found":
        return (*parts, "kind"), f"is required but missing; one of: {kinds}"
    if kind == "union_tag_invalid":
        given = _describe(value.get("kind")) if isinstance(value, dict) else "?"
        return (
            *parts,
            "kind",
        ), f"is not {noun} rulewatch knows; one of: {kinds}; got {given}"
    if kind in ("rulewatch_shown", "too_short"):
        message = str(error["msg"])
        if kind == "too_short":
            message = "cannot be empty" if not value else message.replace("List should", "should")
        return parts, message
    if kind == "rulewatch":
        message = str(error["msg"])
    elif kind == "literal_error":
        message = "should be " + str(error["ctx"]["expected"]).replace("'", '"')
    else:
        message = _PLAIN_MESSAGES.get(kind) or str(error["msg"]).replace("Input should", "should")
    if parts in sourced:
        return parts, f"{message}; got the value of ${sourced[parts]} (not shown)"
    if _holds_secret(_annotation_at(model, parts, raw)):
        return parts, message
    return parts, f"{message}; got {_describe(value)}"


# The sections whose entries are chosen by ``kind``, and the kinds each knows.
_KINDS: dict[str, Any] = {"channels": CHANNEL_MODELS, "sources": SOURCES}


def _holds_secret(annotation: Any) -> bool:
    """Whether a value of ``annotation`` may be a secret: SecretStr itself, or within an
    Annotated, a union or a container (``secret`` is one string or a list of them)."""
    if annotation is SecretStr:
        return True
    return any(_holds_secret(arg) for arg in get_args(annotation) if arg is not annotation)


def _annotation_at(model: type[BaseModel], parts: Parts, raw: Any) -> Any:
    """The type expected at ``parts``; a channel's model is chosen by its ``kind``."""
    annotation: Any = model
    node = raw
    for part in parts:
        annotation = _pick(annotation, node)
        if isinstance(part, int) and get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {f.alias or n: f for n, f in annotation.model_fields.items()}
            if part not in fields:
                return None
            annotation = fields[part].annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return None
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return _pick(annotation, node)


def _pick(annotation: Any, node: Any) -> Any:
    annotation = _strip(annotation)
    if get_origin(annotation) in (Union, types.UnionType) and isinstance(node, dict):
        kind = node.get("kind")
        for member in get_args(annotation):
            field = getattr(member, "model_fields", {}).get("kind")
            if field is not None and isinstance(kind, str) and kind in get_args(field.annotation):
                return member
        return None
    return annotation


def _strip(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        args = [a for a in get_args(annotation) if a is not type(None)]
        if origin is Annotated or (origin in (Union, types.UnionType) and len(args) == 1):
            annotation = args[0]
        else:
            return annotation


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = url_masked(value)
        return quote(shown if len(shown) <= 80 else shown[:77] + "...")
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime):
        return f"the date-time {value.isoformat()}"
    if isinstance(value, date | time):
        return value.isoformat()
    return repr(value)


# --- checks across entries ---------------------------------------------------------------


def _entries(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return (
        [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]
        if isinstance(value, list)
        else []
    )


def cross_check(raw: Mapping[str, Any]) -> list[KeyProblem]:
    """Problems that span entries: duplicate names, dangling references, missing [smtp]."""
    found: list[KeyProblem] = []
    channel_names: dict[str, int] = {}
    for section, names in (
        ("channels", channel_names),
        ("watch", {}),
        ("sources", {}),
        ("users", {}),
    ):
        for i, entry in _entries(raw.get(section)):
            name = entry.get("name")
            if isinstance(name, str) and name in names:
                found.append(
                    (
                        (section, i, "name"),
                        f"{quote(name)} is already the name of {section}[{names[name]}]; "
                        "names must be unique",
                    )
                )
            elif isinstance(name, str):
                names[name] = i
    for i, watch in _entries(raw.get("watch")):
        refs = watch.get("channels")
        for k, ref in enumerate(refs if isinstance(refs, list) else []):
            if isinstance(ref, str) and ref not in channel_names:
                close = difflib.get_close_matches(ref, list(channel_names), n=1)
                hint = f"; did you mean {quote(close[0])}?" if close else ""
                known = ", ".join(channel_names) or "none"
                found.append(
                    (
                        ("watch", i, "channels", k),
                        f"no [[channels]] entry is named {quote(ref)}{hint} (defined: {known})",
                    )
                )
    found += mention_problems(raw)
    found += _shared_tokens(raw)
    service = raw.get("service")
    admin = service.get("admin_channel") if isinstance(service, dict) else None
    if isinstance(admin, str) and admin not in channel_names:
        known = ", ".join(channel_names) or "none"
        found.append(
            (
                ("service", "admin_channel"),
                f"no [[channels]] entry is named {quote(admin)} (defined: {known})",
            )
        )
    smtp = raw.get("smtp")
    if smtp is None:
        for i, channel in _entries(raw.get("channels")):
            if channel.get("kind") == "email":
                found.append(
                    (
                        ("channels", i),
                        f"email channel {quote(channel.get('name'))} needs an [smtp] section "
                        "with at least host and from",
                    )
                )
    elif isinstance(smtp, dict):
        for given, other in (("username", "password"), ("password", "username")):
            if smtp.get(given) is not None and smtp.get(other) is None:
                found.append(
                    (("smtp", other), f"is missing: smtp.{given} is set, give both or neither")
                )
    return found


def mention_problems(raw: Mapping[str, Any]) -> list[KeyProblem]:
    """A watch's ``mention`` entries must each be usable by one of its chat channels
    (mobile numbers for DingTalk and WeCom, user ids for Feishu and Slack)."""
    kinds = {
        name: CHANNELS[kind].model
        for _, channel in _entries(raw.get("channels"))
        # Any value may be written here: what is not a known kind has its own problem.
        if isinstance(name := channel.get("name"), str)
        and isinstance(kind := channel.get("kind"), str)
        and kind in CHANNELS
    }
    found: list[KeyProblem] = []
    for i, watch in _entries(raw.get("watch")):
        mention, refs = watch.get("mention"), watch.get("channels")
        if not isinstance(mention, list) or not mention:
            continue
        chats: list[type[ChatChannel]] = [
            kind
            for ref in (refs if isinstance(refs, list) else [])
            if isinstance(kind := kinds.get(ref), type) and issubclass(kind, ChatChannel)
        ]
        if not chats:
            found.append((("watch", i, "mention"), "none of this watch's channels is a chat robot"))
            continue
        for k, entry in enumerate(mention):
            if isinstance(entry, str) and not any(kind.accepts(entry) for kind in chats):
                found.append(
                    (
                        ("watch", i, "mention", k),
                        f'{quote(entry)} is neither "all" nor someone this watch\'s chat '
                        "channels can mention (mobile numbers for DingTalk and WeCom, user ids "
                        "for Feishu and Slack)",
                    )
                )
    return found


# --- with file and line ------------------------------------------------------------------


def to_problems(where: str, found: Iterable[KeyProblem], lines: KeyLines) -> list[ConfigProblem]:
    """``found`` in the file ``where``: each with its line, repeats dropped, in file order
    (problems without a line last)."""
    problems = {
        ConfigProblem(where, format_parts(parts), message, lines.line_of(parts)): None
        for parts, message in found
    }
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.key))


def _shared_tokens(raw: Mapping[str, Any]) -> list[KeyProblem]:
    # A token names its caller: two callers with one token would be one caller with two
    # roles. The problem names where the token is used, never the token.
    api = raw.get("api")
    owners: dict[str, str] = {}
    if isinstance(api, Mapping) and isinstance(api.get("token"), str):
        owners[api["token"]] = "[api] token"
    found: list[KeyProblem] = []
    for i, user in _entries(raw.get("users")):
        token = user.get("token")
        if not isinstance(token, str):
            continue
        if token in owners:
            found.append((("users", i, "token"), f"is the same token as {owners[token]}"))
        else:
            owners[token] = f"users[{i}].token"
    return found
