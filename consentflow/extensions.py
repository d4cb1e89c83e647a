"""Flask extensions, created unbound and attached in ``create_app``."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from consentflow.models.base import Base

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    class _SQLAlchemy(SQLAlchemy):
        # Services take a plain Session; db.session is a scoped_session that
        # proxies every Session method to the session of the current app
        # context. Typing it as the Session it stands for lets mypy check the
        # calls from views, jobs and commands without a cast at each one.
        session: Session  # type: ignore[assignment]

db = cast("_SQLAlchemy", SQLAlchemy(model_class=Base))
migrate = Migrate()
login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()
