"""WSGI entry point: ``gunicorn wsgi:app``."""

from consentflow import create_app

app = create_app()
