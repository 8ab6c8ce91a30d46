"""The learner's pages: the course dashboard, practice quizzes, the final exam, results and
certificates. Every view requires the learner role; the services check that a session or a
certificate is the learner's own."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "learner",
    __name__,
    url_prefix="/learn",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from webapp.learner import routes  # noqa: E402, F401  (routes attach themselves to bp)
