"""Items, their versions and their lifecycle, and the exposure counters.

An item keeps a stable id; its content lives in numbered :class:`~item_bank.models.ItemVersion`
rows. Editing an item whose current version has been administered creates a new version, so a
stored response (which references ``item_versions.id``) always points to what was shown. Status
changes follow the lifecycle draft -> reviewed -> pretest -> operational -> retired, each one
recorded with who, when and why.

Every function takes the caller's session and flushes; committing is the caller's decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from item_bank.exceptions import (
    IllegalTransitionError,
    ImmutableVersionError,
    ItemNotFoundError,
)
from item_bank.frameworks import CONTEXT_FRAMEWORK, PRIMARY_FRAMEWORK
from item_bank.models import (
    Difficulty,
    Item,
    ItemExposure,
    ItemStatus,
    ItemType,
    ItemVersion,
    StatusTransition,
    utc_now,
)
from item_bank.parameters import deactivate_item

MIN_OPTIONS = 2
MAX_OPTIONS = 8

ALLOWED_TRANSITIONS: Mapping[ItemStatus, frozenset[ItemStatus]] = {
    ItemStatus.DRAFT: frozenset({ItemStatus.REVIEWED, ItemStatus.RETIRED}),
    # a reviewer may send an item back to its writer
    ItemStatus.REVIEWED: frozenset({ItemStatus.PRETEST, ItemStatus.DRAFT, ItemStatus.RETIRED}),
    # an item that misfits in pretest goes back for revision
    ItemStatus.PRETEST: frozenset({ItemStatus.OPERATIONAL, ItemStatus.DRAFT, ItemStatus.RETIRED}),
    ItemStatus.OPERATIONAL: frozenset({ItemStatus.RETIRED}),
    ItemStatus.RETIRED: frozenset(),
}

CONTENT_FIELDS: tuple[str, ...] = (
    "type",
    "stem_vi",
    "stem_en",
    "options",
    "key",
    "explanation_vi",
    "explanation_en",
    "media",
    "competency_tag",
    "context_tag",
    "topic_id",
    "author",
    "enemy_group",
    "tags",
    "difficulty",
)
"""The fields of an item version that make up its content (the ``content`` mappings below)."""


def content_problems(
    content: Mapping[str, Any],
    *,
    known_tags: set[str] | None = None,
    known_topics: set[str] | None = None,
) -> list[tuple[str, str]]:
    """Every problem of an item version's content, as ``(field, problem)`` pairs.

    ``content`` uses the names of :data:`CONTENT_FIELDS`. With ``known_tags`` / ``known_topics``
    the competency, context and topic are also checked against the bank.
    """
    problems: list[tuple[str, str]] = []
    unknown_fields = set(content) - set(CONTENT_FIELDS)
    if unknown_fields:
        problems.append(("", f"unknown fields {sorted(unknown_fields)}"))
    item_type = content.get("type")
    if item_type not in set(ItemType):
        problems.append(("type", f"unknown item type {item_type!r}; use one of {list(ItemType)}"))
    stem = content.get("stem_vi")
    if not isinstance(stem, str) or not stem.strip():
        problems.append(("stem_vi", "the Vietnamese stem is empty"))
    for field in ("stem_en", "explanation_vi", "explanation_en", "author", "enemy_group"):
        value = content.get(field)
        if value is not None and not isinstance(value, str):
            problems.append((field, f"must be text, got {value!r}"))
    option_ids = _option_problems(content.get("options"), item_type, problems)
    _key_problems(content.get("key"), item_type, option_ids, problems)
    for field in ("media", "tags"):
        value = content.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append((field, f"must be a list of non-empty texts, got {value!r}"))
    difficulty = content.get("difficulty")
    if difficulty is not None and difficulty not in set(Difficulty):
        problems.append(("difficulty", f"must be easy, medium or hard, got {difficulty!r}"))
    competency = content.get("competency_tag")
    if not isinstance(competency, str) or not competency:
        problems.append(("competency_tag", "missing primary competency code"))
    elif not competency.startswith(f"{PRIMARY_FRAMEWORK}:"):
        problems.append(
            ("competency_tag", f"{competency!r} is not a {PRIMARY_FRAMEWORK} competency code")
        )
    elif known_tags is not None and competency not in known_tags:
        problems.append(("competency_tag", f"unknown competency code {competency!r}"))
    context = content.get("context_tag")
    if context is not None:
        if not isinstance(context, str) or not context.startswith(f"{CONTEXT_FRAMEWORK}:"):
            problems.append(("context_tag", f"{context!r} is not a {CONTEXT_FRAMEWORK} code"))
        elif known_tags is not None and context not in known_tags:
            problems.append(("context_tag", f"unknown context code {context!r}"))
    topic = content.get("topic_id")
    if topic is not None and known_topics is not None and topic not in known_topics:
        problems.append(("topic_id", f"unknown topic {topic!r}"))
    return problems


def _option_problems(options: Any, item_type: Any, problems: list[tuple[str, str]]) -> list[str]:
    if not isinstance(options, list):
        problems.append(("options", "must be a list of options"))
        return []
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        problems.append(
            ("options", f"{len(options)} options; an item needs {MIN_OPTIONS} to {MAX_OPTIONS}")
        )
    if item_type == ItemType.TRUE_FALSE and len(options) != 2:
        problems.append(("options", f"a true/false item has 2 options, got {len(options)}"))
    ids: list[str] = []
    scores: list[int] = []
    for index, option in enumerate(options):
        label = f"options[{index}]"
        if not isinstance(option, Mapping):
            problems.append((label, "must be an object with 'id' and 'text'"))
            continue
        option_id = option.get("id")
        if not isinstance(option_id, str) or not option_id.strip():
            problems.append((f"{label}.id", "missing option id"))
        elif option_id in ids:
            problems.append((f"{label}.id", f"duplicate option id {option_id!r}"))
        else:
            ids.append(option_id)
        text = option.get("text")
        if (
            not isinstance(text, Mapping)
            or not isinstance(text.get("vi"), str)
            or not (text["vi"].strip())
        ):
            problems.append((f"{label}.text.vi", "the Vietnamese option text is empty"))
        elif text.get("en") is not None and not isinstance(text["en"], str):
            problems.append((f"{label}.text.en", f"must be text, got {text['en']!r}"))
        extra = set(option) - {"id", "text", "score"}
        if extra:
            problems.append((label, f"unknown option fields {sorted(extra)}"))
        score = option.get("score")
        if item_type == ItemType.ORDERED:
            if isinstance(score, bool) or not isinstance(score, int) or score < 0:
                problems.append(
                    (
                        f"{label}.score",
                        f"an ordered item's option needs an integer score >= 0, got {score!r}",
                    )
                )
            else:
                scores.append(score)
        elif score is not None:
            problems.append((f"{label}.score", "only ordered items score their options"))
    if item_type == ItemType.ORDERED and scores and len(scores) == len(options):
        top = max(scores)
        missing = sorted(set(range(top + 1)) - set(scores))
        if top < 1:
            problems.append(("options", "an ordered item needs scores 0..K-1 with K >= 2"))
        elif missing:
            problems.append(("options", f"scores must cover 0..{top}; missing {missing}"))
    return ids


def _key_problems(
    key: Any, item_type: Any, option_ids: list[str], problems: list[tuple[str, str]]
) -> None:
    listed = ", ".join(option_ids)
    if item_type in (ItemType.SINGLE_CHOICE, ItemType.TRUE_FALSE):
        if key is None or key == "":
            problems.append(("key", "missing key"))
        elif not isinstance(key, str):
            problems.append(("key", f"must be one option id, got {key!r}"))
        elif option_ids and key not in option_ids:
            problems.append(("key", f"key {key!r} is not among the options {listed}"))
    elif item_type == ItemType.MULTIPLE_RESPONSE:
        if key is None or key == [] or key == "":
            problems.append(("key", "missing key"))
        elif not isinstance(key, list) or not all(isinstance(k, str) for k in key):
            problems.append(("key", f"must be a list of option ids, got {key!r}"))
        elif len(set(key)) != len(key):
            problems.append(("key", f"repeats an option id: {key!r}"))
        else:
            outside = [k for k in key if k not in option_ids]
            if option_ids and outside:
                problems.append(("key", f"keys {outside} are not among the options {listed}"))
    elif item_type == ItemType.ORDERED and key is not None:
        problems.append(("key", "an ordered item is keyed by its option scores; key must be null"))


def _check_content(content: Mapping[str, Any]) -> None:
    problems = content_problems(content)
    if problems:
        raise ValueError("; ".join(f"{field}: {problem}" for field, problem in problems))


def get_item(session: Session, item_id: str) -> Item:
    """The item ``item_id``; raises :class:`ItemNotFoundError` when it is not in the bank."""
    item = session.get(Item, item_id)
    if item is None:
        raise ItemNotFoundError(f"no item {item_id!r} in the bank")
    return item


def get_version(session: Session, version_id: int) -> ItemVersion:
    """The item version with primary key ``version_id`` (what stored responses reference)."""
    version = session.get(ItemVersion, version_id)
    if version is None:
        raise ItemNotFoundError(f"no item version with id {version_id!r}")
    return version


def create_item(
    session: Session,
    item_id: str,
    content: Mapping[str, Any],
    *,
    actor: str,
    status: ItemStatus | str = ItemStatus.DRAFT,
    reason: str = "created",
    version: int = 1,
    flush: bool = True,
) -> Item:
    """Add a new item with its first version (numbered ``version``) and an exposure counter.

    Raises
    ------
    ValueError
        If the content is invalid (see :func:`content_problems`) or the id is taken.

    ``flush=False`` leaves the rows pending, so that a bulk import flushes them in batches.
    """
    if not isinstance(item_id, str) or not item_id.strip():
        raise ValueError(f"an item id must be a non-empty text, got {item_id!r}")
    if session.get(Item, item_id) is not None:
        raise ValueError(f"item {item_id!r} already exists")
    _check_content(content)
    status = ItemStatus(status)
    item = Item(id=item_id, status=status.value, current_version_number=version, created_by=actor)
    session.add(item)
    session.add(
        ItemVersion(item=item, version=version, created_by=actor, **_content_defaults(content))
    )
    session.add(ItemExposure(item_id=item_id, count=0))
    session.add(
        StatusTransition(
            item=item,
            from_status=None,
            to_status=status.value,
            version=version,
            actor=actor,
            reason=reason,
        )
    )
    if flush:
        session.flush()
    return item


def _content_defaults(content: Mapping[str, Any]) -> dict[str, Any]:
    values = {field: content.get(field) for field in CONTENT_FIELDS}
    values["media"] = list(values["media"] or [])
    values["tags"] = list(values["tags"] or [])
    values["options"] = [dict(option) for option in values["options"]]
    if isinstance(values["key"], list):
        values["key"] = list(values["key"])
    return values


def version_content(version: ItemVersion) -> dict[str, Any]:
    """The content of ``version`` as a mapping of :data:`CONTENT_FIELDS`."""
    return {field: getattr(version, field) for field in CONTENT_FIELDS}


def edit_item(
    session: Session,
    item_id: str,
    changes: Mapping[str, Any],
    *,
    actor: str,
    new_version: int | None = None,
) -> ItemVersion:
    """Change an item's content; returns the version that now holds it.

    When the current version has been administered, a new version (``new_version``, default the
    next number) is created and becomes current; otherwise the current version is changed in
    place. Parameters are per version: a new version starts without an active estimate unless
    the caller adds one (:mod:`item_bank.parameters`).

    Raises
    ------
    ItemNotFoundError
        If the item is not in the bank.
    ValueError
        If the changed content is invalid, or ``new_version`` does not follow the current one.
    """
    item = get_item(session, item_id)
    current = item.current_version
    unknown = set(changes) - set(CONTENT_FIELDS)
    if unknown:
        raise ValueError(f"cannot edit fields {sorted(unknown)}; editable: {list(CONTENT_FIELDS)}")
    content = {**version_content(current), **changes}
    _check_content(content)
    if content == version_content(current):
        return current
    if not current.is_administered and new_version in (None, current.version):
        for field, value in _content_defaults(content).items():
            setattr(current, field, value)
        session.flush()
        return current
    number = current.version + 1 if new_version is None else new_version
    if number <= current.version:
        raise ValueError(
            f"item {item_id!r}: new version {number} must be above the current {current.version}"
        )
    version = ItemVersion(item=item, version=number, created_by=actor, **_content_defaults(content))
    session.add(version)
    item.current_version_number = number
    # the old version's parameters do not describe the new one (kept in the history)
    deactivate_item(session, item_id)
    session.flush()
    return version


def ensure_mutable(version: ItemVersion) -> None:
    """Raise :class:`ImmutableVersionError` if ``version`` has been administered."""
    if version.is_administered:
        raise ImmutableVersionError(
            f"item {version.item_id!r} version {version.version} has been administered "
            f"(since {version.administered_at}) and cannot change; edit the item to get a new "
            "version"
        )


def transition_item(
    session: Session, item_id: str, to_status: ItemStatus | str, *, actor: str, reason: str
) -> StatusTransition:
    """Move an item to ``to_status`` and record who, when and why.

    Raises
    ------
    IllegalTransitionError
        If the lifecycle does not allow the move (see :data:`ALLOWED_TRANSITIONS`).
    ValueError
        If ``actor`` or ``reason`` is empty.
    """
    if not actor or not actor.strip():
        raise ValueError("a transition needs the actor who made it")
    if not reason or not reason.strip():
        raise ValueError("a transition needs a reason")
    item = get_item(session, item_id)
    target = ItemStatus(to_status)
    source = ItemStatus(item.status)
    if target not in ALLOWED_TRANSITIONS[source]:
        allowed = sorted(status.value for status in ALLOWED_TRANSITIONS[source]) or ["none"]
        raise IllegalTransitionError(
            f"item {item_id!r}: {source.value} -> {target.value} is not allowed; from "
            f"{source.value} the item may go to {', '.join(allowed)}"
        )
    transition = StatusTransition(
        item=item,
        from_status=source.value,
        to_status=target.value,
        version=item.current_version_number,
        actor=actor,
        reason=reason,
    )
    item.status = target.value
    session.add(transition)
    session.flush()
    return transition


# The statements of record_administration, built once (it runs on every answer): Core
# statements on the tables, since the ORM's bulk-update machinery costs more than the
# statements themselves, and the identity map is handled by record_administration.
_VERSIONS, _EXPOSURES = ItemVersion.__table__, ItemExposure.__table__
_MARK_ADMINISTERED = (
    update(_VERSIONS)
    .where(
        _VERSIONS.c.id.in_(bindparam("version_ids", expanding=True)),
        _VERSIONS.c.administered_at.is_(None),
    )
    .values(administered_at=bindparam("now"))
)
_COUNT_EXPOSURE = (
    update(_EXPOSURES)
    .where(_EXPOSURES.c.item_id == bindparam("of_item"))
    .values(
        count=_EXPOSURES.c.count + bindparam("increment"),
        last_exposed_at=bindparam("now"),
    )
)
_COUNT_EXPOSURE_OF_VERSIONS = _COUNT_EXPOSURE.where(
    select(func.count())
    .select_from(_VERSIONS)
    .where(
        _VERSIONS.c.id.in_(bindparam("version_ids", expanding=True)),
        _VERSIONS.c.item_id == bindparam("of_item"),
    )
    .scalar_subquery()
    == bindparam("n_versions")
)


def record_administration(
    session: Session,
    version_ids: Sequence[int],
    *,
    items: Mapping[int, str] | None = None,
    administered: Collection[int] = (),
) -> None:
    """Mark item versions as shown and add one exposure to their items, atomically per row.

    Call it in the transaction that stores the response referencing each version: the version
    becomes immutable and the item's counter grows by one. The counter is updated with a single
    ``UPDATE item_exposures SET count = count + 1``, so concurrent server processes never lose
    an increment. A version id that appears twice counts twice.

    ``items`` maps each version id to its item id when the caller already knows it (an exam's
    compiled pool does, on every answer): the look-up ``SELECT`` is then skipped, and each
    exposure ``UPDATE`` checks in the same statement that the versions belong to its item, so
    a wrong or missing version still raises :class:`ItemNotFoundError`. ``administered`` lists
    versions the caller knows to be marked already (by a committed transaction: a mark is never
    undone, see :func:`item_bank.models._refuse_changes_to_administered_versions`), whose
    marking ``UPDATE`` is skipped; their exposures are counted all the same.

    On SQLite, a transaction that reads before it calls this should be opened with write
    intent (``execution_options(sqlite_begin="IMMEDIATE")``, see :func:`item_bank.db.make_engine`),
    so that concurrent writers queue instead of failing with "database is locked".
    """
    if not version_ids:
        return
    now = utc_now()
    unique_ids = set(version_ids)
    to_mark = unique_ids - set(administered)
    if to_mark:
        # write first: on SQLite a transaction that starts by writing waits for the lock, while
        # one that read first and then writes may fail at once when another writer got in
        session.execute(_MARK_ADMINISTERED, {"version_ids": sorted(to_mark), "now": now})
    if items is None:
        rows = session.execute(
            select(ItemVersion.id, ItemVersion.item_id).where(ItemVersion.id.in_(unique_ids))
        ).all()
        item_of = {version_id: item_id for version_id, item_id in rows}
    else:
        item_of = {version_id: items[version_id] for version_id in unique_ids & set(items)}
    missing = sorted(unique_ids - set(item_of))
    if missing:
        raise ItemNotFoundError(f"no item versions with ids {missing}")
    per_item: Counter[str] = Counter(item_of[version_id] for version_id in version_ids)
    versions_of: dict[str, set[int]] = {}
    for version_id, item_id in item_of.items():
        versions_of.setdefault(item_id, set()).add(version_id)
    for item_id, increment in sorted(per_item.items()):  # fixed order: no lock-order deadlocks
        parameters = {"of_item": item_id, "increment": increment, "now": now}
        if items is None:
            result = session.execute(_COUNT_EXPOSURE, parameters)
        else:
            # the caller's mapping, checked by the database in the same statement
            own_versions = sorted(versions_of[item_id])
            parameters.update(version_ids=own_versions, n_versions=len(own_versions))
            result = session.execute(_COUNT_EXPOSURE_OF_VERSIONS, parameters)
        if items is not None and result.rowcount != 1:
            raise ItemNotFoundError(
                f"item versions {sorted(versions_of[item_id])} are not versions of item "
                f"{item_id!r} (or it has no exposure counter)"
            )
    # the UPDATEs bypass the loaded objects: reload just the columns they changed
    touched_versions, touched_items = unique_ids, set(per_item)
    for instance in list(session.identity_map.values()):
        if isinstance(instance, ItemVersion) and instance.id in touched_versions:
            session.expire(instance, ["administered_at"])
        elif isinstance(instance, ItemExposure) and instance.item_id in touched_items:
            session.expire(instance, ["count", "last_exposed_at"])


def exposure_counts(session: Session, item_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Administrations per item (all items, or those in ``item_ids``)."""
    query = select(ItemExposure.item_id, ItemExposure.count)
    if item_ids is not None:
        query = query.where(ItemExposure.item_id.in_(list(item_ids)))
    return {item_id: count for item_id, count in session.execute(query)}


def count_items(session: Session) -> int:
    """How many items the bank holds."""
    return session.scalar(select(func.count()).select_from(Item)) or 0
