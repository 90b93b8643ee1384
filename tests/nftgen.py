"""Seeded random OP25B-style nftables rulesets, with the op25b inventory (policy + host) that goes with each.

``generate(seed)`` returns a :class:`Case`: the ruleset text (loadable with ``nft -f`` into the router of
:mod:`tests.nftkernel`), the policy and host data op25b audits it against, and the probe packets that decide a
COMPLIANT verdict in the kernel. The same seed always gives the same case.

A ruleset is an OP25B block (the shape ``op25b generate`` renders for linux_nftables: exemptions, MTAs and
submission accepted, port 25 from the pools blocked) with random mutations, plus unrelated tables that a real
host has: other families (ip, ip6, inet, netdev ingress), base chains at prerouting, forward and postrouting at
several priorities and policies, jumps, gotos and returns, named and anonymous interval sets, verdict maps,
``ct state``, ``notrack``, tcp flags, negated and ranged ports, interface names and wildcards, accept, drop and
reject, ``limit``, ``ct count`` and op25b's connection delay (two dynamic sets keyed by source . destination .
source port, in front of the block rule with its match). ``CONSTRUCTS`` names the constructs; ``generate(seed,
only=...)`` restricts a run to some of them (to find which one a disagreement needs).
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from op25b_cfg.audit.model import Packet

ROUTER_SUB_IF = "ppp0"
"""The router's subscriber-facing interface (the attachment ``nft-forward ppp*`` covers it)."""
ROUTER_UP_IF = "uplink0"
"""The router's Internet/MTA-facing interface."""

CONSTRUCTS = (
    "other-tables",  # unrelated tables in other families
    "hooks",  # prerouting / postrouting / netdev ingress base chains
    "priorities",
    "policy-drop",
    "jumps",  # jump / goto / return between regular chains
    "sets",  # named and anonymous interval sets, ranges, negation
    "vmap",
    "concat",  # concatenated set matches (ip saddr . tcp dport { ... })
    "ct-state",
    "notrack",
    "flags",
    "ports",  # negated and ranged ports, source ports
    "ifaces",  # iifname / oifname names and wildcards
    "reject",
    "limit",
    "ct-count",
    "mutate",  # mutations of the OP25B block itself
    "delay",  # the connection delay, right before the block rule (drawn from a random stream of its own)
)

FOREIGN = {4: ["203.0.113.29", "198.51.100.29"], 6: ["2001:db8:ffff::29", "2001:db8:eeee::29"]}
EPHEMERAL = 40000


@dataclass
class Case:
    seed: int
    ruleset: str
    policy: dict[str, Any]
    host: dict[str, Any]
    sports: list[int] = field(default_factory=list)
    """Source ports the ruleset names (the leak probes try each besides an ephemeral one)."""

    def write_inventory(self, dest: Path) -> Path:
        """policy.yaml and hosts.yaml (device ``gen``) in ``dest``; returns ``dest``."""
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "policy.yaml").write_text(yaml.safe_dump(self.policy, sort_keys=False), encoding="utf-8")
        (dest / "hosts.yaml").write_text(yaml.safe_dump({"gen": self.host}, sort_keys=False), encoding="utf-8")
        return dest

    def _prefixes(self, fam: int, what: str) -> list[Any]:
        key = f"ipv{fam}"
        if what == "pools":
            return [ipaddress.ip_network(n) for p in self.policy["pools"] for n in p.get(key, [])]
        if what == "mtas":
            return [ipaddress.ip_network(n) for n in self.policy["mtas"].get(key, [])]
        ex = self.policy["exemptions"]
        items = ex.get("static", []) + ex.get("opt_out", [])
        return [n for n in (ipaddress.ip_network(i["prefix"]) for i in items) if n.version == fam]

    def probes(self) -> list[tuple[str, Packet, str]]:
        """(kind, packet, router input interface): a "leak" packet must not reach the server, a "pass" packet
        must connect. Leaks are tried through every subscriber interface the attachment covers (from its own
        source address each), must-pass connections through ppp0 (the router's route back to the pools)."""
        out: list[tuple[str, Packet, str]] = []
        attach = self.host["data"]["attach"][0]["name"]
        ifaces = [ROUTER_SUB_IF] + (["ppp", "pppz"] if attach.endswith("*") else [])
        sub = self.policy.get("submission_ports", [587, 465])
        for fam in (4, 6):
            exempt = self._prefixes(fam, "exempt")
            for pool in self._prefixes(fam, "pools"):
                srcs = [h for h in (pool.network_address + 10, pool.network_address + 0x1234) if h in pool]
                srcs = [h for h in srcs if not any(h in e for e in exempt)]
                for n, iif in enumerate(ifaces):
                    for src in srcs[:2]:
                        for dst in FOREIGN[fam]:
                            for sport in (EPHEMERAL, *self.sports):
                                out.append(("leak", Packet(fam, str(src + n), dst, 6, 25, sport), iif))
                for n, iif in enumerate(ifaces):
                    src = str(pass_source(pool, n))
                    for mta in self._prefixes(fam, "mtas"):
                        out.append(("pass", Packet(fam, src, str(mta.network_address), 6, 25, EPHEMERAL + 1), iif))
                    for port in sub:
                        out.append(("pass", Packet(fam, src, FOREIGN[fam][0], 6, port, EPHEMERAL + 2), iif))
            for ex in exempt:
                for n, iif in enumerate(ifaces):
                    src = str(pass_source(ex, n))
                    out.append(("pass", Packet(fam, src, FOREIGN[fam][1], 6, 25, EPHEMERAL + 3), iif))
        return out


