"""Purposes grouped as the consent page asks them; their words live in consentflow.labels."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

# One wording of each purpose: the label table's (re-exported for the consent pages).
from consentflow.labels import CHANNEL_LABELS, FACE_MATCHING_LABEL, MEDIUM_LABELS, purpose_label  # noqa: F401
from consentflow.models.consent import CHANNELS, DEFAULT_PURPOSES, FACE_MATCHING, MEDIA

FACE_MATCHING_HELP = _l(
    "The school may compare faces in event photos with a portrait, only to show or blur "
    "the right people. The face data is deleted when you say no."
)


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
