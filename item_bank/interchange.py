"""Validating, importing and exporting bank documents against the database.

:func:`validate_documents` collects every problem of one or more parsed files (each naming the
file, the row or JSON item, the field and the problem); :func:`import_documents` imports them
all or nothing: with any problem it raises :class:`~item_bank.exceptions.BankFileError` before
writing, and the writing itself runs in a savepoint, so the database is left as it was.

Importing an item that the bank already holds compares it with the current version: the same
content is left alone (a second import does nothing); changed content replaces the current
version in place while it has never been administered, and otherwise needs a higher version
number, which becomes a new version. A status change must be a legal lifecycle transition and
is recorded with the importing actor and the file as reason. Parameters in the file become the
item's active estimate (in one calibration run recording the import); an item version without
any parameters gets provisional ones from its intended difficulty
(:func:`item_bank.parameters.provisional_parameters`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from item_bank.bank_files import (
    ITEM_FIELDS,
    JSON_FIELD_NAMES,
    PARAMETER_FIELDS,
    BankDocument,
    ItemRecord,
)
from item_bank.courses import (
    all_course_documents,
    course_problems,
    load_course,
)
from item_bank.exceptions import BankFileError, ValidationIssue
from item_bank.frameworks import (
    current_taxonomy,
    extract_codes,
    known_tags,
    load_taxonomy,
    referenced_tags,
    taxonomy_problems,
)
from item_bank.items import (
    ALLOWED_TRANSITIONS,
    content_problems,
    create_item,
    edit_item,
    transition_item,
    version_content,
)
from item_bank.models import Item, ItemStatus, ItemType, ItemVersion, ParameterEstimate, Topic
from item_bank.parameters import (
    ParameterValues,
    activate_estimates,
    add_estimate,
    create_calibration_run,
    parameter_problems,
    provisional_parameters,
    provisional_run,
    values_from_mapping,
)


@dataclass(frozen=True)
class ImportSummary:
    """What an import did (all zero for a repeated import)."""

    items_created: int = 0
    items_updated: int = 0
    versions_created: int = 0
    status_changes: int = 0
    parameters_set: int = 0
    provisional_parameters_set: int = 0
    items_unchanged: int = 0
    framework_changed: bool = False
    courses_changed: int = 0

    @property
    def changed(self) -> bool:
        """True when the import wrote anything."""
        return bool(
            self.items_created
            or self.items_updated
            or self.versions_created
            or self.status_changes
            or self.parameters_set
            or self.provisional_parameters_set
            or self.framework_changed
            or self.courses_changed
        )


# -- records <-> content -------------------------------------------------------------------


def record_content(record: Mapping[str, Any]) -> dict[str, Any]:
    """The item-version content (names of :data:`item_bank.items.CONTENT_FIELDS`) of a record."""
    stem = record.get("stem") if isinstance(record.get("stem"), Mapping) else {}
    explanation = (
        record.get("explanation") if isinstance(record.get("explanation"), Mapping) else {}
    )
    options = record.get("options")
    if isinstance(options, list):
        options = [_normalized_option(option) for option in options]
    return {
        "type": record.get("type"),
        "stem_vi": stem.get("vi"),
        "stem_en": stem.get("en"),
        "options": options,
        "key": record.get("key"),
        "explanation_vi": explanation.get("vi"),
        "explanation_en": explanation.get("en"),
        "media": record.get("media", []),
        "competency_tag": record.get("competency"),
        "context_tag": record.get("context"),
        "topic_id": record.get("topic"),
        "author": record.get("author"),
        "enemy_group": record.get("enemy_group"),
        "tags": record.get("tags", []),
        "difficulty": record.get("difficulty"),
    }


def _normalized_option(option: Any) -> Any:
    if not isinstance(option, Mapping):
        return option
    normalized = dict(option)
    text = option.get("text")
    if isinstance(text, Mapping):
        normalized["text"] = {
            "vi": text.get("vi"),
            "en": text.get("en"),
            **{k: v for k, v in text.items() if k not in ("vi", "en")},
        }
    return normalized


def item_record(
    item: Item,
    version: ItemVersion,
    estimate: ParameterEstimate | None,
    *,
    public: bool = False,
) -> dict[str, Any]:
    """An item's version in the export shape (without key, scores and parameters if public)."""
    options = []
    for option in version.options:
        exported = {
            "id": option["id"],
            "text": {"vi": option["text"]["vi"], "en": option["text"].get("en")},
        }
        if "score" in option and not public:
            exported["score"] = option["score"]
        options.append(exported)
    record: dict[str, Any] = {
        "item_id": item.id,
        "version": version.version,
        "type": version.type,
        "status": item.status,
        "stem": {"vi": version.stem_vi, "en": version.stem_en},
        "options": options,
        "key": version.key,
        "explanation": {"vi": version.explanation_vi, "en": version.explanation_en},
        "competency": version.competency_tag,
        "context": version.context_tag,
        "topic": version.topic_id,
        "difficulty": version.difficulty,
        "enemy_group": version.enemy_group,
        "author": version.author,
        "tags": list(version.tags or []),
        "media": list(version.media or []),
        "parameters": None if estimate is None else parameters_record(estimate),
    }
    if public:
        for name in ("key", "parameters"):
            del record[name]
    return record


