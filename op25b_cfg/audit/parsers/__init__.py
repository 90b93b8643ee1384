"""Running-config parsers, one module per platform, each exposing
``parse(text: str, *, lazy: bool = False) -> ParsedConfig``.

Parsers never raise on bad input: what they do not understand goes into ``ParsedConfig.unparsed``. With
``lazy=True`` (the audit path) the rules of every filter are built on first read (:mod:`._lazy`): the
lines of a filter that were not understood reach ``unparsed`` when its rules are first read, and
:func:`resolve_all` builds everything (readers that want all of ``unparsed`` at once).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from op25b_cfg.audit.model import ParsedConfig
from op25b_cfg.audit.parsers._lazy import resolve_all as resolve_all  # re-exported
from op25b_cfg.errors import AuditError

_MODULES = {
    "cisco_ios": "op25b_cfg.audit.parsers.cisco_ios",
    "cisco_iosxr": "op25b_cfg.audit.parsers.cisco_iosxr",
    "juniper_junos": "op25b_cfg.audit.parsers.juniper_junos",
    "arista_eos": "op25b_cfg.audit.parsers.arista_eos",
    "linux_nftables": "op25b_cfg.audit.parsers.linux_nftables",
}


def _module_parse(platform: str) -> Callable[..., ParsedConfig]:
    if platform not in _MODULES:
        raise AuditError(f"no running-config parser for platform '{platform}'. Fix: use one of {', '.join(_MODULES)}")
    fn: Callable[..., ParsedConfig] = importlib.import_module(_MODULES[platform]).parse
    return fn


def parser_for(platform: str) -> Callable[[str], ParsedConfig]:
    """The ``parse`` function of ``platform``'s parser module."""
    return _module_parse(platform)


def parse(platform: str, text: str, *, lazy: bool = False) -> ParsedConfig:
    """Parse one running config of ``platform`` (``lazy``: see the module docstring)."""
    fn = _module_parse(platform)
    return fn(text, lazy=True) if lazy else fn(text)
