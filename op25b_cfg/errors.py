"""The one exception hierarchy of op25b.

Every error a user can cause or meet derives from :class:`Op25bError`. The CLI catches that root and
prints the message; anything else reaching the top is a bug in op25b.
"""

from __future__ import annotations

from dataclasses import dataclass


def cut(value: object, limit: int = 80) -> str:
    """``value`` as text for a message, cut to ``limit`` characters (a long or hostile value never floods it).

    >>> cut("x" * 100, 10)
    'xxxxxxx...'
    >>> cut(False)
    'False'
    """
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Op25bError(Exception):
    """Root of every op25b error. ``str(err)`` is a complete message for the user."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input: where (file and field), what, and how to fix it."""

    file: str
    field: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        text = f"{where}: {self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


class InventoryError(Op25bError):
    """The inventory or policy files are invalid. Carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PlatformError(Op25bError):
    """A platform cannot render what the intent asks for (unknown platform, unsupported mode or attachment)."""


class ConnectionError_(Op25bError):
    """A device could not be reached, logged in to, or talked to. (Named to avoid the builtin.)"""


class PushError(Op25bError):
    """A push step failed; the message says what state the device was left in."""


class AuditError(Op25bError):
    """An audit could not be carried out (input unreadable, platform unknown)."""