def parameters_record(estimate: ParameterEstimate) -> dict[str, Any]:
    """The ``parameters`` object of an export (``b`` a number for dichotomous models)."""
    dichotomous = estimate.model in {"rasch", "1pl", "2pl", "3pl"}
    se_present = any(v is not None for v in (estimate.se_a, estimate.se_b, estimate.se_c))
    se_b = estimate.se_b
    return {
        "model": estimate.model,
        "a": estimate.a,
        "b": estimate.b[0] if dichotomous else list(estimate.b),
        "c": estimate.c,
        "provisional": estimate.provisional,
        "n_responses": estimate.n_responses,
        "se": {
            "a": estimate.se_a,
            "b": (se_b[0] if dichotomous and se_b else se_b),
            "c": estimate.se_c,
        }
        if se_present
        else None,
    }


def _parameter_mapping(parameters: Mapping[str, Any]) -> dict[str, Any]:
    se = parameters.get("se") or {}
    return {
        "model": parameters.get("model"),
        "a": parameters.get("a"),
        "b": parameters.get("b"),
        "c": parameters.get("c", 0.0),
        "provisional": parameters.get("provisional", False),
        "n_responses": parameters.get("n_responses", 0),
        "se_a": se.get("a") if isinstance(se, Mapping) else None,
        "se_b": se.get("b") if isinstance(se, Mapping) else None,
        "se_c": se.get("c") if isinstance(se, Mapping) else None,
    }


# -- validation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    known_tags: set[str]
    known_topics: set[str]
    items: dict[str, Item]


def _context(session: Session, documents: Sequence[BankDocument]) -> _Context:
    frameworks = [document.framework for document in documents if document.framework is not None]
    if frameworks:
        # a new framework replaces the codes; the bank keeps only those still in use
        tags = {record.tag for record in extract_codes(frameworks[-1])} | referenced_tags(session)
    else:
        tags = known_tags(session)
    topics = set(session.scalars(select(Topic.id)))
    for document in documents:
        for course in document.courses:
            if isinstance(course, Mapping):
                topics |= {
                    topic["topic_id"]
                    for topic in course.get("topics", [])
                    if isinstance(topic, Mapping) and isinstance(topic.get("topic_id"), str)
                }
    ids = {
        record.data.get("item_id")
        for document in documents
        for record in document.items
        if isinstance(record.data.get("item_id"), str)
    }
    items = {
        item.id: item
        for item in session.scalars(
            select(Item).where(Item.id.in_(ids)).options(selectinload(Item.versions))
        )
    }
    return _Context(tags, topics, items)


