"""The kernel as a second oracle: generated nftables rulesets loaded into a real router namespace, op25b's audit
of the same text, and every claim op25b makes replayed as real packets.

Topology (three namespaces, names unique to the run, all removed on exit, also on failure)::

    client  eth0 --- ppp0  ┐
            eth1 --- ppp   ├ router (forwarding, the ruleset under test)      server  eth0 --- uplink0
            eth2 --- pppz  ┘

The client sends IPv4 from any address of 100.64.0.0/10 (AnyIP, ``IP_FREEBIND``) and IPv6 from any address of
2001:db8:8000::/36 (added to ``lo`` on first use); the server owns (local routes) every other address, runs SMTP
listeners on 25, 587 and 465 and a sniffer on eth0. So every counterexample op25b prints is sent as that packet
(source, destination, ports, flags) through the subscriber interface its ``iifname`` names (``ppp0``; ``ppp``;
``pppz`` for ``ppp*`` = any other name), and the sniffer tells whether it arrived. Must-pass connections from
each interface have a route back through it.

Comparison (:func:`compare`), per ruleset:

* each counterexample is replayed: an SMTP_LEAK packet must arrive at the server; an MTA/SUBMISSION/EXEMPT_BLOCKED
  packet must not (a SYN: nor may its real connect succeed; an ACK: the ACK of a real handshake must not arrive);
* a certain FILTER_MISSING / NOT_APPLIED (no counterexample of its own): some pool SYN of that family must leak;
* COMPLIANT must hold in the kernel: no SYN from a pool address (ports of the ruleset included as source ports,
  through every subscriber interface the attachment covers) reaches a foreign port 25, and every must-pass
  connection (pool to MTA port 25, pool to a foreign 587/465, exempt to a foreign 25) connects;
* UNKNOWN is counted, never a disagreement; nor is a finding the audit marks "not proven" (:data:`UNPROVEN`).
  A claim the lab cannot send as printed (a source outside the client's nets, a destination on the client side,
  an egress other than the uplink) is counted as not replayable.

A disagreement is kept only if a second fresh load shows it again. Rulesets with ``limit``/``ct count`` are
replayed one connection at a time (see :func:`_send`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from op25b_cfg import api
from op25b_cfg.audit.model import Code, DeviceReport, Packet, Verdict
from tests.nftgen import EXEMPT_BASES, FOREIGN, POOL_BASES, ROUTER_SUB_IF, ROUTER_UP_IF, Case, pass_source

OTHER_EGRESS = "other0"
"""A second router egress to the server, named by no rule of :mod:`tests.nftgen`."""

REPO = Path(__file__).resolve().parent.parent
CONNECT_TIMEOUT = 0.3

CLIENT_NETS = ("100.64.0.0/10", "2001:db8:8000::/36")
"""Source addresses the client can send from: every pool and exemption of :mod:`tests.nftgen` lies inside."""
SUB_IFS = {ROUTER_SUB_IF: "eth0", "ppp": "eth1", "pppz": "eth2"}
"""The router's subscriber interfaces and their client ends: ``ppp0``, and one of each other class of names that
op25b tells apart for the attachment ``ppp*`` (``iifname ppp``, and ``ppp*`` = any other ppp name)."""
_LINKS = (  # (namespace, router interface, its peer, router IPv4/30 network, IPv6 /64)
    ("client", ROUTER_SUB_IF, "eth0", "10.1.0.0/30", "2001:db8:fe:1::/64"),
    ("client", "ppp", "eth1", "10.1.0.4/30", "2001:db8:fe:3::/64"),
    ("client", "pppz", "eth2", "10.1.0.8/30", "2001:db8:fe:4::/64"),
    ("server", ROUTER_UP_IF, "eth0", "10.2.0.0/30", "2001:db8:fe:2::/64"),
    ("server", OTHER_EGRESS, "eth1", "10.2.0.4/30", "2001:db8:fe:5::/64"),
)
EGRESS_TOS = 0x10  # IPv4 rules take only the legacy TOS bits (0x1e)
"""Packets the client sends with this TOS / traffic class leave the router through ``OTHER_EGRESS`` (policy
routing), for counterexamples that assume an egress no rule names."""
_NOT_SERVER = {
    4: ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "224.0.0.0/3"),
    6: ("::/8", "2001:db8:8000::/36", "2001:db8:fe::/48", "fc00::/7", "fe80::/10", "ff00::/8"),
}
_NO_DAD = ("net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
_FORWARD = ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0")  # fmt: skip
_counter = itertools.count()


def complement(family: int, excluded: tuple[str, ...]) -> list[str]:
    """The prefixes covering every address of ``family`` outside ``excluded``.

    >>> complement(4, ("0.0.0.0/1",))
    ['128.0.0.0/1']
    >>> len(complement(4, ("10.0.0.0/8", "100.64.0.0/10")))
    15
    """
    rest: list[Any] = [ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")]
    for ex in (ipaddress.ip_network(e) for e in excluded):
        nxt: list[Any] = []
        for net in rest:
            if ex.subnet_of(net):
                nxt.extend(net.address_exclude(ex))
            elif not net.subnet_of(ex):
                nxt.append(net)
        rest = nxt
    return [str(n) for n in sorted(rest, key=lambda n: (n.network_address, n.prefixlen))]


def replayable(p: Packet) -> bool:
    """Whether the harness can send ``p`` from the client and see it at the server."""
    src, dst = ipaddress.ip_address(p.src), ipaddress.ip_address(p.dst)
    if not any(src in ipaddress.ip_network(n) for n in CLIENT_NETS):
        return False
    return not any(dst in ipaddress.ip_network(n) for n in _NOT_SERVER[p.family])


class LabError(RuntimeError):
    """The kernel lab could not be built or an agent failed."""


def _run(*argv: str, input_: str | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, input=input_, timeout=60, check=False)
    if proc.returncode != 0:
        raise LabError(f"{' '.join(argv)!r} failed: {proc.stderr.strip()}")
    return proc.stdout


class _Agent:
    """One :mod:`tests.nftlab_agent` process inside a namespace (JSON lines both ways)."""

    def __init__(self, ns: str, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        argv = ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.nftlab_agent", *args]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO, env=env, start_new_session=True
        )
        if not self._read().get("ready"):
            raise LabError(f"agent {args} in {ns} did not start")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise LabError(f"agent {self.proc.args!r} exited ({self.proc.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, cmd: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=3)


@dataclass
class KernelLab:
    """The three namespaces and their agents; build with :func:`kernel_lab`."""

    prefix: str
    namespaces: list[str] = field(default_factory=list)
    agents: dict[str, _Agent] = field(default_factory=dict)
    listener: subprocess.Popen[bytes] | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="op25b-nftk-")))

    def ns(self, role: str) -> str:
        return f"{self.prefix}{role}"

    def build(self) -> None:
        for role in ("router", "client", "server"):
            self.namespaces.append(self.ns(role))
            _run("ip", "netns", "add", self.ns(role))
            _run("ip", "netns", "exec", self.ns(role), "sysctl", "-qw", *_NO_DAD)
        router = self.ns("router")
        _run("ip", "netns", "exec", router, "sysctl", "-qw", *_FORWARD)
        for n, (role, rif, peer, net4, net6) in enumerate(_LINKS, 1):
            (r4, p4), (r6, p6) = ((n4 := ipaddress.ip_network(net)[1], n4 + 1) for net in (net4, net6))
            rmac, pmac = f"02:00:00:00:0{n}:01", f"02:00:00:00:0{n}:02"
            _run("ip", "link", "add", rif, "address", rmac, "netns", router, "type", "veth", "peer", peer,
                 "address", pmac, "netns", self.ns(role))  # fmt: skip
            ends = ((router, rif, r4, r6, p4, p6, pmac), (self.ns(role), peer, p4, p6, r4, r6, rmac))
            for ns, dev, a4, a6, other4, other6, other_mac in ends:
                _run("ip", "-n", ns, "addr", "add", f"{a4}/30", "dev", dev)
                _run("ip", "-n", ns, "addr", "add", f"{a6}/64", "dev", dev, "nodad")
                _run("ip", "-n", ns, "link", "set", dev, "up")
                _run("ip", "-n", ns, "link", "set", "lo", "up")
                for other in (other4, other6):  # static neighbours: no ARP/ND delays or failures in the probes
                    _run(
                        "ip",
                        "-n",
                        ns,
                        "neigh",
                        "replace",
                        str(other),
                        "lladdr",
                        other_mac,
                        "dev",
                        dev,
                        "nud",
                        "permanent",
                    )
            metric = str(n)  # the client's default route is through ppp0; a probe bound to eth1/eth2 uses its own
            _run("ip", "-n", self.ns(role), "route", "add", "default", "via", str(r4), "dev", peer, "metric", metric)
            _run(
                "ip",
                "-n",
                self.ns(role),
                "-6",
                "route",
                "add",
                "default",
                "via",
                str(r6),
                "dev",
                peer,
                "metric",
                metric,
            )
            if rif == ROUTER_SUB_IF:
                _run("ip", "-n", router, "route", "add", CLIENT_NETS[0], "via", str(p4))
                _run("ip", "-n", router, "-6", "route", "add", CLIENT_NETS[1], "via", str(p6))
            elif role == "client":  # must-pass sources of this interface: answers go back the same way
                for base in (ipaddress.ip_network(b) for b in POOL_BASES + EXEMPT_BASES):
                    gw = str(p4 if base.version == 4 else p6)
                    _run("ip", "-n", router, "route", "add", str(pass_source(base, n - 1)), "via", gw, "dev", rif)
            elif rif == ROUTER_UP_IF:
                _run("ip", "-n", router, "route", "add", "default", "via", str(p4))
                _run("ip", "-n", router, "-6", "route", "add", "default", "via", str(p6))
            else:  # OTHER_EGRESS: chosen by the packet's TOS
                for fam, gw in (("-4", p4), ("-6", p6)):
                    _run("ip", "-n", router, fam, "rule", "add", "tos", hex(EGRESS_TOS), "lookup", "200")
                    _run("ip", "-n", router, fam, "route", "add", "default", "via", str(gw), "dev", rif, "table", "200")
        # the client sends from any IPv4 pool address (AnyIP); IPv6 sources are added one by one by its agent
        _run("ip", "-n", self.ns("client"), "route", "add", "local", CLIENT_NETS[0], "dev", "lo", "table", "local")
        cmds = [f"route add local {n} dev lo table local" for fam in (4, 6) for n in complement(fam, _NOT_SERVER[fam])]
        _run("ip", "-n", self.ns("server"), "-batch", "-", input_="\n".join(cmds) + "\n")
        self._start_listener()
        self.agents["router"] = _Agent(router, "router")
        self.agents["client"] = _Agent(self.ns("client"), "client")
        self.agents["sniff"] = _Agent(self.ns("server"), "sniff")
        self._warm_up()

    def _warm_up(self) -> None:
        """Wait until both families connect through the empty router (neighbour discovery done)."""
        probe = [(Packet(4, "100.64.0.1", FOREIGN[4][0], 6, 25, 39999), ROUTER_SUB_IF)]
        probe.append((Packet(6, "2001:db8:8000::1", FOREIGN[6][0], 6, 25, 39999), ROUTER_SUB_IF))
        for _ in range(20):
            if all(res == "connected" for res, _a in self.send(probe)):
                return
        raise LabError(f"the empty router does not forward: {self.send(probe)}")

    def _start_listener(self) -> None:
        argv = ["ip", "netns", "exec", self.ns("server"), sys.executable, "-m", "op25b_cfg.lab.smtp", "serve"]
        argv += ["--port", "25", "--port", "587", "--port", "465", "--hostname", "mx.foreign.example"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.listener = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO, env=env, start_new_session=True
        )
        assert self.listener.stdout is not None
        if not self.listener.stdout.readline().startswith(b"READY"):
            raise LabError("SMTP listener in the server namespace did not start")

    def down(self) -> None:
        for agent in self.agents.values():
            agent.stop()
        if self.listener is not None and self.listener.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.listener.pid, 15)
            self.listener.wait(timeout=5)
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -------------------------------------------------------------------------------------------- use

    def load(self, ruleset: str) -> str:
        """Replace the router's whole ruleset (and forget its conntrack entries); '' or nft's error."""
        answer = self.agents["router"].ask({"load": ruleset})
        return "" if answer.get("ok") else str(answer.get("error"))

    def send(self, probes: list[tuple[Packet, str]]) -> list[tuple[str, bool]]:
        """Send every (packet, router input interface) from the client, all at once (packets with the same
        addresses and ports in separate rounds); per probe (connect outcome, arrived at the server). An ACK-only
        packet is the ACK of a real handshake from its source port: arrived means an ACK-only segment of that
        connection reached the server."""
        unique = list(dict.fromkeys(probes))
        rounds: list[dict[tuple[str, int, str, int], tuple[Packet, str]]] = []
        for probe in unique:
            key = _key(probe[0])
            free = next((r for r in rounds if key not in r), None)
            if free is None:
                free = {}
                rounds.append(free)
            free[key] = probe
        by_probe: dict[tuple[Packet, str], tuple[str, bool]] = {}
        for rnd in rounds:
            by_probe.update(self._round(list(rnd.values())))
        return [by_probe[p] for p in probes]

    def _round(self, probes: list[tuple[Packet, str]]) -> dict[tuple[Packet, str], tuple[str, bool]]:
        self.agents["sniff"].ask({"get": True})  # forget what arrived before
        cmds = [
            {"id": i, "family": p.family, "src": p.src, "sport": p.src_port, "dst": p.dst, "dport": p.dst_port,
             "flags": p.tcp_flags, "dev": SUB_IFS[iif.split(">")[0]], "tos": EGRESS_TOS if ">" in iif else 0}
            for i, (p, iif) in enumerate(probes)
        ]  # fmt: skip
        results = self.agents["client"].ask({"probes": cmds, "timeout": CONNECT_TIMEOUT})["results"]
        arrived: dict[tuple[str, int, str, int], set[str]] = {}
        for src, sport, dst, dport, flags in self.agents["sniff"].ask({"get": True})["seen"]:
            arrived.setdefault(_key(Packet(0, src, dst, 6, dport, sport)), set()).add(flags)
        out = {}
        for i, (p, iif) in enumerate(probes):
            got = arrived.get(_key(p), set())
            hit = p.tcp_flags in got if p.tcp_flags != "A" else any("A" in f and "S" not in f for f in got)
            out[(p, iif)] = (str(results[str(i)]), hit)
        return out


def _key(p: Packet) -> tuple[str, int, str, int]:
    return (str(ipaddress.ip_address(p.src)), p.src_port, str(ipaddress.ip_address(p.dst)), p.dst_port)


@contextlib.contextmanager
def kernel_lab() -> Iterator[KernelLab]:
    """A kernel lab with names unique to this process and call; removed on exit, also on failure."""
    lab = KernelLab(prefix=f"o25k{os.getpid()}x{next(_counter)}-")
    try:
        lab.build()
        yield lab
    finally:
        lab.down()


# ------------------------------------------------------------------------------------------------ comparison

BLOCK_CLAIMS = (Code.MTA_BLOCKED, Code.SUBMISSION_BLOCKED, Code.EXEMPT_BLOCKED)
MISSING_CLAIMS = (Code.FILTER_MISSING, Code.NOT_APPLIED)


@dataclass
class Disagreement:
    kind: str
    """false-compliant-leak, false-compliant-blocked, leak-not-reproduced, blocked-not-reproduced,
    missing-not-shown (a certain FILTER_MISSING/NOT_APPLIED while no pool SYN of that family leaks)"""
    detail: str
    packet: Packet | None = None
    outcome: str = ""


@dataclass
class Outcome:
    verdict: Verdict
    disagreements: list[Disagreement]
    replayed: int = 0
    not_replayable: list[str] = field(default_factory=list)
    load_error: str = ""


_LABEL = re.compile(r"\(iifname (\S+)(?: oifname ([^)]*))?\)")
_OIF_PATTERN = re.compile(r'oifname (?:!= )?(?:"([^"]+)"|\{([^}]*)\})')


def _names_uplink(ruleset: str, name: str = ROUTER_UP_IF) -> bool:
    """Whether some ``oifname`` pattern or egress hook device of the ruleset matches the interface ``name``.

    >>> _names_uplink('type filter hook egress device "uplink0" priority 0;'), _names_uplink('oifname "eth*" drop')
    (True, False)
    """
    if re.search(rf'hook egress device "?{name}\b', ruleset):
        return True
    for m in _OIF_PATTERN.finditer(ruleset):
        for pat in re.findall(r'"([^"]+)"', m.group(0)):
            if name == pat or (pat.endswith("*") and name.startswith(pat[:-1])):
                return True
    return False


def claim_iif(message: str, ruleset: str = "") -> str | None:
    """The router interface a finding's counterexample enters by (from its ``(iifname X oifname Y)`` label), with
    ``>other0`` when it assumes an egress no rule names while the ruleset names the uplink; None when the lab has
    no interface of that class.

    >>> claim_iif("leaks through nft-forward ppp* in (iifname ppp*): tcp ...")
    'pppz'
    >>> claim_iif("at nft-forward ppp0 in (iifname ppp0): tcp ..."), claim_iif("x (iifname eth1): y")
    ('ppp0', None)
    >>> any_egress = "(iifname ppp oifname <any interface no rule names: no uplinks in the inventory>)"
    >>> claim_iif(any_egress, ""), claim_iif(any_egress, 'oifname "uplink*" accept')
    ('ppp', 'ppp>other0')
    """
    m = _LABEL.search(message)
    if m is None:
        return ROUTER_SUB_IF
    oif, egress = m.group(2), ""
    if oif is not None:
        if oif.startswith("<any interface no rule names") and _names_uplink(ruleset):
            if _names_uplink(ruleset, OTHER_EGRESS):
                return None
            egress = f">{OTHER_EGRESS}"
        elif not oif.startswith("<any interface no rule names") and oif not in (ROUTER_UP_IF, "uplink*", "uplink"):
            return None
    iif = {ROUTER_SUB_IF: ROUTER_SUB_IF, "ppp": "ppp", "ppp*": "pppz"}.get(m.group(1))
    return None if iif is None else iif + egress


UNPROVEN = "(not proven: line"
"""What the audit appends to a finding that something it does not model could overturn (checks.AuditCtx.add):
its counterexample is the packet it could not prove, not one it claims is blocked. (An untracked connection's
replies, for one: the lab's handshake with a server on the uplink cannot show a data segment conntrack picks up
as ``new``, or a reply that enters through a subscriber interface.)"""
REPLY_CLAIM = re.compile(r"is accepted, but the reply tcp .* is dropped")
"""A must-pass finding whose counterexample SYN passes while the server's reply is dropped."""

