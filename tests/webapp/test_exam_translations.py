"""The exam-delivery catalogue (webapp/exams/translations) translates every user-facing string
of the learner, verification and exam code into Vietnamese, consistently, and is compiled."""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

WEBAPP = Path(__file__).resolve().parents[2] / "webapp"
PO_FILE = WEBAPP / "exams" / "translations" / "vi" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}
EXAM_FOLDERS = ("learner", "verify", "exams")
EXAM_MODULES = ("api/exams.py",)


def _catalog():
    with PO_FILE.open("rb") as handle:
        return read_po(handle, locale="vi")


def _exam_messages() -> set[str]:
    with (WEBAPP / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(WEBAPP), method_map, options_map, keywords=KEYWORDS
    ):
        if Path(filename).parts[0] in EXAM_FOLDERS or filename in EXAM_MODULES:
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_exam_string_has_a_vietnamese_translation() -> None:
    from webapp.config import default_config

    assert "exams/translations" in default_config()["BABEL_TRANSLATION_DIRECTORIES"].split(";")
    translated = {message.id for message in _catalog() if message.id and message.string}
    strings = _exam_messages()
    assert len(strings) > 90
    assert sorted(strings - translated) == []


def test_placeholders_match_and_the_compiled_catalogue_is_current() -> None:
    catalog = _catalog()
    assert [(message.id, errors) for message, errors in catalog.check()] == []
    with PO_FILE.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in catalog:
        if message.id:
            assert compiled.gettext(message.id) == message.string, message.id
