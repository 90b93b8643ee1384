"""Agents of the nftables kernel differential (:mod:`tests.nftkernel`), each started inside one lab namespace.

They read one JSON command per line on stdin and answer one JSON line on stdout, so the harness pays the
``ip netns exec`` start-up once per run, not once per packet::

    python -m tests.nftlab_agent router   # {"load": TEXT} -> flush ruleset + conntrack, nft -f; {"ok", "error"}
    python -m tests.nftlab_agent client   # {"probes": [...], "timeout": 0.3} -> {"results": {id: outcome}}
    python -m tests.nftlab_agent sniff    # {"get": true} -> {"seen": [[src, sport, dst, dport, flags], ...]}

``client`` sends each probe as that exact packet: a pure SYN is a real ``connect()`` bound to the probe's source
address and port (outcomes ``connected``, ``refused``, ``unreachable``, ``timeout``, ``error``); any other flag
combination is a crafted TCP segment through a raw socket (outcome ``sent``). ``sniff`` records every TCP
segment that arrives on its interface (an ``AF_PACKET`` socket, so before any local firewall), which is how the
harness tells whether a packet reached the external namespace at all.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time
from typing import Any

IP_FREEBIND = 15
IPV6_FREEBIND = 78
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
FLAG_BITS = "FSRPAUEC"
"""TCP flag letters in bit order (FIN = bit 0 ... CWR = bit 7), as op25b prints them."""


def _flags_value(flags: str) -> int:
    """>>> _flags_value("SA")
    18
    """
    return sum(1 << FLAG_BITS.index(c) for c in flags)


def _flags_text(value: int) -> str:
    """>>> _flags_text(18)
    'SA'
    """
    return "".join(c for i, c in enumerate(FLAG_BITS) if value & (1 << i))


# ------------------------------------------------------------------------------------------------ router


def _flush_conntrack() -> str:
    """Delete every conntrack entry of this namespace (ctnetlink IPCTNL_MSG_CT_DELETE without attributes)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
    try:
        for family in (socket.AF_INET, socket.AF_INET6):
            payload = struct.pack("BBH", family, 0, 0)  # nfgenmsg
            hdr = struct.pack("=IHHII", 16 + len(payload), (1 << 8) | 2, 0x1 | 0x4, 1, 0)  # REQUEST|ACK
            sock.send(hdr + payload)
            reply = sock.recv(4096)
            err = struct.unpack_from("=i", reply, 16)[0] if len(reply) >= 20 else 0
            if err not in (0, -errno.ENOENT):
                return f"conntrack flush failed: {os.strerror(-err)}"
    finally:
        sock.close()
    return ""


def router_command(cmd: dict[str, Any]) -> dict[str, Any]:
    if "load" in cmd:
        text = "flush ruleset\n" + str(cmd["load"])
        proc = subprocess.run(["nft", "-f", "-"], input=text, capture_output=True, text=True, timeout=30, check=False)
        if proc.returncode != 0:
            return {"ok": False, "error": proc.stderr.strip()}
        return {"ok": True, "error": _flush_conntrack()}
    if "counters" in cmd:
        proc = subprocess.run(["nft", "-j", "list", "ruleset"], capture_output=True, text=True, timeout=30, check=False)
        return {"ok": proc.returncode == 0, "ruleset": proc.stdout}
    return {"ok": False, "error": f"unknown command {sorted(cmd)}"}


# ------------------------------------------------------------------------------------------------ client


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _segment(src: str, dst: str, sport: int, dport: int, flags: int) -> bytes:
    """A 20-byte TCP header with a correct checksum over the family's pseudo-header."""
    seq = int.from_bytes(os.urandom(4), "big")
    ack = int.from_bytes(os.urandom(4), "big") if flags & 0x10 else 0
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    s, d = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    pseudo = s + d + (struct.pack("!BBH", 0, 6, len(hdr)) if len(s) == 4 else struct.pack("!I3xB", len(hdr), 6))
    return hdr[:16] + struct.pack("!H", _checksum(pseudo + hdr)) + hdr[18:]


def _bound(family: int, src: str, sport: int, kind: int, proto: int = 0, dev: str = "", tos: int = 0) -> socket.socket:
    af = socket.AF_INET6 if family == 6 else socket.AF_INET
    sock = socket.socket(af, kind, proto)
    if tos:
        if family == 6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if dev:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    if family == 6:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    sock.bind((src, sport if kind == socket.SOCK_STREAM else 0))
    return sock


_V6_ADDED: set[str] = set()