POOL_BASES = ("100.64.0.0/17", "100.65.0.0/16", "2001:db8:8000::/40")
EXEMPT_BASES = ("100.64.200.0/24", "100.64.77.0/28", "2001:db8:8000:4711::/64")
"""Every pool and exemption :func:`generate` uses starts at one of these (the lab routes the must-pass sources
of each subscriber interface back through that interface)."""


def pass_source(net: Any, n: int) -> Any:
    """The source address of must-pass connections from ``net`` through the ``n``-th subscriber interface.

    >>> net = ipaddress.ip_network
    >>> str(pass_source(net("100.64.0.0/16"), 1)), str(pass_source(net("100.64.77.0/28"), 2))
    ('100.64.0.33', '100.64.77.7')
    >>> str(pass_source(ipaddress.ip_network("100.65.3.7/32"), 1))
    '100.65.3.7'
    """
    if net.num_addresses == 1:
        return net.network_address
    return net.network_address + (5 if net.num_addresses <= 256 and net.version == 4 else 0x20) + n


# ------------------------------------------------------------------------------------------------ policy


def _policy(r: random.Random) -> dict[str, Any]:
    pools: list[dict[str, Any]] = [{"name": "DYN-A", "ipv4": [r.choice(["100.64.0.0/16", "100.64.0.0/17"])]}]
    if r.random() < 0.5:
        pools.append({"name": "DYN-B", "ipv4": ["100.65.0.0/16"]})
    pools.append({"name": "DYN-V6", "ipv6": [r.choice(["2001:db8:8000::/36", "2001:db8:8000::/40"])]})
    static = [{"name": "STATIC-1", "prefix": r.choice(["100.64.200.0/24", "100.64.77.0/28"])}]
    opt_out: list[dict[str, Any]] = []
    if r.random() < 0.5:
        opt_out.append({"subscriber": "cust-v6", "prefix": "2001:db8:8000:4711::/64"})
    mtas = {"ipv4": ["192.0.2.25"] + (["192.0.2.26"] if r.random() < 0.5 else []), "ipv6": ["2001:db8:25::25"]}
    return {
        "name": "gen-isp",
        "mode": "block",
        "submission_ports": r.choice([[587, 465], [587]]),
        "log": False,
        "counters": False,
        "pools": pools,
        "mtas": mtas,
        "exemptions": {"static": static, "opt_out": opt_out},
    }


# ------------------------------------------------------------------------------------------------ rulesets


