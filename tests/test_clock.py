"""Beijing time for report timestamps, whatever the machine's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from riskml.clock import BEIJING, beijing_now, beijing_now_text


def test_a_utc_evening_is_the_next_morning_in_beijing() -> None:
    assert beijing_now_text(datetime(2025, 12, 31, 20, 5, tzinfo=UTC)) == "2026-01-01 04:05 UTC+8"


def test_any_zone_converts_and_naive_times_are_refused() -> None:
    new_york = timezone(timedelta(hours=-5))
    assert beijing_now_text(datetime(2025, 6, 1, 9, 0, tzinfo=new_york)) == "2025-06-01 22:00 UTC+8"
    with pytest.raises(ValueError, match="time-zone aware"):
        beijing_now_text(datetime(2025, 6, 1, 9, 0))


def test_now_is_eight_hours_ahead_of_utc() -> None:
    now = beijing_now()
    assert now.utcoffset() == timedelta(hours=8) and now.tzinfo is BEIJING
    assert abs((now - datetime.now(UTC)).total_seconds()) < 60
