"""Errors raised by the exam package.

Each subclasses the builtin that a caller would catch: a bad blueprint or pool is a
``ValueError``, an exam that cannot go on is a ``RuntimeError``.
"""

from __future__ import annotations


class BlueprintError(ValueError):
    """A blueprint document is malformed; ``field`` names the offending field path.

    Parameters
    ----------
    field : str
        Dotted path of the field, e.g. ``"content.constraints[2].min"``.
    problem : str
        What is wrong with it, including the bad value.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"blueprint field {field!r}: {problem}")


class InfeasibleBlueprintError(BlueprintError):
    """No test of the blueprint's lengths can satisfy its content constraints with this pool."""


class PoolError(ValueError):
    """An item pool is malformed; ``item_id`` and ``field`` name the place when known."""

    def __init__(self, problem: str, *, item_id: str | None = None, field: str | None = None):
        self.item_id = item_id
        self.field = field
        where = []
        if item_id is not None:
            where.append(f"item {item_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)


class ExamFinishedError(RuntimeError):
    """A response was given to an exam that has already finished."""


class InvalidResponseError(ValueError):
    """A response is not a valid category of the current item."""


class ReplayMismatchError(RuntimeError):
    """Stored responses do not match the items the engine gives (the pool or blueprint changed)."""


class NoItemsAvailableError(RuntimeError):
    """No item is left that the blueprint allows at the start of an exam."""