def _have_v6_source(src: str) -> None:
    """IPv6 has no usable AnyIP for sending: give the client each IPv6 source address it is asked to use."""
    if src not in _V6_ADDED:
        argv = ["ip", "-6", "addr", "add", f"{src}/128", "dev", "lo", "nodad"]
        subprocess.run(argv, capture_output=True, timeout=10, check=False)
        _V6_ADDED.add(src)


def connection_probe(flags: str, sport: int) -> bool:
    """Whether a probe is sent by a real ``connect()``: a pure SYN, or an ACK-only segment (then the packet is the
    handshake's ACK, seen by conntrack as part of a connection, as op25b means it); anything else, and source
    port 0 (which cannot be bound), is crafted.

    >>> [connection_probe(f, 40000) for f in ("S", "A", "SA", "F")], connection_probe("S", 0)
    ([True, True, False, False], False)
    """
    return sport != 0 and flags in ("S", "A")


def client_command(cmd: dict[str, Any]) -> dict[str, Any]:
    """Send every probe at once; wait for the connects up to ``timeout`` seconds."""
    timeout = float(cmd.get("timeout", 0.3))
    for p in cmd["probes"]:
        if int(p["family"]) == 6:
            _have_v6_source(str(p["src"]))
    results: dict[str, str] = {}
    pending: dict[socket.socket, str] = {}
    for p in cmd["probes"]:
        pid, fam, flags = str(p["id"]), int(p["family"]), str(p.get("flags", "S"))
        try:
            if not connection_probe(flags, int(p["sport"])):
                raw = _bound(fam, p["src"], 0, socket.SOCK_RAW, socket.IPPROTO_TCP, p.get("dev", ""), p.get("tos", 0))
                seg = _segment(p["src"], p["dst"], int(p["sport"]), int(p["dport"]), _flags_value(flags))
                raw.sendto(seg, (p["dst"], 0))
                raw.close()
                results[pid] = "sent"
                continue
            sock = _bound(fam, p["src"], int(p["sport"]), socket.SOCK_STREAM, 0, p.get("dev", ""), p.get("tos", 0))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)
            sock.setblocking(False)
            rc = sock.connect_ex((p["dst"], int(p["dport"])))
            if rc in (0, errno.EINPROGRESS):
                pending[sock] = pid
            else:
                results[pid] = _outcome(rc)
                sock.close()
        except OSError as exc:
            results[pid] = f"error: {exc}"
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        _r, ready, _x = select.select([], list(pending), [], left)
        for sock in ready:
            pid = pending.pop(sock)
            results[pid] = _outcome(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
            sock.close()
    for sock, pid in pending.items():
        results[pid] = "timeout"
        sock.close()
    return {"results": results}


def _outcome(err: int) -> str:
    if err == 0:
        return "connected"
    if err == errno.ECONNREFUSED:
        return "refused"
    if err in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM):
        return "unreachable"
    return f"error: {os.strerror(err)}"


# ------------------------------------------------------------------------------------------------ sniffer


def parse_frame(frame: bytes) -> tuple[str, int, str, int, str] | None:
    """(src, sport, dst, dport, flags) of an Ethernet frame carrying TCP, else None."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    ip = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 20 and ip[9] == 6:
        ihl = (ip[0] & 0x0F) * 4
        src, dst, tcp = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20])), ip[ihl:]
    elif ethertype == 0x86DD and len(ip) >= 40 and ip[6] == 6:
        src, dst, tcp = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40])), ip[40:]
    else:
        return None
    if len(tcp) < 14:
        return None
    sport, dport = struct.unpack_from("!HH", tcp, 0)
    return src, sport, dst, dport, _flags_text(tcp[13])


def sniff_loop() -> None:
    """Record every TCP segment arriving on any interface of the namespace."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setblocking(False)
    seen: list[tuple[str, int, str, int, str]] = []
    print(json.dumps({"ready": True}), flush=True)

    def drain() -> None:
        while True:
            try:
                frame, addr = sock.recvfrom(65535)
            except BlockingIOError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            t = parse_frame(frame)
            if t is not None:
                seen.append(t)

    while True:
        ready, _w, _x = select.select([sys.stdin, sock], [], [])
        if sock in ready:
            drain()
        if sys.stdin in ready:
            line = sys.stdin.readline()
            if not line:
                return
            drain()
            print(json.dumps({"seen": seen}), flush=True)
            seen = []


def main(argv: list[str]) -> int:
    role = argv[0]
    if role == "sniff":
        sniff_loop()
        return 0
    handler = router_command if role == "router" else client_command
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        try:
            answer = handler(json.loads(line))
        except Exception as exc:  # an agent answers every command; the harness reports what broke
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