class _Gen:
    def __init__(self, seed: int, only: frozenset[str] | None) -> None:
        self.r = random.Random(seed)
        self.on = frozenset(CONSTRUCTS) if only is None else only
        self.sports: set[int] = set()
        self.chain_no = 0
        # the delay's draws come from a stream of their own, so adding it left every other draw (and the
        # rulesets of seeds without a delay) as they were
        self.delay_r = random.Random(f"delay-{seed}")
        self.delays: dict[int, int] = {}
        """family -> delay (s) of the delay sets the current table needs."""

    def use(self, construct: str, p: float) -> bool:
        return construct in self.on and self.r.random() < p

    # ---- atoms

    def addr(self, fam: int, nets: list[str], setname: str | None) -> str:
        r = self.r
        if setname and self.use("sets", 0.5):
            return f"@{setname}"
        if len(nets) > 1 or self.use("sets", 0.3):
            return "{ " + ", ".join(nets) + " }"
        net = ipaddress.ip_network(nets[0])
        if fam == 4 and self.use("sets", 0.2):
            return f"{net.network_address}-{net.broadcast_address}"
        return str(net) if net.num_addresses > 1 or r.random() < 0.5 else str(net.network_address)

    def dport(self, port: int | list[int]) -> str:
        ports = [port] if isinstance(port, int) else port
        r = self.r
        if len(ports) == 1 and self.use("ports", 0.15):
            p = ports[0]
            return r.choice([f"{p - 2}-{p + 3}", "{ " + f"{p}, {p + 1000}" + " }"])
        return str(ports[0]) if len(ports) == 1 else "{ " + ", ".join(map(str, ports)) + " }"

    def extra_match(self) -> str:
        """A match that leaves the rule's meaning for new subscriber SYNs mostly intact, or not."""
        r = self.r
        opts = []
        if "ct-state" in self.on:
            opts += ["ct state new", "ct state { new, untracked }", "ct state != established"]
        if "flags" in self.on:
            opts += ["tcp flags syn", "tcp flags & (syn | ack) == syn", "tcp flags & (fin | syn | rst | ack) == syn"]
        if "ifaces" in self.on:
            opts += ['iifname "ppp*"', f'iifname "{ROUTER_SUB_IF}"', 'oifname "uplink*"', 'iifname != "eth9"']
        if "ports" in self.on:
            sp = r.choice([1024, 179, 25, 2525])
            self.sports.add(sp)
            opts += ["tcp sport 1024-65535", f"tcp sport != {sp}"]
        return r.choice(opts) if opts else ""

    def verdict_block(self, table_family: str) -> str:
        if self.use("reject", 0.5):
            icmpx = ["reject with icmpx type admin-prohibited"] if table_family == "inet" else []
            return self.r.choice(["reject with tcp reset", "reject", *icmpx])
        return "drop"

    # ---- the OP25B block

    def op25b_rules(self, pol: dict[str, Any], fam: int, sets: dict[str, str], table_family: str) -> list[str]:
        r = self.r
        key = f"ipv{fam}"
        ipk = "ip" if fam == 4 else "ip6"
        pools = [n for p in pol["pools"] for n in p.get(key, [])]
        ex = pol["exemptions"]
        exempt = [i["prefix"] for i in ex["static"] + ex["opt_out"] if ipaddress.ip_network(i["prefix"]).version == fam]
        mtas = pol["mtas"][key]
        sub = pol["submission_ports"]
        rules: list[str] = []
        if exempt:
            rules.append(f"{ipk} saddr {self.addr(fam, exempt, sets.get('exempt'))} tcp dport 25 accept")
        if self.use("concat", 0.3):
            elems = ", ".join(f"{p} . {m} . 25" for p in pools for m in mtas)
            rules.append(f"{ipk} saddr . {ipk} daddr . tcp dport {{ {elems} }} accept")
        else:
            pool_m, mta_m = self.addr(fam, pools, sets.get("pool")), self.addr(fam, mtas, sets.get("mta"))
            rules.append(f"{ipk} saddr {pool_m} {ipk} daddr {mta_m} tcp dport 25 accept")
        if self.use("concat", 0.2):
            elems = ", ".join(f"{p} . {port}" for p in pools for port in sub)
            rules.append(f"{ipk} saddr . tcp dport {{ {elems} }} accept")
        else:
            ports = "@SUBMISSION" if "submission" in sets and r.random() < 0.7 else self.dport(sub)
            proto = "meta l4proto tcp th" if self.use("ports", 0.2) else "tcp"
            rules.append(f"{ipk} saddr {self.addr(fam, pools, sets.get('pool'))} {proto} dport {ports} accept")
        block = f"{ipk} saddr {self.addr(fam, pools, sets.get('pool'))} tcp dport {self.dport(25)}"
        base = block
        if self.use("ct-state", 0.3):
            block += " ct state new"
        if self.use("limit", 0.1):
            block += " limit rate over 2/minute"
        if self.use("ct-count", 0.1):
            block += " ct count over 0"
        block_rule = f"{block} {self.verdict_block(table_family)}"
        rules.append(block_rule)
        if self.use("mutate", 0.35):
            i = r.randrange(len(rules))
            kind = r.choice(["drop-rule", "swap", "extra", "port", "negate", "accept"])
            if kind == "drop-rule":
                del rules[i]
            elif kind == "swap" and len(rules) > 1:
                j = r.randrange(len(rules))
                rules[i], rules[j] = rules[j], rules[i]
            elif kind == "extra" and (m := self.extra_match()):
                rules[i] = f"{m} {rules[i]}"
            elif kind == "port":
                rules[i] = rules[i].replace("dport 25 ", f"dport {r.choice(['24', '26', '2525', '!= 25'])} ", 1)
            elif kind == "negate" and " saddr . " not in rules[i]:
                rules[i] = rules[i].replace(" saddr ", " saddr != ", 1)
            elif kind == "accept":
                rules.insert(i, f"{ipk} saddr {self.addr(fam, pools, None)} {self.extra_match()} accept")
        # only in front of a plain block rule with the same match (no rate or count in it): every packet the delay
        # holds back is dropped next, so the kernel's short connect timeout and op25b (a delay is not a block) agree
        plain = block in (base, f"{base} ct state new")
        if "delay" in self.on and self.delay_r.random() < 0.1 and plain and block_rule in rules:
            self.delays.setdefault(fam, self.delay_r.choice([1, 2, 3]))
            key = f"{ipk} saddr . {ipk} daddr . tcp sport"
            wait, seen = f"op25b_delay_wait_v{fam}", f"op25b_delay_seen_v{fam}"
            pair = (
                f"{base} ct state new {key} @{wait} drop\n"
                f"{base} ct state new {key} != @{seen} add @{seen} {{ {key} }} add @{wait} {{ {key} }} drop"
            )
            rules.insert(rules.index(block_rule), pair)  # one entry: its two rules stay together
        return rules

    def op25b_table(self, pol: dict[str, Any], fam_choice: str = "inet", name: str = "op25b") -> str:
        r = self.r
        fams = {"inet": (4, 6), "ip": (4,), "ip6": (6,)}[fam_choice]
        lines = [f"table {fam_choice} {name} {{"]
        sets_by_fam: dict[int, dict[str, str]] = {}
        for fam in fams:
            key = f"ipv{fam}"
            sets_by_fam[fam] = {}
            ex = pol["exemptions"]
            groups = {
                "pool": [n for p in pol["pools"] for n in p.get(key, [])],
                "exempt": [
                    i["prefix"]
                    for i in ex["static"] + ex["opt_out"]
                    if ipaddress.ip_network(i["prefix"]).version == fam
                ],
                "mta": pol["mtas"][key],
            }
            for what, nets in groups.items():
                if not nets or "sets" not in self.on:
                    continue
                name = f"{what.upper()}-V{fam}"
                sets_by_fam[fam][what] = name
                lines += [f"\tset {name} {{", f"\t\ttype ipv{fam}_addr", "\t\tflags interval"]
                lines += [f"\t\telements = {{ {', '.join(nets)} }}", "\t}"]
        if self.use("sets", 0.2):
            lines += [
                "\tset SUBMISSION {",
                "\t\ttype inet_service",
                f"\t\telements = {{ {', '.join(map(str, pol['submission_ports']))} }}",
                "\t}",
            ]
            for fam in fams:
                sets_by_fam[fam]["submission"] = "SUBMISSION"
        body: list[str] = []
        self.delays = {}
        for fam in fams:
            body += self.op25b_rules(pol, fam, sets_by_fam[fam], fam_choice)
        for fam, delay in self.delays.items():
            kind = f"ipv{fam}_addr"
            for name, timeout in (("wait", delay), ("seen", 2 * delay + 4)):
                lines += [f"\tset op25b_delay_{name}_v{fam} {{", f"\t\ttype {kind} . {kind} . inet_service"]
                lines += ["\t\tsize 65535", "\t\tflags dynamic,timeout", f"\t\ttimeout {timeout}s", "\t}"]
        prio = r.choice(["filter", "filter - 5", "0", "10"]) if "priorities" in self.on else "filter"
        policy = "drop" if self.use("policy-drop", 0.2) else "accept"
        hook = "prerouting" if self.use("hooks", 0.15) else "forward"
        head = [f"\t\ttype filter hook {hook} priority {prio}; policy {policy};"]
        if policy == "drop":
            head.append("\t\tct state established,related accept")
        entry = 'iifname "ppp*"' if r.random() < 0.7 else f'iifname "{ROUTER_SUB_IF}"'
        how = r.choice(["inline", "jump", "jump", "goto", "vmap", "portvmap", "namedvmap"])
        if (how.endswith("vmap") and "vmap" not in self.on) or (how in ("jump", "goto") and "jumps" not in self.on):
            how = "inline"
        if policy == "drop" and self.use("vmap", 0.3):
            head[1] = "\t\tct state vmap { established : accept, related : accept, invalid : drop }"
        if how == "inline":
            lines += ["\tchain forward {", *head, *[f"\t\t{entry} {x}" for b in body for x in b.split("\n")]]
            if policy == "drop":
                lines.append("\t\taccept")
            lines.append("\t}")
        else:
            ports = sorted({25, *pol["submission_ports"]})
            if how == "vmap":
                jump = 'iifname vmap { "ppp*" : jump subscriber, "eth7" : accept }'
            elif how == "portvmap":
                elems = ", ".join(f"tcp . {p} : jump subscriber" for p in ports)
                jump = f"{entry} meta l4proto . th dport vmap {{ {elems} }}"
            elif how == "namedvmap":
                elems = ", ".join(f"{p} : jump subscriber" for p in ports)
                lines += ["\tmap SMTPMAP {", "\t\ttype inet_service : verdict", f"\t\telements = {{ {elems} }}", "\t}"]
                jump = f"{entry} tcp dport vmap @SMTPMAP"
            else:
                jump = f"{entry} {how} subscriber"
            lines += ["\tchain forward {", *head, f"\t\t{jump}"]
            if policy == "drop":
                lines.append("\t\taccept")
            lines += ["\t}", "\tchain subscriber {"]
            for b in body:
                lines += [f"\t\t{x}" for x in b.split("\n")]
                if "\n" not in b and self.use("jumps", 0.1):  # (the delay's pair draws nothing: same stream)
                    lines.append("\t\ttcp dport 465 return")
            lines.append("\t}")
        lines.append("}")
        return "\n".join(lines)

    # ---- unrelated tables

    def other_table(self, n: int) -> str:
        r = self.r
        family = r.choice(["ip", "ip6", "inet", "netdev"] if "hooks" in self.on else ["ip", "ip6", "inet"])
        fam = 6 if family == "ip6" else 4 if family == "ip" else r.choice([4, 6])
        ipk = "ip" if fam == 4 else "ip6"
        lines = [f"table {family} t{n} {{"]
        if family == "netdev" or (family == "inet" and self.use("hooks", 0.15)):
            dev = ROUTER_SUB_IF if family == "inet" or r.random() < 0.8 else ROUTER_UP_IF
            hook = f'{"egress" if dev == ROUTER_UP_IF else "ingress"} device "{dev}"'
            prio = r.choice(["0", "-100", "100"])
        else:
            hooks = ["prerouting", "forward", "postrouting"] if "hooks" in self.on else ["forward"]
            h = r.choice(hooks)
            if h == "prerouting":
                prio = r.choice(["raw", "-150", "mangle", "filter", "dstnat"]) if "priorities" in self.on else "0"
            elif h == "postrouting":
                prio = r.choice(["filter", "mangle", "srcnat", "300"]) if "priorities" in self.on else "0"
            else:
                prio = r.choice(["filter", "-10", "10", "mangle"]) if "priorities" in self.on else "0"
            hook = h
        policy = "drop" if self.use("policy-drop", 0.15) else "accept"
        lines += ["\tchain c {", f"\t\ttype filter hook {hook} priority {prio}; policy {policy};"]
        if policy == "drop" and "device" not in hook:
            lines.append("\t\tct state established,related accept")
        rules = [self.noise_rule(family, fam, ipk, hook) for _ in range(r.randint(1, 4))]
        if policy == "drop":
            rules.append(r.choice(["accept", f"meta nfproto ipv{fam} accept" if family == "inet" else "accept"]))
        if self.use("jumps", 0.4):
            lines += [f"\t\t{x}" for x in rules[:1]] + ["\t\tjump sub"]
            lines += ["\t}", "\tchain sub {"] + [f"\t\t{x}" for x in rules[1:]] + ["\t}", "}"]
        else:
            lines += [f"\t\t{x}" for x in rules] + ["\t}", "}"]
        return "\n".join(lines)

    def noise_rule(self, family: str, fam: int, ipk: str, hook: str) -> str:
        r = self.r
        port = r.choice([25, 465, 587, 80, 443, 2525, 80, 443, 2525])
        verdict = r.choice(["accept", "drop", "counter", "counter accept", "accept"])
        if verdict == "drop" and self.use("reject", 0.3) and "device" not in hook and hook != "postrouting":
            verdict = "reject with tcp reset"
        pre: list[str] = []
        if r.random() < 0.4:
            nets = ["100.64.0.0/12", "100.64.200.0/24", "100.65.0.0/16"]
            if fam == 6:
                nets = ["2001:db8:8000::/38", "2001:db8:8000:4711::/64"]
            pre.append(f"{ipk} saddr {r.choice(nets)}")
        if r.random() < 0.3:
            nets = ["192.0.2.0/24", "203.0.113.0/24"] if fam == 4 else ["2001:db8:25::/48", "2001:db8:ffff::/48"]
            pre.append(f"{ipk} daddr {r.choice(nets)}")
        x = self.extra_match() if "device" not in hook and r.random() < 0.4 else ""
        if x and not (x.startswith("oifname") and hook == "prerouting"):
            pre.append(x)
        if self.use("vmap", 0.15):
            v = r.choice(["accept", "drop"])
            return " ".join([*pre, f"tcp dport vmap {{ {port} : {v}, 9999 : drop }}"])
        m = [*pre, f"tcp dport {self.dport(port)}"]
        if hook == "prerouting" and self.use("notrack", 0.3):
            return f"{' '.join(m)} notrack"
        if "device" not in hook and self.use("ct-count", 0.08):
            return f"{' '.join(m)} ct count over {r.choice([0, 3])} drop"
        if self.use("limit", 0.1):
            return f"{' '.join(m)} limit rate {r.choice(['over 1/minute', '100/second'])} {verdict}"
        return f"{' '.join(m)} {verdict}"


