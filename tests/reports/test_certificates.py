"""The certificate PDF: Vietnamese text extracted back exactly, the QR image encodes the verify
URL module for module, and bad input is refused."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pypdf
import pytest
import segno

from reports.certificates import CertificateData, render_certificate_pdf

VERIFY_URL = "https://sathach.example.vn/verify/K7Q2-9XHM-T4PD"


def _data(**changes: object) -> CertificateData:
    values: dict[str, object] = {
        "code": "K7Q2-9XHM-T4PD",
        "holder": "Nguyễn Thị Hương Giang",
        "org_unit": "Phường Đống Đa, Hà Nội",
        "course_vi": "Bồi dưỡng kiến thức, kỹ năng số cho cán bộ, công chức cấp xã",
        "course_en": "Digital knowledge and skills for commune-level officials",
        "issued_at": datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        "scale_score": 547.4,
        "verify_url": VERIFY_URL,
    }
    values.update(changes)
    return CertificateData(**values)  # type: ignore[arg-type]


def _reader(pdf: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(pdf))


def test_the_pdf_is_one_page_and_its_vietnamese_text_reads_back() -> None:
    pdf = render_certificate_pdf(_data())
    assert pdf.startswith(b"%PDF-")
    reader = _reader(pdf)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for expected in (
        "GIẤY CHỨNG NHẬN",
        "Nguyễn Thị Hương Giang",
        "Phường Đống Đa, Hà Nội",
        "Bồi dưỡng kiến thức, kỹ năng số cho cán bộ, công chức cấp xã",
        "K7Q2-9XHM-T4PD",
        "01/12/2026",
        "547",
        VERIFY_URL,
    ):
        assert expected in text


def test_the_font_is_embedded_so_no_viewer_needs_its_own() -> None:
    pdf = render_certificate_pdf(_data())
    assert b"/FontFile2" in pdf
    assert b"DejaVu" in pdf


def test_the_qr_code_encodes_the_verification_url() -> None:
    reader = _reader(render_certificate_pdf(_data()))
    images = reader.pages[0].images
    assert len(images) == 1
    picture = np.asarray(images[0].image.convert("L")) < 128  # dark modules
    expected = np.array(segno.make(VERIFY_URL, error="m", micro=False).matrix, dtype=bool)
    size = expected.shape[0]
    border = 4
    module = picture.shape[0] // (size + 2 * border)
    assert picture.shape[0] == module * (size + 2 * border)
    centres = (np.arange(size) + border) * module + module // 2
    assert np.array_equal(picture[np.ix_(centres, centres)], expected)
    assert not picture[: border * module].any()  # quiet zone


def test_different_codes_give_different_qr_images() -> None:
    first = _reader(render_certificate_pdf(_data())).pages[0].images[0].data
    other_url = VERIFY_URL.replace("T4PD", "T4PE")
    second = _reader(render_certificate_pdf(_data(code="K7Q2-9XHM-T4PE", verify_url=other_url)))
    assert second.pages[0].images[0].data != first


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("code", "", "code"),
        ("holder", "  ", "holder"),
        ("verify_url", "", "verify_url"),
        ("issued_at", datetime(2026, 12, 1), "timezone-aware"),
    ],
)
def test_bad_data_is_refused_naming_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _data(**{field: value})
