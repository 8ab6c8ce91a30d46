"""Domain errors of the item bank; each subclasses the builtin a caller would catch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ItemBankError(Exception):
    """Base class of every error raised by :mod:`item_bank`."""


class ItemNotFoundError(ItemBankError, LookupError):
    """An item id (or item version id) that is not in the bank."""


class UnknownCodeError(ItemBankError, LookupError):
    """A competency, context, course or topic code the bank does not know."""


class IllegalTransitionError(ItemBankError, ValueError):
    """A lifecycle transition that the item lifecycle does not allow (e.g. retired -> draft)."""


class ImmutableVersionError(ItemBankError, RuntimeError):
    """An attempt to change an item version that has already been administered."""


class MalformedAnswerError(ItemBankError, ValueError):
    """An answer whose shape does not fit the item type (unknown option, wrong container...)."""


class InvalidParametersError(ItemBankError, ValueError):
    """IRT parameters out of range or inconsistent with the item (model, number of categories)."""


class FrameworkError(ItemBankError, ValueError):
    """A competency-framework document that cannot be loaded without breaking the bank."""


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in a bank file: where it is and what is wrong.

    Parameters
    ----------
    file : str
        The file name as given by the caller.
    location : str
        ``"row 7"`` for CSV/XLSX, ``"items[3] (SEC-004)"`` for JSON, ``"line 12, column 5"`` for
        a file that cannot be parsed.
    field : str
        The column or JSON field at fault (``""`` for the file as a whole).
    problem : str
        What is wrong, in words an item writer understands.
    """

    file: str
    location: str
    field: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.location}" if self.location else self.file
        if self.field:
            return f"{where}: {self.field}: {self.problem}"
        return f"{where}: {self.problem}"


class BankFileError(ItemBankError, ValueError):
    """A bank file with at least one error; nothing of it was imported.

    ``issues`` holds every problem found, not only the first.
    """

    def __init__(self, issues: Sequence[ValidationIssue]) -> None:
        self.issues = tuple(issues)
        shown = "\n".join(f"  - {issue}" for issue in self.issues[:50])
        more = len(self.issues) - 50
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.issues)} error(s) in the bank file(s):\n{shown}{tail}")