STATEFUL = re.compile(r"\blimit rate\b|\bct count\b|\bquota\b")
"""Statements whose match depends on the packets before (op25b judges a single connection against them)."""


def _send(
    lab: KernelLab, ruleset: str, claims: list[tuple[Packet, str]], probes: list[tuple[str, Packet, str]]
) -> list[tuple[str, bool]]:
    """Outcomes of the claims, then of the probes. All at once, except where the ruleset holds a rate limit or a
    connection count: there every claim and every must-pass probe is sent alone on a fresh load (one connection,
    as op25b judges it), so the harness's own parallel packets never exhaust a limit; leak probes stay parallel
    (more packets can only hide a leak, never invent one)."""
    if not STATEFUL.search(ruleset):
        return lab.send(claims + [(p, iif) for _k, p, iif in probes])
    alone = claims + [(p, iif) for k, p, iif in probes if k == "pass"]
    results: dict[tuple[Packet, str], tuple[str, bool]] = {}
    for probe in dict.fromkeys(alone):
        lab.load(ruleset)
        results[probe] = lab.send([probe])[0]
    lab.load(ruleset)
    leaks = [(p, iif) for k, p, iif in probes if k != "pass"]
    parallel = dict(zip(leaks, lab.send(leaks), strict=True))
    return [results[c] for c in claims] + [(parallel if k != "pass" else results)[(p, iif)] for k, p, iif in probes]


