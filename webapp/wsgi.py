"""The WSGI entry point for a deployment: ``gunicorn 'webapp.wsgi:app'``.

Configuration comes from the ``SATHACH_*`` environment; without ``SATHACH_SECRET_KEY`` the import
fails, so a server never runs with a missing or made-up key.
"""

from __future__ import annotations

from webapp.app import create_app
from webapp.config import check_production_config
from webapp.worker import prepare_worker_interpreter

app = create_app()
check_production_config(app.config)
prepare_worker_interpreter()
