"""Child ids: the one check of a pseudonymous child id, for every command, path, app and server.

A child id names folders and files (``sessions/<id>/``, ``plans/<id>.toml``,
``reports/<id>/``, ``assessments/<id>/``, ``homepacks/<id>/``), goes into
every session log and every export, and is what a therapist types. So it is a
short pseudonymous code of safe characters, checked the same way wherever it
enters: 1 to :data:`MAX_LENGTH` ASCII letters, digits, ``-``, ``_`` or ``.``,
starting with a letter or digit. That refuses ``""``, ``.``, ``..``, any path
(``a/b``, ``/etc``), spaces, newlines, NUL, control characters and non-ASCII
letters (which two file systems may spell differently), and keeps every id a
single folder name inside the data folder.

Every command that takes a child calls :func:`check_child_id` before it
touches a file; :func:`engine.records.plan.check_child_id` is this function.

This is a base module (like :mod:`engine.errors`): only :mod:`engine.errors`
and :mod:`engine.text` below it.
"""

from __future__ import annotations

import re

from engine.errors import ConfigError
from engine.text import shown

__all__ = ["CHILD_ID_RULE", "MAX_LENGTH", "check_child_id", "is_child_id"]

#: The longest child id, in characters.
MAX_LENGTH = 64

#: The rule in words, as every refusal says it.
CHILD_ID_RULE = (f"1 to {MAX_LENGTH} letters, digits, '-', '_' or '.', starting with a letter or digit "
                 "(a pseudonymous code such as C07, not a name)")

_CHILD_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_LENGTH - 1}}}")


def is_child_id(value: object) -> bool:
    """Whether ``value`` is a safe pseudonymous child id (see the module docstring)."""
    return isinstance(value, str) and _CHILD_ID.fullmatch(value) is not None


def check_child_id(child: object) -> str:
    """The child id if it is a safe pseudonymous id (it names files), else one sentence.

    Parameters
    ----------
    child : str
        The id as typed or as read from a file.

    Returns
    -------
    str
        ``child`` unchanged.

    Raises
    ------
    ConfigError
        Not a string, or not :data:`CHILD_ID_RULE`; the sentence quotes the id
        with its control characters escaped (never raw) and cut short if long.

    Examples
    --------
    >>> check_child_id("C07")
    'C07'
    """
    if isinstance(child, str) and _CHILD_ID.fullmatch(child):
        return child
    if not isinstance(child, str):
        raise ConfigError(f"The child id must be text, not {shown(child)}; write a pseudonymous code such as C07.")
    raise ConfigError(f"The child id {shown(child)} must be {CHILD_ID_RULE}.")
