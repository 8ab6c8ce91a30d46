"""``/verify/<code>``: holder, course, date and status of a certificate, for anyone."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from webapp.exams.certificates import normalize_code, verify_certificate
from webapp.exceptions import NotFoundError
from webapp.extensions import db
from webapp.verify import bp


@bp.get("/")
def lookup() -> str | Response:
    """A form to type a code in (GET, so no CSRF token is needed)."""
    code = (request.args.get("code") or "").strip()
    if code:
        return redirect(url_for("verify.certificate", code=normalize_code(code)))
    return render_template("verify/lookup.html")


@bp.get("/<code>")
def certificate(code: str) -> tuple[str, int]:
    try:
        view = verify_certificate(db.session, code)
    except NotFoundError:
        return render_template("verify/certificate.html", view=None, code=code), 404
    return render_template("verify/certificate.html", view=view, code=view.code), 200
