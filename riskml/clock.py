"""Beijing time for what people read: reports are for cadres in China, whatever the server's zone.

China keeps one time zone, UTC+8, without daylight saving, so a fixed offset is exact and needs no
time-zone database on the machine.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["BEIJING", "beijing_now", "beijing_now_text"]

BEIJING = timezone(timedelta(hours=8), name="UTC+8")
"""China Standard Time (北京时间)."""


def beijing_now() -> datetime:
    """The current time in Beijing (time-zone aware)."""
    return datetime.now(BEIJING)


def beijing_now_text(now: datetime | None = None) -> str:
    """``YYYY-MM-DD HH:MM UTC+8``: when a report was generated, in Beijing time.

    ``now`` (any aware datetime) is converted; a naive one is refused, since its zone is unknown.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> beijing_now_text(datetime(2025, 12, 31, 20, 5, tzinfo=timezone.utc))
    '2026-01-01 04:05 UTC+8'
    """
    if now is None:
        now = beijing_now()
    elif now.tzinfo is None:
        raise ValueError("beijing_now_text needs a time-zone aware datetime; got a naive one.")
    return now.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M %Z")
