"""How many commits this process has made on each engine: a reader that caches what it read
(the calendar feed) asks :func:`commits` to know, at the cost of a dict look-up, whether its
own process may have changed the store since.

Counted after each session commit, never before it: a reader that sees the count move and
reads again finds the commit's rows. Every write of the store goes through a session
(store/db.py's ``session_scope`` and ``committed``); a commit that wrote nothing is counted
too, which costs a reader one needless read, never a stale one. A session that writes only
what no reader caches (the feed's own stored events) says so with :data:`UNCOUNTED` in its
``info`` and is not counted.
"""

from __future__ import annotations

import threading
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

_counts: WeakKeyDictionary[Engine, int] = WeakKeyDictionary()
_lock = threading.Lock()
UNCOUNTED = "rulewatch.uncounted"  # Session(info={UNCOUNTED: True})


def commits(engine: Engine) -> int:
    """The number of commits this process has made on ``engine`` so far."""
    return _counts.get(engine, 0)


@event.listens_for(Session, "after_commit")
def _counted(session: Session) -> None:
    if session.info.get(UNCOUNTED):
        return
    bind = session.bind
    engine = bind.engine if bind is not None else None
    if engine is not None:
        with _lock:
            _counts[engine] = _counts.get(engine, 0) + 1
