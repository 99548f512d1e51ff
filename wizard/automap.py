"""Automatic field mapping: which of a sample's columns each entity field is read from, found
by name. A pure function of the fields and the columns; the Field Mapping step offers its
result for the user to change."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

_SEPARATORS = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class FieldName:
    """What a field is matched by: its name and the label pages show."""

    name: str
    label: str = ""


def loose(text: str) -> str:
    """A name without case or separators: `Profile ID`, `profile-id`, `profileId` and
    `PROFILE_ID` are all `profileid`."""
    return _SEPARATORS.sub("", text).casefold()


def automap(fields: Sequence[FieldName], columns: Sequence[str]) -> dict[str, str]:
    """{field name: column} for the fields a column was found for. Each field takes, in turn:
    the column with exactly its name; else the first column whose name equals its name but
    for case and separators; else the first whose name equals its label (so too). A column
    feeds one field at most: an exact match is settled for every field before a looser one."""
    mapping: dict[str, str] = {}
    free = list(dict.fromkeys(columns))  # each column once, in the file's order

    def take(field: FieldName, column: str) -> None:
        mapping[field.name] = column
        free.remove(column)

    for field in fields:
        if field.name in free:
            take(field, field.name)
    for wanted in (lambda f: loose(f.name), lambda f: loose(f.label)):
        for field in fields:
            key = wanted(field)
            if field.name in mapping or not key:
                continue
            found = next((column for column in free if loose(column) == key), None)
            if found is not None:
                take(field, found)
    return mapping


def unmapped_columns(columns: Sequence[str], mapping: dict[str, str]) -> list[str]:
    """The columns no field is read from, in the file's order."""
    used = set(mapping.values())
    return [column for column in dict.fromkeys(columns) if column not in used]
