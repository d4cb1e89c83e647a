"""consentflow: publish school photos only with the consent that allows it."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from consentflow.config import load_config


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app. Never touches the schema: migrations do that."""
    project_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # Decided before Flask is built: instance/config.py is read relative to
    # it, so an override set afterwards would still read the default folder.
    instance_path = (
        (overrides or {}).get("INSTANCE_PATH")
        or os.environ.get("CONSENTFLOW_INSTANCE_PATH")
        or os.path.join(project_root, "instance")
    )
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path),
        instance_relative_config=True,
        template_folder=os.path.join(project_root, "templates"),
        static_folder=os.path.join(project_root, "consentflow", "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    load_config(app, overrides)

    from consentflow import init

    init.init_database(app)
    init.init_auth(app)
    init.init_i18n(app)
    init.init_security_headers(app)
    init.init_blueprints(app)
    init.init_admin(app)
    init.init_jobs(app)
    init.init_cli(app)
    from consentflow.errors import register_error_handlers

    register_error_handlers(app)
    return app
