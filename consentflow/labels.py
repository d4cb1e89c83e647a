"""Human labels for stored codes (states, statuses, channels), translated lazily.

Templates show ``value|label("photo_state")`` and ``value|tone("photo_state")``
(a CSS badge class) instead of raw codes; no wording lives in templates.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone

CHANNEL_LABELS = {
    "role": {
        "admin": _l("Administrator"),
        "pr": _l("PR and communication"),
        "teacher": _l("Teacher"),
        "privacy": _l("Privacy officer"),
    },
    "website": _l("School website"),
    "social_media": _l("School social media accounts"),
    "newsletter": _l("Newsletter"),
    "prospectus": _l("Prospectus and school guide"),
    "parent_portal": _l("Closed parent portal"),
    "press": _l("Press (newspapers, local TV)"),
}
MEDIUM_LABELS = {"photo": _l("Photos"), "video": _l("Video")}

LABELS = {
    "photo_state": {
        "uploaded": _l("Waiting"),
        "processing": _l("Processing"),
        "needs_review": _l("Ready for review"),
        "approved": _l("Approved"),
        "published": _l("Published"),
        "rejected": _l("Rejected"),
        "failed": _l("Failed"),
        "withdrawn": _l("Withdrawn"),
    },
    "purpose_status": {
        "pending": _l("not yet approved"),
        "approved": _l("Approved"),
        "blocked": _l("Blocked"),
        "publishing": _l("Being published"),
    },
    "link_state": {
        "active": _l("active"),
        "revoked": _l("revoked"),
        "closed": _l("round closed"),
        "expired": _l("expired"),
    },
    "import_status": {
        "created": _l("created"),
        "updated": _l("updated"),
        "unchanged": _l("unchanged"),
        "conflict": _l("conflict: check by hand"),
        "rejected": _l("rejected"),
        "left": _l("marked as left"),
        "gone": _l("gone according to the file"),
    },
    "channel": CHANNEL_LABELS,
    # consentflow.video.decode.VideoRejected codes (same English as its MESSAGES).
    "video_rejected": {
        "empty": _l("The video file is empty."),
        "unreadable": _l("The file is not a video that can be read (MP4, MOV, WebM or MKV)."),
        "container_not_allowed": _l("This video format is not accepted (use MP4, MOV, WebM or MKV)."),
        "no_video": _l("The file contains no video track."),
        "codec_not_allowed": _l("The video is encoded in a format that is not accepted "
                                "(use H.264, HEVC, VP8, VP9 or AV1)."),
        "too_large_resolution": _l("The video's resolution is larger than 3840x2160 (4K)."),
        "frame_rate": _l("The video's frame rate is missing or higher than allowed."),
        "too_long": _l("The video is longer than allowed."),
        "bitrate": _l("The video's bitrate is higher than allowed."),
        "damaged": _l("The video is damaged and cannot be decoded completely."),
        "too_slow": _l("The video took too long to decode and was stopped."),
    },
}

TONES = {
    "photo_state": {"needs_review": "warn", "approved": "ok", "published": "ok",
                    "rejected": "bad", "failed": "bad", "withdrawn": "bad"},
    "purpose_status": {"approved": "ok", "blocked": "bad"},
    "link_state": {"active": "ok", "revoked": "bad", "closed": "bad", "expired": "bad"},
    "import_status": {"created": "ok", "updated": "ok", "conflict": "warn", "rejected": "bad", "left": "warn",
                      "gone": "warn"},
}


def label(value: str, kind: str) -> str:
    """The translated label of a code; unknown codes are shown as they are."""
    return str(LABELS.get(kind, {}).get(value, value))


def tone(value: str, kind: str) -> str:
    """The badge class (ok / warn / bad / empty) of a code."""
    return TONES.get(kind, {}).get(value, "")


def local_dt(value: datetime | None) -> str:
    """A stored UTC time as the school sees it (BABEL_DEFAULT_TIMEZONE, Europe/Amsterdam)."""
    return to_user_timezone(value).strftime("%Y-%m-%d %H:%M") if value else ""


def local_date(value: datetime | None) -> str:
    """The school's calendar date of a stored UTC time (23:30 UTC is already tomorrow here)."""
    return to_user_timezone(value).strftime("%Y-%m-%d") if value else ""


def register_filters(app: Flask) -> None:
    app.add_template_filter(label, "label")
    app.add_template_filter(tone, "tone")
    app.add_template_filter(local_dt, "local_dt")
    app.add_template_filter(local_date, "local_date")
