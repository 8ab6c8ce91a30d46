"""The Flask application that delivers exams and hosts the learner, psychometrician, manager and
admin workspaces, its JSON API and the ``sathach`` command line."""

from __future__ import annotations

from webapp.app import create_app

__all__ = ["create_app"]
