"""The Vietnamese catalogue is complete, consistent and compiled, and ships in the package."""

from __future__ import annotations

import fnmatch
import gettext
import tomllib
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
WEBAPP = ROOT / "webapp"
PO_FILE = WEBAPP / "translations" / "vi" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def _catalog():
    with PO_FILE.open("rb") as handle:
        return read_po(handle, locale="vi")


# The platform's own files (the exam-delivery blueprints test theirs); a string may be
# translated in any catalogue the app loads.
PLATFORM_FOLDERS = ("admin", "api", "auth", "main", "services", "templates")
PLATFORM_MODULES = ("app.py", "errors.py", "security.py", "i18n.py")


def _platform_messages() -> set[str]:
    with (WEBAPP / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(WEBAPP), method_map, options_map, keywords=KEYWORDS
    ):
        parts = Path(filename).parts
        if parts[0] in PLATFORM_FOLDERS or filename in PLATFORM_MODULES:
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _configured_catalogues() -> list[Path]:
    from webapp.config import default_config

    folders = default_config().get("BABEL_TRANSLATION_DIRECTORIES", "translations").split(";")
    paths = [WEBAPP / folder / "vi" / "LC_MESSAGES" / "messages.po" for folder in folders]
    return [path for path in paths if path.exists()]


def test_every_user_facing_string_of_the_platform_has_a_vietnamese_translation():
    assert PO_FILE in _configured_catalogues()
    translated = set()
    for path in _configured_catalogues():
        with path.open("rb") as handle:
            for message in read_po(handle, locale="vi"):
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                if message.id and all(strings):
                    translated.add(message.id[0] if isinstance(message.id, tuple) else message.id)
    platform_strings = _platform_messages()
    assert len(platform_strings) > 100
    assert sorted(platform_strings - translated) == []


def test_placeholders_match_between_english_and_vietnamese():
    problems = [(message.id, error) for message, errors in _catalog().check() for error in errors]
    assert problems == []


def test_the_compiled_catalogue_matches_the_po_file():
    with (PO_FILE.with_suffix(".mo")).open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in _catalog():
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            assert compiled.ngettext(message.id[0], message.id[1], 1) == message.string[0]
        else:
            assert compiled.gettext(message.id) == message.string, message.id


def test_templates_styles_and_catalogues_are_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    from setuptools import find_namespace_packages

    packages = set(find_namespace_packages(where=str(ROOT), include=include))
    needed = [
        path
        for suffix in ("*.html", "*.css", "*.mo", "*.po", "*.mako", "*.js")
        for path in WEBAPP.rglob(suffix)
        if "__pycache__" not in path.parts
    ]
    assert len(needed) > 10
    for path in needed:
        package = ".".join(path.parent.relative_to(ROOT).parts)
        assert package in packages, path
        assert any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns), path
