"""From a filtered bank to the CAT engine's numerical pool (:class:`exam.ItemPool`).

:func:`build_item_pool` reads, in one query, the current version and active parameter estimate
of every item that passes the filters (status, competencies, course, topics) and builds the
pool; the returned :class:`BankPool` keeps, per pool position, the item version id (what the
web app stores with each response) and the parameter-estimate id. Items that pass the filters
but cannot be used (no active estimate for the current version, provisional parameters when
those are excluded) are listed in ``skipped`` with the reason, never dropped silently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from calibration import ItemModel, ItemParameters
from exam import ItemPool
from item_bank.exceptions import ItemNotFoundError, UnknownCodeError
from item_bank.models import (
    CompetencyCode,
    Course,
    Item,
    ItemStatus,
    ItemVersion,
    ParameterEstimate,
    Topic,
)

DEFAULT_STATUSES = (ItemStatus.OPERATIONAL,)


@dataclass(frozen=True, eq=False)
class BankPool:
    """An :class:`exam.ItemPool` with the bank rows behind each of its items.

    Attributes
    ----------
    pool : exam.ItemPool
        The numerical pool, items in item-id order.
    version_ids : tuple of int
        ``item_versions.id`` per pool item (the exact version an exam shows).
    estimate_ids : tuple of int
        ``parameter_estimates.id`` per pool item.
    provisional : tuple of bool
        Whether the item's parameters are provisional.
    skipped : tuple of (str, str)
        ``(item_id, reason)`` of items that passed the filters but are not in the pool.
    """

    pool: ItemPool
    version_ids: tuple[int, ...]
    estimate_ids: tuple[int, ...]
    provisional: tuple[bool, ...]
    skipped: tuple[tuple[str, str], ...]

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {item_id: index for index, item_id in enumerate(self.pool.item_ids)}

    def version_id_of(self, item_id: str) -> int:
        """The item version id the pool uses for ``item_id``."""
        return self.version_ids[self._position(item_id)]

    def estimate_id_of(self, item_id: str) -> int:
        """The parameter-estimate id the pool uses for ``item_id``."""
        return self.estimate_ids[self._position(item_id)]

    def _position(self, item_id: str) -> int:
        try:
            return self._positions[item_id]
        except KeyError:
            raise ItemNotFoundError(f"item {item_id!r} is not in the pool") from None

    @cached_property
    def fingerprint(self) -> str:
        """Identifies the pool's content (items, versions, estimates, exposure parameters):
        worker processes cache their pool under it and rebuild when it changes."""
        digest = hashlib.sha256()
        for item_id, version_id, estimate_id, exposure in zip(
            self.pool.item_ids,
            self.version_ids,
            self.estimate_ids,
            self.pool.exposure_parameters,
            strict=True,
        ):
            digest.update(
                f"{item_id}\x1f{version_id}\x1f{estimate_id}\x1f{exposure!r}\x1e".encode()
            )
        return digest.hexdigest()


def build_item_pool(
    session: Session,
    *,
    statuses: Iterable[ItemStatus | str] = DEFAULT_STATUSES,
    competencies: Iterable[str] | None = None,
    course_id: str | None = None,
    topics: Iterable[str] | None = None,
    include_provisional: bool = True,
    exposure_parameters: Mapping[str, float] | None = None,
) -> BankPool:
    """Build the exam pool of the items that pass every filter.

    Parameters
    ----------
    session : Session
        The caller's session (only read).
    statuses : iterable of ItemStatus
        Item statuses to include (default: operational only). Items in ``pretest`` are flagged
        ``is_pretest`` in the pool (administered unscored).
    competencies : iterable of str, optional
        Competency tags; a domain tag (``"VN-TT02-2025:4"``) stands for all its competencies.
    course_id : str, optional
        Only items whose topic belongs to this course.
    topics : iterable of str, optional
        Only items of these topics.
    include_provisional : bool
        Whether items whose active parameters are provisional may enter the pool.
    exposure_parameters : mapping of str to float, optional
        Sympson-Hetter parameter per item id (items not listed get 1.0).

    Raises
    ------
    UnknownCodeError
        If a competency, course or topic filter names something the bank does not know.
    ItemNotFoundError
        If no usable item passes the filters.
    """
    status_values = [ItemStatus(status).value for status in statuses]
    query = (
        select(Item.id, Item.status, ItemVersion, ParameterEstimate)
        .join(
            ItemVersion,
            and_(
                ItemVersion.item_id == Item.id, ItemVersion.version == Item.current_version_number
            ),
        )
        .outerjoin(
            ParameterEstimate,
            and_(ParameterEstimate.item_id == Item.id, ParameterEstimate.is_active.is_(True)),
        )
        .where(Item.status.in_(status_values))
        .order_by(Item.id)
    )
    if competencies is not None:
        wanted = list(competencies)
        known = set(
            session.scalars(select(CompetencyCode.tag).where(CompetencyCode.tag.in_(wanted)))
        )
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise UnknownCodeError(f"unknown competency codes {unknown}")
        children = select(CompetencyCode.tag).where(CompetencyCode.parent_tag.in_(wanted))
        query = query.where(
            or_(ItemVersion.competency_tag.in_(wanted), ItemVersion.competency_tag.in_(children))
        )
    if course_id is not None:
        if session.get(Course, course_id) is None:
            raise UnknownCodeError(f"unknown course {course_id!r}")
        query = query.where(
            ItemVersion.topic_id.in_(select(Topic.id).where(Topic.course_id == course_id))
        )
    if topics is not None:
        wanted_topics = list(topics)
        unknown = sorted(
            set(wanted_topics)
            - set(session.scalars(select(Topic.id).where(Topic.id.in_(wanted_topics))))
        )
        if unknown:
            raise UnknownCodeError(f"unknown topics {unknown}")
        query = query.where(ItemVersion.topic_id.in_(wanted_topics))

    rows = []
    skipped: list[tuple[str, str]] = []
    for item_id, status, version, estimate in session.execute(query):
        if estimate is None or estimate.item_version_id != version.id:
            skipped.append((item_id, f"no active parameters for version {version.version}"))
        elif estimate.provisional and not include_provisional:
            skipped.append((item_id, "provisional parameters excluded"))
        else:
            rows.append((item_id, status, version, estimate))
    if not rows:
        raise ItemNotFoundError(
            f"no usable item passes the filters (statuses {status_values}, competencies "
            f"{competencies!r}, course {course_id!r}, topics {topics!r}); skipped: {skipped[:5]}"
        )
    parameters = ItemParameters.from_lists(
        [estimate.model for _, _, _, estimate in rows],
        [estimate.a for _, _, _, estimate in rows],
        [
            estimate.b[0] if ItemModel(estimate.model).is_dichotomous else list(estimate.b)
            for _, _, _, estimate in rows
        ],
        [estimate.c for _, _, _, estimate in rows],
    )
    exposure = exposure_parameters or {}
    pool = ItemPool.build(
        [item_id for item_id, _, _, _ in rows],
        parameters,
        competencies=[version.competency_tag for _, _, version, _ in rows],
        topics=[version.topic_id for _, _, version, _ in rows],
        enemy_groups=[version.enemy_group for _, _, version, _ in rows],
        is_pretest=[status == ItemStatus.PRETEST for _, status, _, _ in rows],
        exposure_parameters=[float(exposure.get(item_id, 1.0)) for item_id, _, _, _ in rows],
    )
    return BankPool(
        pool=pool,
        version_ids=tuple(version.id for _, _, version, _ in rows),
        estimate_ids=tuple(estimate.id for _, _, _, estimate in rows),
        provisional=tuple(estimate.provisional for _, _, _, estimate in rows),
        skipped=tuple(skipped),
    )