def generate(seed: int, only: frozenset[str] | None = None) -> Case:
    """The case of ``seed`` (restricted to the constructs in ``only``, default all)."""
    g = _Gen(seed, only)
    r = g.r
    pol = _policy(r)
    layout = r.random() if "other-tables" in g.on else 0.0
    if layout < 0.6:
        parts = [g.op25b_table(pol)]
    elif layout < 0.9:
        parts = [g.op25b_table(pol, "ip", "op25b4"), g.op25b_table(pol, "ip6", "op25b6")]
    else:
        parts = [g.op25b_table(pol, r.choice(["ip", "ip6"]))]
    if "other-tables" in g.on or "hooks" in g.on:
        parts += [g.other_table(n) for n in range(r.randint(0, 3))]
    r.shuffle(parts)
    attach = r.choice(["ppp*", "ppp*", ROUTER_SUB_IF])
    data: dict[str, Any] = {
        "pools": [p["name"] for p in pol["pools"]],
        "attach": [{"kind": "nft-forward", "name": attach, "direction": "in"}],
    }
    if r.random() < 0.7:
        data["uplinks"] = [r.choice([ROUTER_UP_IF, ROUTER_UP_IF, "uplink*"])]
    host = {"hostname": "192.0.2.200", "platform": "linux_nftables", "data": data}
    return Case(seed=seed, ruleset="\n".join(parts) + "\n", policy=pol, host=host, sports=sorted(g.sports))
