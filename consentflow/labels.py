"""Human labels for stored codes (states, statuses, channels), translated lazily.

Templates show ``value|label("photo_state")`` and ``value|tone("photo_state")``
(a CSS badge class) instead of raw codes; no wording lives in templates.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone

from consentflow.models.consent import FACE_MATCHING

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "pr": _l("PR and communication"),
    "teacher": _l("Teacher"),
    "privacy": _l("Privacy officer"),
}
CHANNEL_LABELS = {
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
    "role": ROLE_LABELS,
    # What publication does with a face (consentflow.photos.decisions.Action).
    "decision": {
        "show": _l("shown"),
        "blur_no_consent": _l("blurred: no consent"),
        "blur_unknown": _l("blurred: not identified"),
        "not_a_face": _l("not a face"),
    },
    # Why a face is shown or blurred (photos.decisions.FaceDecision.reason / the snapshot's "basis").
    "decision_basis": {
        "consent": _l("consent on file"),
        "no_consent": _l("no consent"),
        "external_adult": _l("adult from outside the school"),
        "external_adult_without_note": _l("adult from outside the school, without a note"),
        "awaiting_confirmation": _l("waiting for a reviewer"),
        "not_person": _l("not a person of the school"),
        "suggested": _l("suggested, not confirmed"),
        "unknown": _l("not identified"),
        "ambiguous": _l("not identified"),
        "weak": _l("not identified"),
    },
    "person_kind": {"student": _l("Student"), "staff": _l("Staff")},
    "signer_kind": {"self": _l("the person themself"), "guardian": _l("parent or guardian")},
    # How consent was given (ConsentRecord.method); the evidence kind.
    "method": {"digital": _l("via the personal link"), "paper": _l("on a paper form"),
               "in_person": _l("in person at school")},
    # A reviewer's decision on a face (FaceReview.kind).
    "review_kind": {
        "confirm": _l("confirmed"),
        "assign": _l("assigned by a reviewer"),
        "not_person": _l("not this person"),
        "not_face": _l("not a face"),
        "external_adult": _l("adult from outside the school"),
    },
    "biometric_mode": {
        "all": _l("everyone (school's legitimate interest)"),
        "consented": _l("only people who consented to face recognition"),
        "off": _l("off"),
    },
    "locale": {"nl": "Nederlands", "en": "English"},
    # consentflow.publish.state.PUBLICATION_STATES
    "publication_state": {
        "published": _l("Published"),
        "removal_pending": _l("Removal pending"),
        "taken_down": _l("Taken down"),
    },
    # What an audit event records (AuditEvent.action); tests/unit/test_audit_labels.py
    # checks that every action the code writes has one.
    "audit_action": {
        "album.create": _l("Album created"),
        "album.exported": _l("Album exported"),
        "api_token.create": _l("API key created"),
        "api_token.revoke": _l("API key revoked"),
        "auth.login": _l("Signed in"),
        "auth.login_failed": _l("Sign-in failed"),
        "auth.logout": _l("Signed out"),
        "auth.recovery_codes_new": _l("New recovery codes made"),
        "auth.second_factor_failed": _l("Wrong sign-in code"),
        "auth.second_factor_off": _l("Second sign-in step switched off"),
        "auth.second_factor_ok": _l("Sign-in code accepted"),
        "auth.second_factor_on": _l("Second sign-in step switched on"),
        "auth.session_end": _l("Session ended"),
        "auth.sessions_end_all": _l("All sessions ended"),
        "auth.invite_sent": _l("Invitation sent"),
        "auth.invite_used": _l("Invitation used"),
        "auth.reset_sent": _l("Password reset link sent"),
        "auth.reset_used": _l("Password reset link used"),
        "auth.enrol_sent": _l("Second-factor set-up link sent"),
        "auth.enrol_used": _l("Second-factor set-up link used"),
        "consent.evidence_view": _l("Consent evidence viewed"),
        "consent.record": _l("Consent recorded"),
        "consent.self_service_view": _l("Consent viewed through the personal link"),
        "consent_form.create": _l("Consent form created"),
        "consent_form.update": _l("Consent form changed"),
        "consent_form.delete": _l("Consent form deleted"),
        "consent_link.own_link": _l("Own consent link sent"),
        "consent_link.resend": _l("Consent link sent again"),
        "consent_link.revoke": _l("Consent link revoked"),
        "consent_link.send": _l("Consent link sent"),
        "consent_round.close": _l("Consent round closed"),
        "consent_round.newcomers": _l("Consent asked of newcomers"),
        "consent_round.open": _l("Consent round opened"),
        "consent_round.remind": _l("Reminder sent"),
        "consent_round.reminders": _l("Reminders sent"),
        "coverage.export_counts": _l("Consent overview exported"),
        "coverage.export_remind": _l("List of missing answers exported"),
        "face.confirm": _l("Face confirmed"),
        "face.assign": _l("Face assigned to a person"),
        "face.not_person": _l("Face marked as not this person"),
        "face.not_face": _l("Marked as not a face"),
        "face.external_adult": _l("Face marked as an adult from outside the school"),
        "face.drawn": _l("Face drawn by a reviewer"),
        "face.redaction_set": _l("Redaction of a face chosen"),
        "face.review_undone": _l("Review decision undone"),
        "guardian.create": _l("Parent or guardian added"),
        "guardian.update": _l("Parent or guardian changed"),
        "guardian.delete": _l("Parent or guardian deleted"),
        "person.create": _l("Person added"),
        "person.update": _l("Person changed"),
        "person.delete": _l("Person deleted"),
        "person.erased": _l("Person's data erased"),
        "person.left": _l("Person marked as left"),
        "person.subject_access_export": _l("Data of a person exported (right of access)"),
        "photo.blocked": _l("Photo blocked for a channel"),
        "photo.unblocked": _l("Photo unblocked for a channel"),
        "photo.retry": _l("Photo processing tried again"),
        "photo.failed": _l("Photo could not be processed"),
        "photo.processed": _l("Photo processed"),
        "photo.publication_failed": _l("Publication failed"),
        "photo.publication_refused": _l("Publication refused"),
        "photo.publication_requested": _l("Publication requested"),
        "photo.published": _l("Photo published"),
        "photo.rejected": _l("Photo rejected"),
        "photo.reprocess": _l("Photo processed again"),
        "photo.sent_back": _l("Photo sent back for review"),
        "photo.upload": _l("Photo uploaded"),
        "photos.match_again": _l("Faces matched again"),
        "publication.downloaded": _l("Publication downloaded"),
        "record.create": _l("Record created"),
        "record.update": _l("Record changed"),
        "record.delete": _l("Record deleted"),
        "reference_face.enrol": _l("Reference portrait added"),
        "reference_face.purge": _l("Reference portraits deleted"),
        "retention.applied": _l("Retention periods applied"),
        "roster.import": _l("Roster imported"),
        "roster.leavers_confirmed": _l("Leavers confirmed"),
        "school.update": _l("School settings changed"),
        "school_year.create": _l("School year created"),
        "signin.provider_saved": _l("School sign-in settings saved"),
        "takedown.done": _l("Takedown done"),
        "takedown.opened": _l("Takedown task opened"),
        "user.create": _l("User created"),
        "user.update": _l("User changed"),
        "user.grant_role": _l("Role granted"),
        "user.revoke_role": _l("Role revoked"),
        "user.set_password": _l("Password set"),
        "video.audio_wish": _l("Sound wish recorded for a video"),
        "video.leak": _l("Recognisable face found in a rendered video"),
        "video.processed": _l("Video processed"),
        "video.published": _l("Video published"),
    },
    # What an audit event is about (AuditEvent.object_type).
    "object_type": {
        "album": _l("Album"),
        "api_token": _l("API key"),
        "consent_form": _l("Consent form"),
        "consent_link": _l("Consent link"),
        "consent_record": _l("Consent record"),
        "consent_round": _l("Consent round"),
        "face": _l("Face"),
        "person": _l("Person"),
        "photo": _l("Photo or video"),
        "publication": _l("Publication"),
        "reference_face": _l("Reference portrait"),
        "school": _l("School"),
        "school_year": _l("School year"),
        "signin_provider": _l("School sign-in"),
        "takedown_task": _l("Takedown task"),
        "user": _l("User"),
        "guardian": _l("Parent or guardian"),
        "record": _l("Data record"),
    },
    # consentflow.video.decode.VideoRejected codes (same English as its MESSAGES).
    "video_rejected": {
        "empty": _l("The video file is empty."),
        "unreadable": _l("The file is not a video that can be read (MP4, MOV, WebM, MKV or AVI)."),
        "container_not_allowed": _l("This video format is not accepted (use MP4, MOV, WebM, MKV or AVI)."),
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
    "publication_state": {"published": "ok", "removal_pending": "warn", "taken_down": "bad"},
    "import_status": {"created": "ok", "updated": "ok", "conflict": "warn", "rejected": "bad", "left": "warn",
                      "gone": "warn"},
}


def label(value: str, kind: str) -> str:
    """The translated label of a code; unknown codes are shown as they are."""
    return str(LABELS.get(kind, {}).get(value, value))


def role_label(role: str) -> str:
    """A staff role as people call it ("teacher" -> "Docent")."""
    return label(role, "role")


def tone(value: str, kind: str) -> str:
    """The badge class (ok / warn / bad / empty) of a code."""
    return TONES.get(kind, {}).get(value, "")


def _as_datetime(value: datetime | str | None) -> datetime | None:
    # Exports keep ISO strings (data.json); their readable page shows them like any other time.
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return value


def local_dt(value: datetime | str | None) -> str:
    """A stored UTC time as the school sees it (BABEL_DEFAULT_TIMEZONE, Europe/Amsterdam)."""
    moment = _as_datetime(value)
    return to_user_timezone(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def local_date_text(value: datetime | str | None) -> str:
    """The school's calendar date of a stored UTC time (23:30 UTC is already tomorrow here)."""
    moment = _as_datetime(value)
    return to_user_timezone(moment).strftime("%Y-%m-%d") if moment else ""


