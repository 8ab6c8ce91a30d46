"""Account administration: accounts one by one and from CSV, deactivation, org units,
certificates (search and revocation), audit log.

Every view requires the admin role; the services it calls check the org-unit scope.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

from webapp.admin import routes  # noqa: E402, F401  (routes attach themselves to bp)
