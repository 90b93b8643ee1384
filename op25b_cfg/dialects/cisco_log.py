"""The flow part of the Cisco-style ACL log message (IOS/IOS-XE, IOS-XR and EOS write it alike), for their
:attr:`~op25b_cfg.platforms.base.Platform.log_patterns`: ``tcp 100.64.1.10(40000) -> 203.0.113.25(25)``, with
IOS-XR's ``log-input`` interface before the arrow (``100.64.1.10(40000) HundredGigE0/0/0/8-> ...``)."""

from __future__ import annotations

CISCO_LOG_FLOW = r"(?P<proto>\w+) (?P<src>[0-9A-Fa-f.:]+)\(\d+\)(?: \S+)? ?-> (?P<dst>[0-9A-Fa-f.:]+)\((?P<dport>\d+)\)"
