"""What the exam pages and API share in a request: the process's pool cache and the absolute
URL of a certificate's public verification page."""

from __future__ import annotations

from flask import current_app, url_for

from webapp.exams.pools import PoolCache

_CACHE_KEY = "sathach.pool_cache"


def pool_cache() -> PoolCache:
    """The pool cache of this app in this process (one per app: ids are per database)."""
    cache = current_app.extensions.get(_CACHE_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(_CACHE_KEY, PoolCache())
    return cache


def verify_url(code: str) -> str:
    """The absolute URL of ``/verify/<code>`` (what the certificate's QR code encodes)."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return f"{str(base).rstrip('/')}{url_for('verify.certificate', code=code)}"
    return url_for("verify.certificate", code=code, _external=True)