def compare(lab: KernelLab, case: Case, report: DeviceReport) -> Outcome:
    """Load ``case`` into the router, replay what ``report`` claims, and list where the kernel disagrees."""
    err = lab.load(case.ruleset)
    if err:
        return Outcome(report.verdict, [], load_error=err)
    claims: list[tuple[Code, Packet, str, str]] = []
    skipped: list[str] = []
    for f in report.findings:
        p = f.counterexample
        if p is None or UNPROVEN in f.message:  # a doubt (the UNKNOWN part of a report), not a claim to refute
            continue
        iif = claim_iif(f.message, case.ruleset)
        if replayable(p) and iif is not None:
            claims.append((f.code, p, iif, f.message))
        else:
            skipped.append(f"{f.code} {p}")
    probes = case.probes() if report.verdict == Verdict.COMPLIANT else []
    # a certain "no filter" finding (no counterexample of its own) claims that pool SYNs reach foreign port 25
    missing = [f for f in report.findings if f.code in MISSING_CLAIMS and f.counterexample is None]
    if report.verdict == Verdict.NONCOMPLIANT and missing:
        fams = {f.family for f in missing}
        probes += [pr for pr in case.probes() if pr[0] == "leak" and ({pr[1].family, None} & fams)]
    sent = _send(lab, case.ruleset, [(p, iif) for _c, p, iif, _m in claims], [(k, p, iif) for k, p, iif in probes])
    out: list[Disagreement] = []
    for (code, p, iif, msg), (res, arrived) in zip(claims, sent[: len(claims)], strict=True):
        if code == Code.SMTP_LEAK and not arrived:
            out.append(Disagreement("leak-not-reproduced", msg, p, f"{res}, not arrived (via {iif})"))
        elif code in BLOCK_CLAIMS and REPLY_CLAIM.search(msg):
            if res == "connected":  # the SYN passes; the claim is that the connection fails (its replies)
                out.append(Disagreement("blocked-not-reproduced", msg, p, f"{res} (via {iif})"))
        elif code in BLOCK_CLAIMS and (arrived or (res == "connected" and p.tcp_flags == "S")):
            out.append(Disagreement("blocked-not-reproduced", msg, p, f"{res}, arrived (via {iif})"))
    leaked = {p.family for (kind, p, _i), (_r, arrived) in zip(probes, sent[len(claims) :], strict=True) if arrived}
    if report.verdict == Verdict.NONCOMPLIANT:
        for f in missing:
            if not ({f.family} if f.family else {4, 6}) & leaked:
                out.append(Disagreement("missing-not-shown", f.message, None, "no leak probe reached the server"))
    for (kind, p, iif), (res, arrived) in zip(probes, sent[len(claims) :], strict=True):
        if report.verdict != Verdict.COMPLIANT:
            break
        if kind == "leak" and arrived:
            out.append(
                Disagreement("false-compliant-leak", "a pool SYN reached a foreign port 25", p, f"{res} via {iif}")
            )
        elif kind == "pass" and res != "connected":
            out.append(Disagreement("false-compliant-blocked", "a must-pass connection failed", p, f"{res} via {iif}"))
    return Outcome(report.verdict, out, replayed=len(claims), not_replayable=skipped)