# Names a publication's snapshot stores for faces without a person (publish.service._snapshot).
SNAPSHOT_NAMES = {"unknown, blurred": _l("unknown, blurred"), "external adult": _l("external adult")}


def snapshot_name(name: str | None) -> str:
    """A snapshot's name in words: a person's name as it is, the placeholders translated."""
    return str(SNAPSHOT_NAMES.get(name or "", name or ""))


FACE_MATCHING_LABEL = _l("Face recognition in school photos")


def purpose_label(key: str) -> str:
    """A consent purpose in words ("social_media.photo" -> "Sociale media van de school — Foto's").

    Unknown keys are shown as they are (a form may ask about a purpose added later).
    """
    if key == FACE_MATCHING:
        return str(FACE_MATCHING_LABEL)
    channel, _, medium = key.partition(".")
    if channel in CHANNEL_LABELS and medium in MEDIUM_LABELS:
        return f"{CHANNEL_LABELS[channel]} — {MEDIUM_LABELS[medium]}"
    return key


def register_filters(app: Flask) -> None:
    app.add_template_filter(label, "label")
    app.add_template_filter(tone, "tone")
    app.add_template_filter(local_dt, "local_dt")
    app.add_template_filter(local_date_text, "local_date_text")
    app.add_template_filter(purpose_label, "purpose_label")
    app.add_template_filter(snapshot_name, "snapshot_name")
