"""``sathach certificates``: the operator's certificate commands, ``show CODE`` and ``revoke CODE
--reason TEXT``, on the configured database (``--url`` or ``SATHACH_DATABASE_URL``).

The operator is not scoped. A revocation is audited as the admin pages' is (``certificate.revoke``,
with no actor: the operator), and a certificate is revoked only once. Messages are Vietnamese,
then English, on one line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from webapp.cli.commands._exam_db import URL_OPTION, exam_session

if TYPE_CHECKING:
    from webapp.exceptions import WebappError


@click.group("certificates")
def cli() -> None:
    """Giấy chứng nhận / Certificates (operator commands)."""


def _failure(code: str, error: WebappError) -> click.ClickException:
    """The bilingual one-line message of a failed certificate command."""
    from webapp.exams.certificate_admin import REASON_MAX_LENGTH
    from webapp.exams.certificates import normalize_code
    from webapp.exceptions import NotFoundError

    if isinstance(error, NotFoundError):
        return click.ClickException(
            f"Không có giấy chứng nhận mã {code!r} / No certificate has the code {code!r}"
        )
    if error.code == "already_revoked":
        stored = normalize_code(code)
        return click.ClickException(
            f"Giấy chứng nhận {stored} đã bị thu hồi trước đó, không ghi gì thêm / "
            f"certificate {stored} was already revoked, nothing written"
        )
    if error.code == "reason_missing":
        return click.BadParameter(
            "cần nhập lý do thu hồi / a reason is required", param_hint="--reason"
        )
    if error.code == "reason_too_long":
        return click.BadParameter(
            f"tối đa {REASON_MAX_LENGTH} ký tự / at most {REASON_MAX_LENGTH} characters",
            param_hint="--reason",
        )
    return click.ClickException(f"Lỗi / Error: {error.message}")


@cli.command("show")
@click.argument("code")
@URL_OPTION
def show(code: str, url: str | None) -> None:
    """Xem một giấy chứng nhận / Show the certificate CODE (holder, course, status)."""
    from webapp.exams.certificate_admin import get_certificate_for_actor
    from webapp.exceptions import WebappError

    with exam_session(url) as session:
        try:
            record = get_certificate_for_actor(session, None, code)
        except WebappError as error:
            raise _failure(code, error) from None
    lines = [
        ("mã / code", record.code),
        ("người nhận / holder", f"{record.holder_name} ({record.holder_username})"),
        ("đơn vị / org unit", record.org_unit_name or record.holder_org_unit),
        ("khoá học / course", record.course_id),
        ("ngày cấp / issued", record.issued_at.isoformat(timespec="seconds")),
        ("trạng thái / status", record.status),
    ]
    if record.revoked and record.revoked_at is not None:
        lines.append(("thu hồi / revoked", record.revoked_at.isoformat(timespec="seconds")))
        lines.append(("lý do / reason", record.revoked_reason or ""))
    for label, value in lines:
        click.echo(f"{label:22} {value}")


@cli.command("revoke")
@click.argument("code")
@click.option("--reason", required=True, help="Why the certificate is revoked (kept in the audit).")
@URL_OPTION
def revoke(code: str, reason: str, url: str | None) -> None:
    """Thu hồi một giấy chứng nhận / Revoke the certificate CODE (cannot be undone)."""
    from webapp.exams.certificate_admin import revoke_certificate
    from webapp.exceptions import WebappError

    with exam_session(url) as session:
        try:
            record = revoke_certificate(session, None, code, reason=reason, now=datetime.now(UTC))
        except WebappError as error:
            raise _failure(code, error) from None
    click.echo(
        f"Đã thu hồi giấy chứng nhận {record.code} của {record.holder_name} / "
        f"certificate {record.code} of {record.holder_name} revoked: {record.revoked_reason}"
    )
