"""Competency frameworks and their codes, loaded from the taxonomy document.

The document (``item_bank/data/competency_framework.json``, a copy of the national taxonomy)
lists frameworks whose codes nest under keys such as ``domains`` -> ``competencies`` (TT02-2025),
``areas`` -> ``competences`` (DigComp 2.2), ``skill_groups`` -> ``skills``, ``tiers`` ->
``modules`` or ``contexts`` (PROJ-CSX). Every code becomes a tag ``<framework_id>:<code>``.

Loading is an upsert, so a revised document that adds codes keeps the bank valid. A code that a
revision drops is deleted only when nothing uses it; otherwise it stays, flagged
``in_current_revision=False``, so that items tagged with it remain valid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import delete, select, union
from sqlalchemy.orm import Session

from item_bank.exceptions import FrameworkError
from item_bank.models import (
    CompetencyCode,
    Crosswalk,
    Framework,
    ItemVersion,
    TaxonomyRevision,
    Topic,
    TopicCompetency,
    utc_now,
)

PRIMARY_FRAMEWORK = "VN-TT02-2025"
CONTEXT_FRAMEWORK = "PROJ-CSX"

# key of a nested list of codes -> the kind of code it holds
CODE_LISTS: Mapping[str, str] = {
    "levels": "level",
    "domains": "domain",
    "areas": "area",
    "competencies": "competency",
    "competences": "competency",
    "skill_groups": "group",
    "skills": "skill",
    "tiers": "tier",
    "modules": "module",
    "contexts": "context",
}


@dataclass(frozen=True)
class CodeRecord:
    """A code as read from the document, before it is stored."""

    tag: str
    framework_id: str
    code: str
    kind: str
    parent_tag: str | None
    name_vi: str | None
    name_en: str | None
    position: int


@dataclass(frozen=True)
class TaxonomyLoadResult:
    """What a load changed: ``changed`` is False when the same document was loaded before."""

    changed: bool
    codes_added: int = 0
    codes_updated: int = 0
    codes_withdrawn: int = 0
    codes_removed: int = 0


def packaged_taxonomy() -> dict[str, Any]:
    """The taxonomy document shipped with the package (``item_bank/data``)."""
    path = resources.files("item_bank").joinpath("data/competency_framework.json")
    return json.loads(path.read_text(encoding="utf-8"))


def document_sha256(document: Mapping[str, Any]) -> str:
    """A fingerprint of the document that ignores key order and whitespace."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def taxonomy_problems(document: Any) -> list[tuple[str, str]]:
    """Problems of a taxonomy document as ``(field, problem)`` pairs; empty when it is valid."""
    if not isinstance(document, Mapping):
        return [("framework", "must be a JSON object")]
    problems: list[tuple[str, str]] = []
    frameworks = document.get("frameworks")
    if not isinstance(frameworks, list) or not frameworks:
        return [("framework.frameworks", "must be a non-empty list of frameworks")]
    seen_frameworks: set[str] = set()
    for index, framework in enumerate(frameworks):
        field = f"framework.frameworks[{index}]"
        if not isinstance(framework, Mapping) or not isinstance(framework.get("id"), str):
            problems.append((field, "each framework needs a string 'id'"))
            continue
        if framework["id"] in seen_frameworks:
            problems.append((f"{field}.id", f"duplicate framework id {framework['id']!r}"))
        seen_frameworks.add(framework["id"])
    if problems:
        return problems
    seen_tags: set[str] = set()
    try:
        for record in extract_codes(document):
            if record.tag in seen_tags:
                problems.append(("framework", f"duplicate code {record.tag!r}"))
            seen_tags.add(record.tag)
    except FrameworkError as error:
        problems.append(("framework", str(error)))
    primary = document.get("recommended_primary_framework", PRIMARY_FRAMEWORK)
    if primary not in seen_frameworks:
        problems.append(("framework.recommended_primary_framework", f"unknown {primary!r}"))
    for index, crosswalk in enumerate(document.get("crosswalks") or []):
        if not isinstance(crosswalk, Mapping) or not isinstance(crosswalk.get("id"), str):
            problems.append((f"framework.crosswalks[{index}]", "each crosswalk needs an 'id'"))
    return problems


def extract_codes(document: Mapping[str, Any]) -> list[CodeRecord]:
    """Every code of every framework of ``document``, parents before children."""
    records: list[CodeRecord] = []
    for framework in document.get("frameworks", []):
        framework_id = framework["id"]
        records.extend(_walk_codes(framework_id, framework, parent_tag=None))
    return records


def _walk_codes(
    framework_id: str, node: Mapping[str, Any], parent_tag: str | None
) -> Iterator[CodeRecord]:
    for key, kind in CODE_LISTS.items():
        children = node.get(key)
        if not isinstance(children, list):
            continue
        for position, child in enumerate(children):
            if not isinstance(child, Mapping) or "code" not in child:
                raise FrameworkError(
                    f"{framework_id}: entry {position} of {key!r} has no 'code': {child!r:.80}"
                )
            code = str(child["code"])
            tag = f"{framework_id}:{code}"
            yield CodeRecord(
                tag=tag,
                framework_id=framework_id,
                code=code,
                kind=kind,
                parent_tag=parent_tag,
                name_vi=child.get("name_vi"),
                name_en=child.get("name_en"),
                position=position,
            )
            yield from _walk_codes(framework_id, child, parent_tag=tag)


