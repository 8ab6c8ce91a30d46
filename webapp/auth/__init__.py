"""Login, logout and password change."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")

from webapp.auth import routes  # noqa: E402, F401  (routes attach themselves to bp)
