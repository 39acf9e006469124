"""The JSON API's request and response bodies (they document the OpenAPI schema).

Kept apart from the tables (store/models.py) and the read models (alerts/timeline/views.py) even
where fields overlap: the API's shape is a promise to clients, the others may move.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from alerts.timeline.ingest import EARLIEST, LATEST, TEXT_CAP
from store.queries import KEY_LENGTH, PLATFORM_LENGTH

# JSON Schema has no range for dates; this pattern states 1970–2199 for clients and fuzzers.
_IN_RANGE: JsonDict = {"pattern": r"^(19[7-9][0-9]|2[01][0-9][0-9])-"}


def _written(value: object) -> object:
    # Lax pydantic reads 1764000000 as Unix time and 0 as midnight: a number is no date here.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("must be an ISO 8601 string, not a number")
    return value


Written = BeforeValidator(_written)


def without_nul(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [item.replace("\x00", "") if isinstance(item, str) else item for item in value]
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="wrap")
    @classmethod
    def _drop_nul(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        # PostgreSQL cannot store NUL in text and no reader needs it: it is dropped here.
        # The value is checked as sent first, so that a limit counts what the schema counts,
        # then again without the NULs, so that "\x00" is no name.
        checked = handler(value)
        cleaned = without_nul(checked)
        return checked if cleaned == checked else handler(cleaned)


class Source(BaseModel):
    title: str
    url: str | None
    published_at: datetime | None


class HandledMark(BaseModel):
    """The change was handled (已处理) for a watch or for a tag, by whom, when, with a note."""

    watch: str | None = Field(description="The watch it was handled for (or null: a tag).")
    tag: str | None = Field(description="The tag it was handled for (or null: a watch).")
    by: str
    at: datetime
    note: str


class Change(BaseModel):
    """A rule change on the timeline."""

    uid: str = Field(description="Stable identity: the calendar UID and the webhook event id.")
    rule: str
    rule_key: str
    platform: str | None
    kind: str = Field(description="consultation | new | amendment | repeal")
    title: str
    announced_on: date | None = Field(description="公示: the day the change was announced.")
    effective_on: date | None = Field(description="生效: the day it takes effect.")
    effective_at: str | None = Field(description="Time of day it takes effect, HH:MM.")
    tentative: bool = Field(description="The date is only expected (预计).")
    status: str = Field(
        description="active | withdrawn (by the platform) | merged (into another change) | "
        "deleted (a misreading); only active changes are listed"
    )
    revision: int = Field(
        description="Raised each time the effective date moves and when the change leaves "
        "the timeline (the calendar event's SEQUENCE)."
    )
    postponed_from: date | None
    days_left: int | None = Field(description="Days until 生效, in the service time zone.")
    without_year: str | None = Field(
        default=None,
        description='Days a source names but gives no year for ("12月1日, 12月15日"), while '
        "the change lacks a date: give that notice a publish time to place them.",
    )
    sources: list[Source]
    handled: list[HandledMark] = Field(
        default=[], description="The watches and tags it is marked handled for."
    )


class Notice(BaseModel):
    id: int = Field(description="What a split names the source by.")
    title: str
    url: str | None
    published_at: datetime | None
    text: str
    origin: str
    problem: str | None


class Delivery(BaseModel):
    attempt: int
    started_at: datetime
    duration_ms: int
    outcome: str = Field(description="delivered | retry | failed")
    status_code: int | None
    reply: str | None
    error: str | None


ReminderShow = Literal["pending", "sent", "failed"]


class Reminder(BaseModel):
    uid: str = Field(description="The event id receivers see (webhook-id).")
    change_uid: str
    rule_key: str
    channel: str
    kind: str = Field(description="announced | lead | changed")
    lead_days: int | None
    due_at: datetime
    effective_on: date | None
    status: str = Field(
        description="pending | sending | sent | dead | cancelled | coalesced | missed"
    )
    attempts: int
    reason: str | None
    sent_at: datetime | None


class ReminderWithDeliveries(Reminder):
    deliveries: list[Delivery]


class Revision(BaseModel):
    """A correction someone made to the change."""

    at: datetime
    actor: str
    action: str = Field(description="edit | merge | merged | split | delete")
    reason: str
    detail: dict[str, Any] = Field(
        description='For an edit {"changed": {field: [before, after]}}; for a merge, a split '
        "or a change merged away, the uid of the other change."
    )


class ChangeDetail(Change):
    """A change with the notices it was read from, its reminders and their deliveries, and
    the corrections people made to it."""

    summary: str
    notices: list[Notice]
    reminders: list[ReminderWithDeliveries]
    history: list[Revision]


_Reason = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        pattern=r"\S",
        examples=["公告写的是 12 月 15 日，误读为 12 月 5 日"],
    ),
]


class CorrectionIn(_In):
    """The fields to correct (only those sent change; ``null`` clears a date) and why."""

    announced_on: Annotated[date | None, Written] = Field(
        default=None, ge=EARLIEST, le=LATEST, json_schema_extra=_IN_RANGE
    )
    effective_on: Annotated[date | None, Written] = Field(
        default=None, ge=EARLIEST, le=LATEST, json_schema_extra=_IN_RANGE
    )
    effective_at: Annotated[time | None, Written] = None
    tentative: StrictBool = False
    rule: str = Field(default="", min_length=1, max_length=KEY_LENGTH - PLATFORM_LENGTH)
    platform: str | None = Field(default=None, max_length=PLATFORM_LENGTH)
    reason: _Reason


class MergeIn(_In):
    """The change to merge into this one (it leaves the timeline), and why."""

    other: str = Field(min_length=1, max_length=64, description="The uid of the duplicate.")
    reason: _Reason


class SplitIn(_In):
    """The source notice to split off into a change of its own, and why."""

    notice: int = Field(ge=1, description="The notice's id, as GET /api/changes/{uid} shows.")
    reason: _Reason


class SplitResult(BaseModel):
    uid: str = Field(description="The new change the source now belongs to.")
    check: str | None = Field(
        description="Set when the old change's dates came from that source: check them."
    )


class ChangeIn(_In):
    """A change entered by hand."""

    # The rule key is the platform and the name: a name this long fits with any platform.
    rule: str = Field(
        min_length=1, max_length=KEY_LENGTH - PLATFORM_LENGTH, examples=["1688商家发货行为管理规范"]
    )
    platform: str | None = Field(default=None, max_length=PLATFORM_LENGTH, examples=["1688"])
    announced_on: Annotated[date | None, Written] = Field(
        default=None, ge=EARLIEST, le=LATEST, json_schema_extra=_IN_RANGE
    )
    effective_on: Annotated[date, Written] = Field(
        ge=EARLIEST, le=LATEST, json_schema_extra=_IN_RANGE
    )
    effective_at: Annotated[time | None, Written] = None
    title: str | None = Field(default=None, max_length=500)
    url: str | None = Field(default=None, max_length=2000)
    tentative: StrictBool = False  # lax 0 or "no" would store a guess nobody made
    note: str | None = Field(
        default=None, max_length=2000, examples=["运营部已确认：12月1日前完成发货时效调整"]
    )


class NoticeIn(_In):
    """An announcement text to read and store."""

    title: str = Field(default="", max_length=500)
    text: str = Field(min_length=1, max_length=TEXT_CAP)
    published_at: Annotated[AwareDatetime | date | None, Written] = Field(
        default=None,
        description="Publish time, ISO 8601 with an offset or a date; relative dates (今日, "
        "3月18日) are read from it.",
        json_schema_extra=_IN_RANGE,
    )

    @field_validator("published_at")
    @classmethod
    def _plausible(cls, value: datetime | date | None) -> datetime | date | None:
        day = value.date() if isinstance(value, datetime) else value
        if day is not None and not EARLIEST <= day <= LATEST:
            raise ValueError(f"must be between {EARLIEST} and {LATEST}")
        return value

    url: str | None = Field(default=None, max_length=2000)


class ChangeResult(BaseModel):
    action: Literal["added", "merged", "moved"]
    uid: str
    rule_key: str
    announced_on: date | None
    effective_on: date | None
    postponed_from: date | None


class IngestResult(BaseModel):
    stored: bool = Field(description="False when the same notice was stored before.")
    changes: list[ChangeResult]
    problem: str | None = Field(description="Why nothing could be read, when that is so.")
    without_year: list[str] = Field(
        default=[],
        description="Days the text names that it gives no year for (12月15日 with no publish "
        "time): its changes lack them; send published_at or a full date to place them.",
    )


# What config.toml takes as a name in a watch: some text, not only spaces.
_Named = Annotated[str, Field(min_length=1, pattern=r"\S")]


class WatchIn(_In):
    """A watch, as a ``[[watch]]`` table of config.toml: it selects something by at least one
    of ``rules``, ``platforms``, ``keywords`` or ``regex``."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [key], "properties": {key: {"minItems": 1}}}
                for key in ("rules", "platforms", "keywords", "regex")
            ]
        }
    )

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    rules: list[_Named] = []
    platforms: list[_Named] = []
    keywords: list[_Named] = []
    regex: list[str] = []
    tags: list[_Named] = []
    channels: list[_Named] = []
    lead_days: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None, json_schema_extra={"uniqueItems": True}
    )
    since: Annotated[date | None, Written] = None
    mention: list[_Named] = Field(
        default=[],
        description='People to @-mention on its chat channels: "all", mobile numbers '
        "(DingTalk, WeCom) or user ids (Feishu, Slack).",
    )
    stop_when_handled: StrictBool = Field(
        default=True,
        description="A change marked handled for this watch (or one of its tags) gets no "
        "more lead reminders from it.",
    )


