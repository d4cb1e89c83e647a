"""Times are shown as the school sees them (Europe/Amsterdam), not in UTC."""

from __future__ import annotations

from datetime import datetime, timezone

from consentflow.labels import local_date_text, local_dt


def test_late_evening_utc_is_already_tomorrow_at_a_dutch_school(app) -> None:
    late = datetime(2026, 11, 21, 23, 30, tzinfo=timezone.utc)
    with app.test_request_context("/"):
        assert local_date_text(late) == "2026-11-22"
        assert local_dt(late) == "2026-11-22 00:30"
        summer = datetime(2026, 7, 1, 22, 15, tzinfo=timezone.utc)
        assert local_dt(summer) == "2026-07-02 00:15"  # CEST, UTC+2
        assert local_dt(None) == ""