def validate_documents(
    session: Session, documents: Sequence[BankDocument]
) -> list[ValidationIssue]:
    """Every problem of ``documents`` taken together (empty when they can be imported)."""
    issues: list[ValidationIssue] = []
    framework_documents = [d for d in documents if d.framework is not None]
    for document in framework_documents:
        for field_name, problem in taxonomy_problems(document.framework):
            issues.append(ValidationIssue(document.file, "framework", field_name, problem))
    if len(framework_documents) > 1:
        issues.append(
            ValidationIssue(
                framework_documents[-1].file,
                "framework",
                "",
                "more than one file carries a framework",
            )
        )
    if issues:
        return issues
    context = _context(session, documents)
    seen_courses: dict[str, str] = {}
    for document in documents:
        for index, course in enumerate(document.courses):
            location = f"courses[{index}]"
            for field_name, problem in course_problems(course, context.known_tags):
                issues.append(ValidationIssue(document.file, location, field_name, problem))
            course_id = course.get("course_id") if isinstance(course, Mapping) else None
            if isinstance(course_id, str):
                if course_id in seen_courses:
                    issues.append(
                        ValidationIssue(
                            document.file,
                            location,
                            "course_id",
                            f"duplicate course id {course_id!r} (also in "
                            f"{seen_courses[course_id]})",
                        )
                    )
                seen_courses[course_id] = f"{document.file} {location}"
    seen_items: dict[str, str] = {}
    for document in documents:
        for record in document.items:
            for field_name, problem in _record_problems(record, context, seen_items, document.file):
                issues.append(
                    ValidationIssue(
                        document.file, record.location, record.file_field(field_name), problem
                    )
                )
    return issues


def _record_problems(
    record: ItemRecord, context: _Context, seen: dict[str, str], file: str
) -> list[tuple[str, str]]:
    data = record.data
    problems: list[tuple[str, str]] = []
    unknown = set(data) - set(ITEM_FIELDS)
    if unknown:
        problems.append(("", f"unknown fields {sorted(unknown)}"))
    item_id = data.get("item_id")
    if not isinstance(item_id, str) or not item_id.strip():
        problems.append(("item_id", "missing item id"))
        item_id = None
    elif item_id in seen:
        problems.append(("item_id", f"duplicate item id {item_id!r} (first at {seen[item_id]})"))
    else:
        seen[item_id] = f"{file} {record.location}"
    version = data.get("version")
    version_ok = True
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        problems.append(("version", f"must be a whole number >= 1, got {version!r}"))
        version_ok = False
    status = data.get("status")
    if status is not None and status not in set(ItemStatus):
        problems.append(("status", f"unknown status {status!r}; use one of {list(ItemStatus)}"))
        status = None
    for name in ("stem", "explanation"):
        value = data.get(name)
        if name == "stem" and not isinstance(value, Mapping):
            problems.append(("stem.vi", "the Vietnamese stem is empty"))
        elif value is not None and not isinstance(value, Mapping):
            problems.append((name, 'must be an object {"vi": ..., "en": ...}'))
    content = record_content(data)
    for field_name, problem in content_problems(
        content, known_tags=context.known_tags, known_topics=context.known_topics
    ):
        if field_name == "stem_vi" and any(p[0] == "stem.vi" for p in problems):
            continue
        problems.append((JSON_FIELD_NAMES.get(field_name, field_name), problem))
    parameters = data.get("parameters")
    n_categories = _n_categories(content)
    if parameters is not None:
        if not isinstance(parameters, Mapping):
            problems.append(("parameters", "must be an object or null"))
        else:
            extra = set(parameters) - set(PARAMETER_FIELDS)
            if extra:
                problems.append(("parameters", f"unknown fields {sorted(extra)}"))
            se = parameters.get("se")
            if se is not None and not isinstance(se, Mapping):
                problems.append(("parameters.se", "must be an object {a, b, c} or null"))
            if content.get("type") in set(ItemType) and n_categories is not None:
                for field_name, problem in parameter_problems(
                    _parameter_mapping(parameters),
                    item_type=content["type"],
                    n_categories=n_categories,
                ):
                    problems.append((f"parameters.{field_name}", problem))
    if item_id is not None and item_id in context.items and version_ok and not problems:
        problems.extend(_existing_item_problems(context.items[item_id], version, status, content))
    return problems


