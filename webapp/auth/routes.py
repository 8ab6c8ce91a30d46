"""Login (rate-limited per username and address), logout and password change."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from webapp import clock
from webapp.auth import bp
from webapp.auth.forms import LoginForm, LogoutForm, PasswordChangeForm
from webapp.exceptions import AuthenticationError, InvalidInputError, LoginLockedError
from webapp.extensions import db
from webapp.security import (
    client_address,
    failure_counter,
    is_safe_redirect_target,
    login_throttle_policy,
)
from webapp.services import accounts
from webapp.services.tokens import end_login_session, start_login_session


def _next_target() -> str:
    target = request.args.get("next")
    return target if is_safe_redirect_target(target) else url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(_next_target())
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        config = current_app.config
        try:
            user = accounts.authenticate(
                db.session,
                form.username.data or "",
                form.password.data or "",
                ip_address=client_address(),
                counter=failure_counter(),
                policy=login_throttle_policy(),
                now=clock.now(),
                hash_method=config["PASSWORD_HASH_METHOD"],
            )
        except LoginLockedError as error:
            form.form_errors.append(error.message)
            status = 429
        except AuthenticationError as error:
            form.form_errors.append(error.message)
        else:
            key = start_login_session(
                db.session,
                user,
                now=clock.now(),
                lifetime=config["PERMANENT_SESSION_LIFETIME"],
                ip_address=client_address(),
            )
            # A fresh cookie session: nothing from before the login survives (fixation).
            session.clear()
            session.permanent = True
            login_user(user)
            assert user.get_id() == key
            flash(gettext("Welcome, %(name)s.", name=user.full_name), "success")
            return redirect(_next_target())
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    form = LogoutForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        key = current_user.get_id()
        if key:
            end_login_session(db.session, key, now=clock.now())
        logout_user()
    session.clear()
    flash(gettext("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> str | Response | tuple[str, int]:
    form = PasswordChangeForm()
    if form.validate_on_submit():
        config = current_app.config
        try:
            accounts.change_password(
                db.session,
                current_user._get_current_object(),
                form.current_password.data or "",
                form.new_password.data or "",
                hash_method=config["PASSWORD_HASH_METHOD"],
                min_length=int(config["PASSWORD_MIN_LENGTH"]),
                now=clock.now(),
            )
        except AuthenticationError as error:
            form.current_password.errors = [*form.current_password.errors, error.message]
        except InvalidInputError as error:
            form.new_password.errors = [*form.new_password.errors, error.message]
        else:
            flash(gettext("Your password has been changed."), "success")
            return redirect(url_for("main.index"))
        return render_template("auth/password.html", form=form), 400
    status = 400 if request.method == "POST" else 200
    return render_template("auth/password.html", form=form), status
