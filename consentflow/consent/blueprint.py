"""The consent admin blueprint, shared by its view modules (views.py, mailing_views.py)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("consent", __name__)
