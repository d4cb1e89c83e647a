"""Human labels for purpose keys ("website.photo", "face_matching", ...)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from consentflow.labels import CHANNEL_LABELS, MEDIUM_LABELS
from consentflow.models.consent import CHANNELS, DEFAULT_PURPOSES, FACE_MATCHING, MEDIA

FACE_MATCHING_LABEL = _l("Face recognition in school photos")
FACE_MATCHING_HELP = _l(
    "The school may compare faces in event photos with a portrait, only to show or blur "
    "the right people. The face data is deleted when you say no."
)


def purpose_label(key: str) -> str:
    """A readable label for a purpose key; unknown keys are shown as they are."""
    if key == FACE_MATCHING:
        return str(FACE_MATCHING_LABEL)
    channel, _, medium = key.partition(".")
    if channel in CHANNEL_LABELS and medium in MEDIUM_LABELS:
        return f"{CHANNEL_LABELS[channel]} — {MEDIUM_LABELS[medium]}"
    return key


@dataclass(frozen=True)
class PurposeGroup:
    """One channel with its media, or face matching alone: one block on the consent page."""

    key: str
    label: str
    help: str
    items: tuple[tuple[str, str], ...]  # (purpose key, medium label)


def group_purposes(purposes: list[str] | tuple[str, ...]) -> list[PurposeGroup]:
    """Purposes grouped by channel, in the order of the defaults."""
    wanted = list(purposes)
    groups: list[PurposeGroup] = []
    for channel in CHANNELS:
        items = tuple((f"{channel}.{m}", str(MEDIUM_LABELS[m])) for m in MEDIA
                      if f"{channel}.{m}" in wanted)
        if items:
            groups.append(PurposeGroup(channel, str(CHANNEL_LABELS[channel]), "", items))
    known = set(DEFAULT_PURPOSES)
    for key in wanted:
        if key not in known:
            groups.append(PurposeGroup(key, key, "", ((key, key),)))
    if FACE_MATCHING in wanted:
        groups.append(PurposeGroup(FACE_MATCHING, str(FACE_MATCHING_LABEL), str(FACE_MATCHING_HELP),
                                   ((FACE_MATCHING, str(FACE_MATCHING_LABEL)),)))
    return groups
