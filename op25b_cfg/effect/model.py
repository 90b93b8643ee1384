"""The records of effect verification: a counter as a device reports it, and a stored sample."""

from __future__ import annotations

from dataclasses import dataclass

from op25b_cfg.rules import Rule

PURPOSES = ("blocked", "limited", "flow_applies", "mta", "submission", "exempt")
"""What an OP25B counter counts: port-25 attempts blocked, flow-control limit hits (packets the limit dropped:
a policer's out-of-spec count, an nft limit rule's counter), new port-25 connections the flow-control limit
applies to (the policed class ACL's or the limit term's matches: hits and passes alike), port 25 to the ISP's
relays, submission (587/465), port 25 from exempt customers."""


@dataclass(frozen=True, slots=True)
class CounterReading:
    """One counter as a platform's reader (:meth:`Platform.read_counters`) found it on the device.

    ``filter`` is the filter it belongs to (``OP25B-V4-1a2b3c4d``, the nft table's comment version, ...);
    ``counter`` its id on the device (the Junos counter or nft counter name, ``<seq>`` of an ACL entry, the
    nft rule's comment and handle); ``rule`` what the entry matches, when the output shows it (ACL entry
    text, nft rule expressions), so :mod:`op25b_cfg.effect.attribute` can tell its pool and purpose.
    ``dropped``: the count is of packets a limit dropped (a policer's out-of-spec count, a counter placed after
    the limit in a rule that drops), not of every packet the entry matched; only such counts are limit hits."""

    filter: str
    counter: str
    packets: int
    bytes: int | None = None
    rule: Rule | None = None
    dropped: bool = False


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored sample: a counter of a device at a time (UTC epoch seconds), attributed to a pool and a
    purpose. ``filter_version`` is the 8-hex-digit version id of the filter the counter belongs to;
    ``uptime`` the device's uptime in seconds read in the same collect (None: not known)."""

    device: str
    filter_version: str
    counter: str
    pool: str
    purpose: str
    packets: int
    bytes: int
    time: float
    uptime: float | None = None
