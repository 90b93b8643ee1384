"""Running-config parsers, one module per platform, each exposing ``parse(text: str) -> ParsedConfig``.

Parsers never raise on bad input: what they do not understand goes into ``ParsedConfig.unparsed``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from op25b_cfg.audit.model import ParsedConfig
from op25b_cfg.errors import AuditError

_MODULES = {
    "cisco_ios": "op25b_cfg.audit.parsers.cisco_ios",
    "cisco_iosxr": "op25b_cfg.audit.parsers.cisco_iosxr",
    "juniper_junos": "op25b_cfg.audit.parsers.juniper_junos",
    "arista_eos": "op25b_cfg.audit.parsers.arista_eos",
    "linux_nftables": "op25b_cfg.audit.parsers.linux_nftables",
}


def parser_for(platform: str) -> Callable[[str], ParsedConfig]:
    """The ``parse`` function of ``platform``'s parser module."""
    if platform not in _MODULES:
        raise AuditError(f"no running-config parser for platform '{platform}'. Fix: use one of {', '.join(_MODULES)}")
    fn: Callable[[str], ParsedConfig] = importlib.import_module(_MODULES[platform]).parse
    return fn


def parse(platform: str, text: str) -> ParsedConfig:
    """Parse one running config of ``platform``."""
    return parser_for(platform)(text)
