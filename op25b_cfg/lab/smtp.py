"""A small real SMTP listener and the subscriber-side SMTP probes of the namespace lab.

The listener speaks enough RFC 5321 for a real client (``smtplib``) to deliver a message: a 220 greeting,
EHLO/HELO, MAIL, RCPT, DATA (dot-terminated, dot-unstuffed), RSET, NOOP and QUIT, one asyncio task per
connection so sessions can be held open by the flow-control tests. It binds every port given on the
wildcard address of both families (IPv4 and IPv6) inside whatever network namespace it is started in.

The probes run the client side with :mod:`smtplib` and print one JSON object per attempt, so a test in the
root namespace can run them inside the subscriber namespace (``ip netns exec NS python -m
op25b_cfg.lab.smtp probe ...``) and read the verdicts::

    python -m op25b_cfg.lab.smtp serve --port 25 --port 587 --hostname mx.example --spool /tmp/spool
    python -m op25b_cfg.lab.smtp probe 198.51.100.25 25 192.0.2.25 25 --count 3
    python -m op25b_cfg.lab.smtp hold 198.51.100.25 25 --count 4 --retry-after-release
    python -m op25b_cfg.lab.smtp hold 203.0.113.25 25 --count 11 --source 100.64.1.11 --linger 5

``--source`` binds the client to one of the namespace's addresses (another subscriber); every attempt reports
``elapsed`` (seconds from the start of the TCP connect to its end: greeting read or failure) and ``sport`` (the
client's TCP source port, 0 when the connect failed). ``hold --linger S`` prints each attempt as it happens and
keeps the sessions open S seconds more, so another probe can run while they are held.

Outcomes of one attempt (``result``): ``delivered`` (the whole transaction ended with 250 after DATA),
``connected`` (greeting received; ``hold``), ``refused`` (TCP RST, e.g. ``reject with tcp reset``),
``timeout``, ``unreachable``, ``reset`` or ``error``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import smtplib
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

READY = "READY"
MAX_LINE = 2048
MAX_MESSAGE = 1 << 20
FROM_ADDR = "subscriber@example.net"
TO_ADDR = "postmaster@example.com"


# ---------------------------------------------------------------- server


class _SmtpSession:
    """State of one SMTP conversation."""

    def __init__(self, hostname: str, spool: Path | None, port: int) -> None:
        self.hostname = hostname
        self.spool = spool
        self.port = port
        self.greeted = False
        self.mail_from: str | None = None
        self.rcpts: list[str] = []

    def reset(self) -> None:
        self.mail_from = None
        self.rcpts = []

    def command(self, line: str) -> tuple[str, bool]:
        """The reply to one command line, and whether the client asked for DATA."""
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            self.greeted = True
            self.reset()
            return f"250-{self.hostname} greets {arg or 'client'}\r\n250-8BITMIME\r\n250 SIZE {MAX_MESSAGE}", False
        if verb == "HELO":
            self.greeted = True
            self.reset()
            return f"250 {self.hostname}", False
        if verb == "MAIL":
            if not arg.upper().startswith("FROM:"):
                return "501 Syntax: MAIL FROM:<address>", False
            if self.mail_from is not None:
                return "503 Nested MAIL command", False
            self.mail_from = arg[5:].strip()
            return "250 OK", False
        if verb == "RCPT":
            if self.mail_from is None:
                return "503 Need MAIL before RCPT", False
            if not arg.upper().startswith("TO:"):
                return "501 Syntax: RCPT TO:<address>", False
            self.rcpts.append(arg[3:].strip())
            return "250 OK", False
        if verb == "DATA":
            if not self.rcpts:
                return "503 Need RCPT before DATA", False
            return "354 End data with <CR><LF>.<CR><LF>", True
        if verb == "RSET":
            self.reset()
            return "250 OK", False
        if verb == "NOOP":
            return "250 OK", False
        return "502 Command not implemented", False

    def store(self, body: bytes) -> str:
        """Accept one message (written to the spool directory when there is one); return its queue id."""
        qid = f"{os.getpid()}.{time.monotonic_ns()}"
        if self.spool is not None:
            header = f"X-Op25b-Lab: port={self.port} from={self.mail_from} to={','.join(self.rcpts)}\r\n"
            (self.spool / f"{qid}.eml").write_bytes(header.encode() + body)
        self.reset()
        return qid


async def _read_data(reader: asyncio.StreamReader) -> bytes | None:
    """Read a DATA body up to the lone dot; undo dot-stuffing. None when the client went away."""
    lines: list[bytes] = []
    size = 0
    while True:
        line = await reader.readline()
        if not line:
            return None
        if line in (b".\r\n", b".\n"):
            return b"".join(lines)
        if line.startswith(b".."):
            line = line[1:]
        size += len(line)
        if size <= MAX_MESSAGE:
            lines.append(line)


async def _handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hostname: str, spool: Path | None
) -> None:
    port = writer.get_extra_info("sockname")[1]
    sess = _SmtpSession(hostname, spool, port)

    async def reply(text: str) -> None:
        writer.write(text.encode() + b"\r\n")
        await writer.drain()

    try:
        await reply(f"220 {hostname} ESMTP op25b-lab")
        while True:
            raw = await reader.readline()
            if not raw:
                break
            line = raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\r\n")
            if line.upper() == "QUIT":
                await reply(f"221 {hostname} closing connection")
                break
            text, data = sess.command(line)
            await reply(text)
            if data:
                body = await _read_data(reader)
                if body is None:
                    break
                await reply(f"250 OK queued as {sess.store(body)}")
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
            await writer.wait_closed()


def _listen_socket(port: int) -> socket.socket:
    """A dual-stack listening socket on [::]:port (IPv4 too), or 0.0.0.0 where IPv6 is off."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        addr: tuple[str, int] = ("::", port)
    except OSError:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        addr = ("0.0.0.0", port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(addr)
    sock.listen(512)
    sock.setblocking(False)
    return sock


async def serve(ports: list[int], hostname: str, spool: Path | None = None) -> None:
    """Listen on every port until cancelled; print READY (and the bound ports) once all are bound."""
    servers = []
    for port in ports:
        sock = _listen_socket(port)
        servers.append(
            await asyncio.start_server(lambda r, w: _handle(r, w, hostname, spool), sock=sock, limit=MAX_LINE * 2)
        )
    bound = [s.sockets[0].getsockname()[1] for s in servers]
    print(f"{READY} {' '.join(str(p) for p in bound)}", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


# ---------------------------------------------------------------- client probes


@dataclass
class Attempt:
    """The outcome of one SMTP attempt from the subscriber side."""

    host: str
    port: int
    result: str
    detail: str = ""
    elapsed: float = 0.0
    sport: int = 0

    @property
    def ok(self) -> bool:
        return self.result in ("delivered", "connected")


def _classify(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionResetError | smtplib.SMTPServerDisconnected):
        return "reset"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "unreachable"
    return "error"


def _connect(host: str, port: int, timeout: float, source: str | None) -> tuple[smtplib.SMTP | None, Attempt]:
    """Open one SMTP session (greeting read): the client (None on failure) and the attempt."""
    start = time.monotonic()
    try:
        client = smtplib.SMTP(host, port, timeout=timeout, source_address=(source, 0) if source else None)
    except (OSError, smtplib.SMTPException) as exc:
        took = round(time.monotonic() - start, 3)
        return None, Attempt(host, port, _classify(exc), f"{type(exc).__name__}: {exc}", took)
    took = round(time.monotonic() - start, 3)
    sock = client.sock
    sport = sock.getsockname()[1] if sock is not None else 0
    return client, Attempt(host, port, "connected", "", took, sport)


def deliver(host: str, port: int, timeout: float = 3.0, source: str | None = None) -> Attempt:
    """One full SMTP transaction (EHLO, MAIL, RCPT, DATA, QUIT) with smtplib."""
    msg = f"From: <{FROM_ADDR}>\r\nTo: <{TO_ADDR}>\r\nSubject: op25b lab probe\r\n\r\nprobe to {host}:{port}\r\n"
    client, attempt = _connect(host, port, timeout, source)
    if client is None:
        return attempt
    try:
        with client:
            client.ehlo("subscriber.example.net")
            client.sendmail(FROM_ADDR, [TO_ADDR], msg)
        attempt.result = "delivered"
    except (OSError, smtplib.SMTPException) as exc:
        attempt.result, attempt.detail = _classify(exc), f"{type(exc).__name__}: {exc}"
    return attempt


def hold(
    host: str,
    port: int,
    count: int,
    timeout: float = 3.0,
    retry_after_release: bool = False,
    source: str | None = None,
    linger: float = 0.0,
) -> list[Attempt]:
    """Open ``count`` sessions one after the other and keep the successful ones open (greeting read).

    With ``retry_after_release``: then close the first held session (QUIT) and try one more, retrying for up
    to 3 s while the closed session leaves the conntrack count. With ``linger``: print each attempt as it
    happens (JSON), then keep the sessions open that many seconds before closing them.
    """
    held: list[smtplib.SMTP] = []
    results: list[Attempt] = []
    try:
        for _ in range(count):
            client, attempt = _connect(host, port, timeout, source)
            results.append(attempt)
            if client is not None:
                held.append(client)
            if linger:
                print(json.dumps(asdict(attempt)), flush=True)
        if linger:
            time.sleep(linger)
        if retry_after_release and held:
            held.pop(0).quit()
            deadline = time.monotonic() + 3.0
            while True:
                try:
                    held.append(smtplib.SMTP(host, port, timeout=timeout))
                    results.append(Attempt(host, port, "connected", "after release"))
                    break
                except (OSError, smtplib.SMTPException) as exc:
                    if time.monotonic() > deadline:
                        results.append(Attempt(host, port, _classify(exc), "after release"))
                        break
                    time.sleep(0.1)
    finally:
        for client in held:
            with contextlib.suppress(Exception):
                client.quit()
    return results


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m op25b_cfg.lab.smtp", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_serve = sub.add_parser("serve", help="run SMTP listeners until killed")
    p_serve.add_argument("--port", type=int, action="append", required=True)
    p_serve.add_argument("--hostname", default=socket.gethostname())
    p_serve.add_argument("--spool", type=Path, help="write each accepted message to this directory")
    p_probe = sub.add_parser("probe", help="full SMTP transactions, back to back (HOST PORT [HOST PORT ...])")
    p_probe.add_argument("target", nargs="+", metavar="HOST PORT")
    p_probe.add_argument("--count", type=int, default=1)
    p_probe.add_argument("--timeout", type=float, default=3.0)
    p_probe.add_argument("--source", help="bind to this local address")
    p_hold = sub.add_parser("hold", help="open sessions and hold them")
    p_hold.add_argument("host")
    p_hold.add_argument("port", type=int)
    p_hold.add_argument("--count", type=int, required=True)
    p_hold.add_argument("--timeout", type=float, default=3.0)
    p_hold.add_argument("--retry-after-release", action="store_true")
    p_hold.add_argument("--source", help="bind to this local address")
    p_hold.add_argument("--linger", type=float, default=0.0, help="print attempts at once, hold them S seconds")
    args = parser.parse_args(argv)
    if args.cmd == "serve":
        if args.spool is not None:
            args.spool.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.port, args.hostname, args.spool))
        return 0
    if args.cmd == "probe":
        if len(args.target) % 2:
            parser.error("probe takes HOST PORT pairs")
        pairs = [(h, int(p)) for h, p in zip(args.target[::2], args.target[1::2], strict=True)]
        attempts = [deliver(h, p, args.timeout, args.source) for h, p in pairs for _ in range(args.count)]
    else:
        attempts = hold(
            args.host, args.port, args.count, args.timeout, args.retry_after_release, args.source, args.linger
        )
        if args.linger:
            return 0  # printed as they happened
    for a in attempts:
        print(json.dumps(asdict(a)), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses in the lab tests
    sys.exit(main())
