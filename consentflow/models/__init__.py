"""All models, imported here so metadata is complete for Alembic and the app."""

from consentflow.models.api import ApiToken
from consentflow.models.audit import AuditEvent
from consentflow.models.base import Base, utcnow
from consentflow.models.consent import (
    DEFAULT_PURPOSES,
    ConsentForm,
    ConsentLink,
    ConsentRecord,
    ConsentRound,
    OutboxMessage,
    SchoolYear,
)
from consentflow.models.face import Face, FaceReview, ReferenceFace
from consentflow.models.person import Guardian, Person, person_guardian
from consentflow.models.photo import Album, Photo, PhotoPurpose
from consentflow.models.publication import FaceRedaction, Publication, TakedownTask
from consentflow.models.school import Board, School
from consentflow.models.signin import AccountLink, RecoveryCode, SignInProvider
from consentflow.models.user import LoginAttempt, Membership, User, UserSession
from consentflow.models.video import VideoTrack

__all__ = [
    "AccountLink", "RecoveryCode", "SignInProvider",
    "Album", "ApiToken", "AuditEvent", "Base", "Board", "ConsentForm", "ConsentLink", "ConsentRecord",
    "ConsentRound", "DEFAULT_PURPOSES", "Face", "FaceRedaction", "FaceReview", "Guardian", "LoginAttempt",
    "Membership", "OutboxMessage", "Person", "Photo", "PhotoPurpose", "Publication",
    "ReferenceFace", "School", "SchoolYear", "TakedownTask", "User", "UserSession", "VideoTrack", "person_guardian",
    "utcnow",
]
