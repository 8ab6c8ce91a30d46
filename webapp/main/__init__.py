"""The home page (each role's starting points) and the health check."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("main", __name__, template_folder="templates")

from webapp.main import routes  # noqa: E402, F401  (routes attach themselves to bp)