class Watch(WatchIn):
    source: Literal["config", "api"] = Field(description="config watches cannot be removed here.")


class SourceStatus(BaseModel):
    """A source rulewatch polls, and how its polls have gone."""

    name: str
    kind: str
    every_minutes: int
    enabled: bool
    added_by: Literal["config", "api"] = Field(description="config sources cannot be removed here.")
    state: Literal["ok", "failing", "waiting", "disabled"]
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    failures: int = Field(description="Polls failed in a row.")
    items_seen: int
    unreadable: int = Field(description="Items kept with the reason they could not be read.")
    retrying: int = Field(
        description="Items that failed in a way that may pass (a 5xx, a timeout), read again "
        "at the next polls before they are kept as unreadable."
    )


class Problem(BaseModel):
    """What went wrong, for a person to read."""

    detail: str


class Health(BaseModel):
    status: str
    store: str
    scheduler: str
    next_dispatch: datetime | None
    warnings: list[str] = Field(
        default=[], description="What works but may not as meant (a year with no holidays)."
    )
    sources: dict[str, str] = Field(
        default={}, description="Each source's state: ok, failing, waiting or disabled."
    )


class AuditEntry(BaseModel):
    """One write someone made."""

    at: datetime = Field(description="When it was stored.")
    actor: str = Field(description='The [[users]] name, or "api" for the [api] token.')
    action: str = Field(description='What was done: "notice.add", "watch.remove", …')
    target: str = Field(description="What it was done to.")
    detail: dict[str, Any] = Field(description="What was sent, without secrets.")


class HandledIn(_In):
    """Mark a change handled for one watch or one tag (give exactly one), with a note."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["watch"]}, {"required": ["tag"]}]}
    )

    # Not nullable in the schema: leave the other one out.
    # The lengths on the text alone: on the union pydantic would measure a null as well.
    watch: Annotated[str, Field(min_length=1, max_length=64)] | SkipJsonSchema[None] = None
    tag: Annotated[str, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = None
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _one_scope(self) -> HandledIn:
        if (self.watch is None) == (self.tag is None):
            raise ValueError("give either watch or tag, not both")
        return self


class Retried(BaseModel):
    """The reminders put back in the outbox."""

    retried: list[str] = Field(description="Their uids; sent at the next tick.")
