"""The public certificate verification page ``/verify/<code>`` (no login)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("verify", __name__, url_prefix="/verify", template_folder="templates")

from webapp.verify import routes  # noqa: E402, F401  (routes attach themselves to bp)
