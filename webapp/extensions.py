"""Flask extensions, created unbound here and bound in :func:`webapp.app.create_app`.

Nothing here touches a database or an app at import time: :class:`Database` builds its engine in
``init_app`` and keeps it in ``app.extensions``, so several apps (tests, two "workers" on one
database) live side by side in one process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from flask.globals import app_ctx
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from item_bank.db import make_engine

_EXTENSION_KEY = "sathach.db"


@dataclass(frozen=True)
class _DatabaseState:
    engine: Engine
    sessions: scoped_session[Session]


def _app_context_identity() -> int:
    # One session per application context, i.e. per request or CLI command.
    return id(app_ctx._get_current_object())


class Database:
    """A scoped SQLAlchemy session per app context, on the engine of ``DATABASE_URL``.

    ``db.session`` is the current request's session; it is closed when the request ends.
    Objects stay usable after a commit (``expire_on_commit=False``) so templates can render them.
    """

    def init_app(self, app: Flask) -> None:
        options: dict[str, Any] = dict(app.config.get("DATABASE_ENGINE_OPTIONS") or {})
        engine = make_engine(app.config["DATABASE_URL"], **options)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        app.extensions[_EXTENSION_KEY] = _DatabaseState(
            engine=engine, sessions=scoped_session(factory, scopefunc=_app_context_identity)
        )
        app.teardown_appcontext(self._remove_session)

    @staticmethod
    def _state(app: Flask | None = None) -> _DatabaseState:
        target = app if app is not None else current_app
        try:
            return target.extensions[_EXTENSION_KEY]
        except KeyError:
            raise RuntimeError("the Database extension is not initialised on this app") from None

    @property
    def session(self) -> Session:
        """The session of the current app context (created on first use)."""
        return self._state().sessions()

    def engine(self, app: Flask | None = None) -> Engine:
        """The engine of ``app`` (default: the current app)."""
        return self._state(app).engine

    def _remove_session(self, _exception: BaseException | None) -> None:
        self._state().sessions.remove()


db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
