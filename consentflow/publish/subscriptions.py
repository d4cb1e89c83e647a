"""Subscribes the publication side to domain events (imported by publish.views)."""

from __future__ import annotations

from consentflow.events import PurposesWithdrawn, subscribe
from consentflow.publish.takedown import on_purposes_withdrawn


def register() -> None:
    """Idempotent: ``subscribe`` ignores a handler that is already registered."""
    subscribe(PurposesWithdrawn, on_purposes_withdrawn)


register()
