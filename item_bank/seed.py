"""The seed bank: the packaged framework, the national course and the seed items.

:func:`seed_bank` imports them through the same validation and import path as any bank file,
so a second run finds everything identical and changes nothing.
"""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable

from sqlalchemy.orm import Session

from item_bank.bank_files import BankDocument, bank_document_from_json
from item_bank.courses import packaged_course
from item_bank.frameworks import packaged_taxonomy
from item_bank.interchange import ImportSummary, import_documents

SEED_ACTOR = "sathach-seed"


def seed_item_files() -> list[Traversable]:
    """The packaged seed item files (``item_bank/data/seed_items/*.json``), by name."""
    folder = resources.files("item_bank").joinpath("data/seed_items")
    if not folder.is_dir():
        return []
    return sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".json")),
        key=lambda entry: entry.name,
    )


def seed_documents() -> list[BankDocument]:
    """The framework, the course and every seed item file as bank documents."""
    documents = [
        BankDocument(
            file="competency_framework.json", format="json", framework=packaged_taxonomy()
        ),
        BankDocument(file="national_course.json", format="json", courses=(packaged_course(),)),
    ]
    for entry in seed_item_files():
        name = f"seed_items/{entry.name}"
        documents.append(
            bank_document_from_json(json.loads(entry.read_text(encoding="utf-8")), name)
        )
    return documents


def seed_bank(
    session: Session, *, actor: str = SEED_ACTOR, progress: bool = False
) -> ImportSummary:
    """Load the seed bank into the session's database (flushes; the caller commits).

    Raises
    ------
    BankFileError
        When a seed file has a problem (nothing is imported then).
    """
    return import_documents(session, seed_documents(), actor=actor, progress=progress)