# ------------------------------------------------------------------------------------------------ runs


@dataclass
class RunStats:
    rulesets: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    agreed: int = 0
    unknown: int = 0
    replayed: int = 0
    not_replayable: int = 0
    load_errors: list[str] = field(default_factory=list)
    disagreements: list[tuple[int, Disagreement]] = field(default_factory=list)

    def merge(self, other: RunStats) -> None:
        self.rulesets += other.rulesets
        for v, n in other.verdicts.items():
            self.verdicts[v] = self.verdicts.get(v, 0) + n
        self.agreed += other.agreed
        self.unknown += other.unknown
        self.replayed += other.replayed
        self.not_replayable += other.not_replayable
        self.load_errors += other.load_errors
        self.disagreements += other.disagreements

    def by_kind(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for _seed, d in self.disagreements:
            kinds[d.kind] = kinds.get(d.kind, 0) + 1
        return dict(sorted(kinds.items()))

    def summary(self) -> str:
        bad = len({s for s, _d in self.disagreements})
        return (
            f"{self.rulesets} rulesets: verdicts {dict(sorted(self.verdicts.items()))}; agreed {self.agreed},"
            f" UNKNOWN {self.unknown}, disagreeing {bad} ({len(self.disagreements)} disagreements"
            f" {self.by_kind()}); counterexamples replayed {self.replayed}, not replayable {self.not_replayable};"
            f" nft load errors {len(self.load_errors)}"
        )


def audit_case(case: Case, workdir: Path) -> DeviceReport:
    """op25b's audit of the case's ruleset text: the function ``op25b audit`` calls, on the case's inventory."""
    inv = api.load(case.write_inventory(workdir / f"inv-{case.seed}"))
    return api.audit_text(inv.devices["gen"], case.ruleset, source=f"nftgen seed {case.seed}")


def check(lab: KernelLab, case: Case) -> tuple[DeviceReport, Outcome]:
    report = audit_case(case, lab.workdir)
    return report, compare(lab, case, report)


def confirmed(lab: KernelLab, case: Case, report: DeviceReport, outcome: Outcome) -> Outcome:
    """Run a disagreeing case again from a fresh load; keep only the disagreements seen both times (a limit or a
    ct count can make parallel probes race)."""
    if not outcome.disagreements:
        return outcome
    again = compare(lab, case, report)
    twice = {(d.kind, d.packet) for d in again.disagreements}
    outcome.disagreements = [d for d in outcome.disagreements if (d.kind, d.packet) in twice]
    return outcome


def run(lab: KernelLab, seeds: range, only: frozenset[str] | None = None) -> RunStats:
    """Generate, audit, load and compare every seed; the numbers."""
    from tests.nftgen import generate

    stats = RunStats()
    for seed in seeds:
        case = generate(seed, only)
        report, outcome = check(lab, case)
        outcome = confirmed(lab, case, report, outcome)
        stats.rulesets += 1
        v = str(report.verdict)
        stats.verdicts[v] = stats.verdicts.get(v, 0) + 1
        if outcome.load_error:
            stats.load_errors.append(f"seed {seed}: {outcome.load_error}")
            continue
        stats.replayed += outcome.replayed
        stats.not_replayable += len(outcome.not_replayable)
        stats.disagreements += [(seed, d) for d in outcome.disagreements]
        if report.verdict == Verdict.UNKNOWN:
            stats.unknown += 1
        elif not outcome.disagreements:
            stats.agreed += 1
    return stats


def describe(seed: int, case: Case, report: DeviceReport, d: Disagreement) -> str:
    """A disagreement as a reproduction: seed, ruleset, packet, op25b's claim, the kernel's behaviour."""
    return (
        f"seed {seed}: {d.kind}\n  op25b: {report.verdict}; {d.detail}\n  packet: {d.packet}\n"
        f"  kernel: {d.outcome}\n  policy: {json.dumps(case.policy)}\n  attach: {case.host['data']['attach']}\n"
        f"  ruleset:\n{case.ruleset}"
    )


def _spans(lines: list[str]) -> list[tuple[int, int]]:
    """Removable pieces of a ruleset, largest first: whole tables, sets and chains, then single rules
    ([start, end) line ranges)."""
    spans: list[tuple[int, int]] = []
    for indent in ("", "\t"):
        for i, line in enumerate(lines):
            if line.startswith(indent) and not line.startswith(indent + "\t") and line.rstrip().endswith("{"):
                end = next((j for j in range(i + 1, len(lines)) if lines[j] == indent + "}"), None)
                if end is not None and line.strip().startswith(("table ", "set ", "chain ", "map ")):
                    spans.append((i, end + 1))
    for i, line in enumerate(lines):
        rule = line.startswith("\t\t") and not line.startswith("\t\t\t") and not line.rstrip().endswith("{")
        if rule and not line.strip().startswith(("type ", "flags ", "elements", "}")):
            spans.append((i, i + 1))
    return spans


def minimise(lab: KernelLab, case: Case, kind: str) -> tuple[Case, DeviceReport, Disagreement]:
    """Shrink ``case``'s ruleset (tables, sets, chains, then single rules) while a disagreement of ``kind``
    remains (confirmed by a second load each time)."""
    import dataclasses

    def still(text: str) -> tuple[DeviceReport, Disagreement] | None:
        c = dataclasses.replace(case, ruleset=text)
        report, outcome = check(lab, c)
        if outcome.load_error:
            return None
        outcome = confirmed(lab, c, report, outcome)
        return next(((report, d) for d in outcome.disagreements if d.kind == kind), None)

    best = still(case.ruleset)
    if best is None:
        raise LabError(f"seed {case.seed}: no {kind} disagreement to minimise")
    lines = case.ruleset.splitlines()
    changed = True
    while changed:
        changed, k = False, 0
        while k < len(spans := _spans(lines)):
            start, end = spans[k]
            trial = lines[:start] + lines[end:]
            got = still("\n".join(trial) + "\n")
            if got is not None:
                lines, best, changed = trial, got, True
            else:
                k += 1
    small = dataclasses.replace(case, ruleset="\n".join(lines) + "\n")
    return small, best[0], best[1]


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="nftables kernel differential: op25b's audit against the kernel")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--only", default="", help="comma-separated constructs (default all)")
    ap.add_argument("--show", action="store_true", help="print each disagreement with its ruleset")
    ap.add_argument("--minimise", action="store_true", help="shrink each disagreeing ruleset, print it")
    args = ap.parse_args(argv)
    from tests.nftgen import generate

    only = frozenset(args.only.split(",")) if args.only else None
    signal.signal(signal.SIGTERM, lambda *_a: sys.exit(1))  # a timeout still removes the namespaces
    with kernel_lab() as lab:
        stats = run(lab, range(args.seed, args.seed + args.count), only)
        print(stats.summary())
        for e in stats.load_errors:
            print("LOAD", e)
        done: set[tuple[int, str]] = set()
        for seed, d in stats.disagreements:
            if args.minimise:
                if (seed, d.kind) in done:
                    continue
                done.add((seed, d.kind))
                small, report, dd = minimise(lab, generate(seed, only), d.kind)
                print(describe(seed, small, report, dd) + "\n")
            elif args.show:
                case = generate(seed, only)
                print(describe(seed, case, audit_case(case, lab.workdir), d))
            else:
                print(f"seed {seed}: {d.kind} {d.packet} kernel {d.outcome} | {d.detail[:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
