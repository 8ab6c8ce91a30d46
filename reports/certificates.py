"""The certificate PDF: holder, course, date, scale score, verification code and a QR code that
points at the public verification page.

:func:`render_certificate_pdf` is a pure function of a :class:`CertificateData` and returns the
PDF bytes. Text is set in DejaVu Sans, the Unicode TrueType font matplotlib ships, so every
Vietnamese letter (ă, ơ, ư, ệ, ỹ...) renders on any viewer without fonts of its own; the QR code
is drawn by segno as a PNG and embedded at a size a phone camera reads from paper.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import matplotlib
import segno
from fpdf import FPDF

#: Minimum pixels per QR module in the embedded image (sharp when printed at ~35 mm).
_QR_MODULE_PIXELS = 8
_QR_SIZE_MM = 38.0


@dataclass(frozen=True)
class CertificateData:
    """What a certificate shows.

    Attributes
    ----------
    code : str
        The unique verification code.
    holder : str
        Full name of the holder.
    org_unit : str
        The holder's org unit (commune or ward, province).
    course_vi, course_en : str
        Course title in Vietnamese and English.
    issued_at : datetime
        When the certificate was issued (timezone-aware).
    scale_score : float
        The scale score of the passing exam.
    verify_url : str
        Absolute URL of the public verification page of ``code``; the QR code encodes it.
    issuer : str
        Who issues the certificate (shown under the title).
    """

    code: str
    holder: str
    org_unit: str
    course_vi: str
    course_en: str
    issued_at: datetime
    scale_score: float
    verify_url: str
    issuer: str = "Chương trình bồi dưỡng kỹ năng số"

    def __post_init__(self) -> None:
        for name in ("code", "holder", "course_vi", "verify_url"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(
                    f"CertificateData.{name} must be a non-empty string, got {value!r}"
                )
        if self.issued_at.tzinfo is None:
            raise ValueError(
                f"CertificateData.issued_at must be timezone-aware, got {self.issued_at!r}"
            )


def dejavu_font_path(bold: bool = False) -> Path:
    """Path of matplotlib's DejaVu Sans TrueType font (regular or bold)."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    if not path.is_file():
        raise FileNotFoundError(f"the font {name} is missing from matplotlib's data at {path}")
    return path


def qr_png(url: str) -> bytes:
    """The QR code of ``url`` as PNG bytes (error correction M, 4-module quiet zone)."""
    qr = segno.make(url, error="m", micro=False)
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=_QR_MODULE_PIXELS, border=4)
    return buffer.getvalue()


def render_certificate_pdf(data: CertificateData) -> bytes:
    """Render the certificate of ``data`` as an A4 landscape PDF.

    Parameters
    ----------
    data : CertificateData
        The certificate's content.

    Returns
    -------
    bytes
        The PDF document.
    """
    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    pdf.set_title(f"Chứng nhận {data.code}")
    pdf.set_author(data.issuer)
    pdf.set_creator("sathach")
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", "", str(dejavu_font_path()))
    pdf.add_font("DejaVu", "B", str(dejavu_font_path(bold=True)))
    pdf.add_page()
    width = pdf.w
    pdf.set_draw_color(20, 70, 140)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, width - 20, pdf.h - 20)
    pdf.set_line_width(0.3)
    pdf.rect(13, 13, width - 26, pdf.h - 26)

    def centered(text: str, size: float, *, bold: bool = False, gap: float = 2.0) -> None:
        pdf.set_font("DejaVu", "B" if bold else "", size)
        pdf.set_x(20)
        pdf.multi_cell(width - 40, size * 0.5, text, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    pdf.set_y(24)
    pdf.set_text_color(20, 70, 140)
    centered("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12, bold=True, gap=0)
    centered("Độc lập - Tự do - Hạnh phúc", 11, gap=6)
    centered("GIẤY CHỨNG NHẬN", 28, bold=True, gap=0)
    centered("CERTIFICATE OF COMPLETION", 12, gap=6)
    pdf.set_text_color(0, 0, 0)
    centered("Chứng nhận ông/bà · This certifies that", 11, gap=1)
    centered(data.holder, 22, bold=True, gap=0)
    if data.org_unit:
        centered(data.org_unit, 11, gap=4)
    centered("đã hoàn thành và đạt bài kiểm tra cuối khóa · has completed and passed", 11, gap=1)
    centered(data.course_vi, 15, bold=True, gap=0)
    if data.course_en:
        centered(data.course_en, 11, gap=4)
    issued = data.issued_at.strftime("%d/%m/%Y")
    centered(
        f"Điểm thang đo · Scale score: {data.scale_score:.0f}    Ngày cấp · Issued: {issued}",
        11,
        gap=2,
    )
    centered(data.issuer, 10, gap=0)

    qr_x = width - 20 - _QR_SIZE_MM
    qr_y = pdf.h - 20 - _QR_SIZE_MM - 6
    pdf.image(io.BytesIO(qr_png(data.verify_url)), x=qr_x, y=qr_y, w=_QR_SIZE_MM, h=_QR_SIZE_MM)
    pdf.set_font("DejaVu", "", 9)
    pdf.set_xy(22, pdf.h - 40)
    pdf.multi_cell(
        qr_x - 30,
        4.5,
        f"Mã xác minh · Verification code: {data.code}\n"
        f"Kiểm tra tại · Verify at: {data.verify_url}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
