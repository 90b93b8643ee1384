"""Parse a running config with its platform's parser (``op25b_cfg/platforms/<platform>/parser.py``, reached
through :meth:`op25b_cfg.platforms.base.Platform.parse`).

Parsers never raise on bad input: what they do not understand goes into ``ParsedConfig.unparsed``. With
``lazy=True`` (the audit path) the rules of every filter are built on first read (:mod:`op25b_cfg.audit.lazy`): the
lines of a filter that were not understood reach ``unparsed`` when its rules are first read, and
:func:`resolve_all` builds everything (readers that want all of ``unparsed`` at once).
"""

from __future__ import annotations

from op25b_cfg.audit.lazy import resolve_all as resolve_all  # re-exported
from op25b_cfg.audit.model import ParsedConfig
from op25b_cfg.errors import AuditError, PlatformError


def parse(platform: str, text: str, *, lazy: bool = False) -> ParsedConfig:
    """Parse one running config of ``platform`` (``lazy``: see the module docstring)."""
    from op25b_cfg.platforms import get_platform

    try:
        spec = get_platform(platform)
    except PlatformError as exc:
        raise AuditError(f"no running-config parser: {exc}") from None
    return spec.parse(text, lazy=lazy)