def _resolved_version(item: Item | None, requested: int | None, content: Mapping[str, Any]) -> int:
    """The version number a record means: as given, else 1 for a new item, the current one
    for unchanged or never administered content, the next one after an administered version."""
    if requested is not None:
        return requested
    if item is None:
        return 1
    current = item.current_version
    if _same_content(version_content(current), content) or not current.is_administered:
        return current.version
    return current.version + 1


def _resolved_status(item: Item | None, requested: str | None) -> str:
    """The status a record means: as given, else draft for a new item and unchanged otherwise."""
    if requested is not None:
        return requested
    return ItemStatus.DRAFT.value if item is None else item.status


def _n_categories(content: Mapping[str, Any]) -> int | None:
    if content.get("type") != ItemType.ORDERED:
        return 2
    options = content.get("options")
    try:
        return max(int(option["score"]) for option in options) + 1  # type: ignore[union-attr]
    except (TypeError, KeyError, ValueError):
        return None


def _existing_item_problems(
    item: Item, requested_version: int | None, status: str | None, content: Mapping[str, Any]
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    current = item.current_version
    version = _resolved_version(item, requested_version, content)
    same = _same_content(version_content(current), content)
    if same and version != current.version:
        problems.append(("version", f"the bank holds this content as version {current.version}"))
    elif not same:
        if version < current.version:
            problems.append(
                (
                    "version",
                    f"version {version} is older than the bank's current version {current.version}",
                )
            )
        elif version == current.version and current.is_administered:
            problems.append(
                (
                    "version",
                    f"version {version} has been administered and cannot "
                    f"change; give the changed item version {current.version + 1}",
                )
            )
    if status is not None and status != item.status:
        allowed = ALLOWED_TRANSITIONS[ItemStatus(item.status)]
        if ItemStatus(status) not in allowed:
            names = ", ".join(sorted(s.value for s in allowed)) or "none"
            problems.append(
                ("status", f"cannot go from {item.status} to {status} (allowed: {names})")
            )
    return problems


def _same_content(stored: Mapping[str, Any], content: Mapping[str, Any]) -> bool:
    normalized = dict(content)
    normalized["media"] = list(normalized.get("media") or [])
    normalized["tags"] = list(normalized.get("tags") or [])
    return dict(stored) == normalized


# -- import --------------------------------------------------------------------------------


def import_documents(
    session: Session,
    documents: Sequence[BankDocument],
    *,
    actor: str,
    progress: bool = False,
) -> ImportSummary:
    """Validate and import ``documents`` all or nothing (flushes; the caller commits).

    Raises
    ------
    BankFileError
        With every problem found; nothing was written.
    """
    issues = validate_documents(session, documents)
    if issues:
        raise BankFileError(issues)
    with session.begin_nested():
        return _import(session, documents, actor=actor, progress=progress)


def _import(
    session: Session, documents: Sequence[BankDocument], *, actor: str, progress: bool
) -> ImportSummary:
    counts = dict.fromkeys(
        (
            "items_created",
            "items_updated",
            "versions_created",
            "status_changes",
            "parameters_set",
            "provisional_parameters_set",
            "items_unchanged",
            "courses_changed",
        ),
        0,
    )
    framework_changed = False
    for document in documents:
        if document.framework is not None:
            framework_changed |= load_taxonomy(session, document.framework, actor=actor).changed
    for document in documents:
        for course in document.courses:
            counts["courses_changed"] += int(load_course(session, course))
    records = [(document.file, record) for document in documents for record in document.items]
    files = ", ".join(sorted({document.file for document in documents if document.items}))
    runs: dict[str, Any] = {}

    def import_run() -> Any:
        if "import" not in runs:
            runs["import"] = create_calibration_run(
                session,
                model="import",
                sample_size=0,
                approved_by=actor,
                notes=f"parameters imported from {files}",
            )
        return runs["import"]

    def provisional() -> Any:
        if "provisional" not in runs:
            runs["provisional"] = provisional_run(session, actor=actor)
        return runs["provisional"]

    existing = {
        item.id: item
        for item in session.scalars(
            select(Item)
            .where(Item.id.in_([record.data["item_id"] for _, record in records]))
            .options(selectinload(Item.versions))
        )
    }
    active = {
        estimate.item_id: estimate
        for estimate in session.scalars(
            select(ParameterEstimate).where(
                ParameterEstimate.is_active.is_(True),
                ParameterEstimate.item_id.in_(list(existing)),
            )
        )
    }
    to_activate: list[ParameterEstimate] = []
    iterator: Iterable[tuple[str, ItemRecord]] = records
    if progress:
        from tqdm import tqdm

        iterator = tqdm(records, desc="import", unit="item")
    # no autoflush: the new rows go in batches, not one round trip per item
    with session.no_autoflush:
        for file, record in iterator:
            data = record.data
            content = record_content(data)
            item = existing.get(data["item_id"])
            status = _resolved_status(item, data.get("status"))
            number = _resolved_version(item, data.get("version"), content)
            touched = False
            if item is None:
                item = create_item(
                    session,
                    data["item_id"],
                    content,
                    actor=actor,
                    status=status,
                    reason=f"imported from {file}",
                    version=number,
                    flush=False,
                )
                counts["items_created"] += 1
                estimate = None
            else:
                current = item.current_version
                estimate = active.get(item.id)
                if not _same_content(version_content(current), content):
                    version = edit_item(session, item.id, content, actor=actor, new_version=number)
                    if version is current:
                        counts["items_updated"] += 1
                    else:
                        counts["versions_created"] += 1
                        estimate = None
                    touched = True
                if status != item.status:
                    transition_item(
                        session, item.id, status, actor=actor, reason=f"imported from {file}"
                    )
                    counts["status_changes"] += 1
                    touched = True
            version = item.current_version
            parameters = data.get("parameters")
            if parameters is not None:
                wanted = values_from_mapping(_parameter_mapping(parameters))
                if estimate is None or ParameterValues.from_estimate(estimate) != wanted:
                    to_activate.append(
                        add_estimate(session, import_run(), version, wanted, flush=False)
                    )
                    counts["parameters_set"] += 1
                    touched = True
            elif estimate is None or estimate.item_version_id != version.id:
                values = provisional_parameters(
                    version.type, version.difficulty, version.n_categories
                )
                to_activate.append(
                    add_estimate(session, provisional(), version, values, flush=False)
                )
                counts["provisional_parameters_set"] += 1
                touched = True
            if not touched and data["item_id"] in existing:
                counts["items_unchanged"] += 1
    session.flush()
    if to_activate:
        activate_estimates(session, [estimate.id for estimate in to_activate], actor=actor)
    session.flush()
    return ImportSummary(framework_changed=framework_changed, **counts)


# -- export --------------------------------------------------------------------------------


def export_bank(
    session: Session,
    *,
    public: bool = False,
    statuses: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The bank as an export document: framework, courses and the current version of each item.

    ``public`` leaves out keys, option scores and parameters; ``statuses`` restricts the items.
    """
    query = select(Item).options(selectinload(Item.versions)).order_by(Item.id)
    if statuses is not None:
        query = query.where(Item.status.in_([ItemStatus(s).value for s in statuses]))
    items = list(session.scalars(query))
    estimates = (
        {}
        if public
        else {
            estimate.item_id: estimate
            for estimate in session.scalars(
                select(ParameterEstimate).where(ParameterEstimate.is_active.is_(True))
            )
        }
    )
    records = []
    for item in items:
        version = item.current_version
        estimate = estimates.get(item.id)
        if estimate is not None and estimate.item_version_id != version.id:
            estimate = None
        records.append(item_record(item, version, estimate, public=public))
    return {
        "framework": current_taxonomy(session),
        "courses": all_course_documents(session),
        "items": records,
    }