def current_taxonomy(session: Session) -> dict[str, Any] | None:
    """The most recently loaded taxonomy document, or None when none was loaded."""
    return session.scalar(
        select(TaxonomyRevision.document)
        .order_by(TaxonomyRevision.loaded_at.desc(), TaxonomyRevision.id.desc())
        .limit(1)
    )


def known_tags(session: Session) -> set[str]:
    """Every competency/context/level tag the bank knows."""
    return set(session.scalars(select(CompetencyCode.tag)))


def load_taxonomy(
    session: Session, document: Mapping[str, Any], *, actor: str = "system"
) -> TaxonomyLoadResult:
    """Upsert the frameworks, codes and crosswalks of ``document`` (flushes, never commits).

    Raises
    ------
    FrameworkError
        When the document is malformed (see :func:`taxonomy_problems`).
    """
    problems = taxonomy_problems(document)
    if problems:
        raise FrameworkError("; ".join(f"{field}: {problem}" for field, problem in problems))
    fingerprint = document_sha256(document)
    latest = session.scalar(
        select(TaxonomyRevision)
        .order_by(TaxonomyRevision.loaded_at.desc(), TaxonomyRevision.id.desc())
        .limit(1)
    )
    if latest is not None and latest.sha256 == fingerprint:
        return TaxonomyLoadResult(changed=False)

    primary = document.get("recommended_primary_framework", PRIMARY_FRAMEWORK)
    for framework_document in document["frameworks"]:
        framework = session.get(Framework, framework_document["id"]) or Framework(
            id=framework_document["id"]
        )
        framework.name_vi = framework_document.get("name_vi") or framework_document["id"]
        framework.name_en = framework_document.get("name_en")
        framework.is_primary = framework_document["id"] == primary
        framework.document = dict(framework_document)
        session.add(framework)
    session.flush()

    records = {record.tag: record for record in extract_codes(document)}
    existing = {code.tag: code for code in session.scalars(select(CompetencyCode))}
    added = updated = withdrawn = removed = 0
    for tag, record in records.items():
        code = existing.get(tag)
        if code is None:
            session.add(CompetencyCode(**record.__dict__, in_current_revision=True))
            added += 1
            continue
        values = {**record.__dict__, "in_current_revision": True}
        if any(getattr(code, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(code, name, value)
            updated += 1
    referenced = referenced_tags(session)
    for tag, code in existing.items():
        if tag in records:
            continue
        if tag in referenced:
            if code.in_current_revision:
                code.in_current_revision = False
                withdrawn += 1
        else:
            session.delete(code)
            removed += 1
    session.flush()

    crosswalk_ids = set()
    for crosswalk_document in document.get("crosswalks") or []:
        crosswalk = session.get(Crosswalk, crosswalk_document["id"]) or Crosswalk(
            id=crosswalk_document["id"]
        )
        crosswalk.from_framework = str(crosswalk_document.get("from", ""))
        crosswalk.to_framework = str(crosswalk_document.get("to", ""))
        crosswalk.document = dict(crosswalk_document)
        session.add(crosswalk)
        crosswalk_ids.add(crosswalk_document["id"])
    session.execute(delete(Crosswalk).where(Crosswalk.id.not_in(crosswalk_ids)))

    framework_ids = {framework["id"] for framework in document["frameworks"]}
    for framework in session.scalars(select(Framework).where(Framework.id.not_in(framework_ids))):
        still_used = session.scalar(
            select(CompetencyCode.id).where(CompetencyCode.framework_id == framework.id).limit(1)
        )
        if still_used is None:
            session.delete(framework)

    revision = session.scalar(
        select(TaxonomyRevision).where(TaxonomyRevision.sha256 == fingerprint)
    )
    if revision is None:
        revision = TaxonomyRevision(
            schema=str(document.get("schema", "")),
            sha256=fingerprint,
            document=dict(document),
            loaded_by=actor,
        )
        session.add(revision)
    else:  # an earlier revision loaded again becomes the current one
        revision.loaded_at = utc_now()
        revision.loaded_by = actor
    session.flush()
    return TaxonomyLoadResult(True, added, updated, withdrawn, removed)


def referenced_tags(session: Session) -> set[str]:
    """Tags that items or topics use (they survive a framework revision that drops them)."""
    columns = union(
        select(ItemVersion.competency_tag),
        select(ItemVersion.context_tag).where(ItemVersion.context_tag.is_not(None)),
        select(Topic.context_tag).where(Topic.context_tag.is_not(None)),
        select(TopicCompetency.competency_tag),
    )
    return set(session.scalars(select(columns.subquery().c[0])))
