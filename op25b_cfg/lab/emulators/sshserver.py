"""A small paramiko SSH server for the SSH-based emulators (password auth, shell, exec, subsystems)."""

from __future__ import annotations

import contextlib
import hmac
import logging
import queue
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import paramiko

from op25b_cfg.lab.emulators.base import LOOPBACK, EmulatorBase
from op25b_cfg.lab.emulators.faults import EmulatorDropped

log = logging.getLogger(__name__)

_KEY_LOCK = threading.Lock()
_HOST_KEY: paramiko.ECDSAKey | None = None


def process_host_key() -> paramiko.ECDSAKey:
    """One ECDSA P-256 host key per process.

    ECDSA, not RSA: with a known_hosts entry ncclient restricts the negotiation to the entry's key type,
    and for RSA that is ``ssh-rsa`` (SHA-1), which paramiko >= 4 no longer offers, so strict host-key
    checking of an RSA-only device fails with "Incompatible ssh peer".
    """
    global _HOST_KEY
    with _KEY_LOCK:
        if _HOST_KEY is None:
            _HOST_KEY = paramiko.ECDSAKey.generate(bits=256)
        return _HOST_KEY


class _Server(paramiko.ServerInterface):  # type: ignore[misc]
    """Authentication and channel requests of one SSH connection."""

    def __init__(self, emu: SshEmulator) -> None:
        self.emu = emu
        self.requests: queue.Queue[tuple[str, paramiko.Channel, str]] = queue.Queue()

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        emu = self.emu
        if emu.faults.wrong_password:
            return int(paramiko.AUTH_FAILED)
        if hmac.compare_digest(emu.login_name(username), emu.username) and hmac.compare_digest(password, emu.password):
            return int(paramiko.AUTH_SUCCESSFUL)
        return int(paramiko.AUTH_FAILED)

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return int(paramiko.OPEN_SUCCEEDED)
        return int(paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED)

    def check_channel_pty_request(self, *args: Any) -> bool:
        return True

    def check_channel_window_change_request(self, *args: Any) -> bool:
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        if "shell" not in self.emu.channel_kinds:
            return False
        self.requests.put(("shell", channel, ""))
        return True

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        if "exec" not in self.emu.channel_kinds:
            return False
        self.requests.put(("exec", channel, command.decode(errors="replace")))
        return True

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if f"subsystem:{name}" not in self.emu.channel_kinds:
            return False
        self.requests.put(("subsystem", channel, name))
        return True


class SshEmulator(EmulatorBase):
    """Base of the SSH emulators: listens on 127.0.0.1:<random>, one thread per connection and channel.

    Subclasses set ``channel_kinds`` (``shell``, ``exec``, ``subsystem:<name>``) and implement
    :meth:`handle_channel`; raising :class:`EmulatorDropped` there closes the whole SSH connection.
    """

    channel_kinds: frozenset[str] = frozenset()

    def __init__(self, initial_config: str = "", *, host_key: paramiko.PKey | None = None, **kwargs: Any) -> None:
        super().__init__(initial_config, **kwargs)
        self.host_key = host_key or process_host_key()
        self._sock: socket.socket | None = None
        self._transports: list[paramiko.Transport] = []

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, 0))
        sock.listen(64)
        sock.settimeout(0.2)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self.spawn(self._accept_loop, "accept")
        log.debug("%s emulator %s listening on %s:%d", self.platform, self.hostname, self.host, self.port)

    def stop(self) -> None:
        self.stop_event.set()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        for transport in list(self._transports):
            transport.close()
        self.on_stop()
        self.join_threads()

    def on_stop(self) -> None:
        """Hook: cancel timers etc."""

    def login_name(self, username: str) -> str:
        """Hook: the account name in the SSH user name a client sends (RouterOS: ``admin+ct511w4098h`` carries
        terminal options after ``+``, which netmiko ``mikrotik_routeros`` appends)."""
        return username

    # -- host keys --------------------------------------------------------------------------------------
    def known_hosts_line(self) -> str:
        """The OpenSSH known_hosts line for this emulator (``[127.0.0.1]:port``)."""
        return f"[{self.host}]:{self.port} {self.host_key.get_name()} {self.host_key.get_base64()}"

    def write_known_hosts(self, path: str | Path) -> Path:
        """Write a known_hosts file that trusts this emulator's host key."""
        p = Path(path)
        p.write_text(self.known_hosts_line() + "\n")
        return p

    # -- connections ------------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self.stop_event.is_set():
            sock = self._sock
            if sock is None:
                return
            try:
                client, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.spawn(lambda c=client: self._serve(c), "conn")  # type: ignore[misc]

    def _serve(self, client: socket.socket) -> None:
        transport = paramiko.Transport(client)
        transport.add_server_key(self.host_key)
        self._transports.append(transport)
        server = _Server(self)
        try:
            transport.start_server(server=server)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            log.debug("ssh negotiation failed: %s", type(exc).__name__)
            transport.close()
            return
        try:
            while transport.is_active() and not self.stop_event.is_set():
                chan = transport.accept(0.2)
                if chan is None:
                    continue
                try:
                    kind, channel, arg = server.requests.get(timeout=5)
                except queue.Empty:
                    chan.close()
                    continue
                self.spawn(lambda k=kind, c=channel, a=arg: self._run_channel(transport, k, c, a), "chan")  # type: ignore[misc]
        finally:
            if self.stop_event.is_set():
                transport.close()

    def _run_channel(self, transport: paramiko.Transport, kind: str, chan: paramiko.Channel, arg: str) -> None:
        try:
            self.handle_channel(kind, chan, arg)
        except EmulatorDropped as exc:
            log.info("%s emulator %s: dropping the connection (%s)", self.platform, self.hostname, exc)
            transport.close()
            return
        except (OSError, EOFError, paramiko.SSHException) as exc:
            log.debug("channel ended: %s", type(exc).__name__)
        except Exception:
            log.exception("%s emulator %s: internal error", self.platform, self.hostname)
        with contextlib.suppress(OSError, EOFError):
            chan.close()

    def handle_channel(self, kind: str, chan: paramiko.Channel, arg: str) -> None:  # pragma: no cover
        raise NotImplementedError


def typed_lines(
    chan: paramiko.Channel, stop: threading.Event, echo: Callable[[], bool] = lambda: True
) -> Iterator[str]:
    """The lines a client types into an interactive shell, echoed (while ``echo()``) as a terminal echoes them.

    A line ends at CR, LF or CR LF (one end); backspace and DEL erase; other control characters but tab are
    dropped. Ends when the client closes the channel or the emulator stops.
    """
    buf = ""
    last = ""
    while not stop.is_set():
        data = chan.recv(4096)
        if not data:
            return
        for ch in data.decode(errors="replace"):
            if ch == "\n" and last == "\r":
                last = ch
                continue
            last = ch
            if ch in "\r\n":
                if echo():
                    chan.sendall(b"\r\n")
                line, buf = buf, ""
                yield line
            elif ch in ("\x08", "\x7f"):
                buf = buf[:-1]
            elif ch == "\t" or ch.isprintable():
                buf += ch
                if echo():
                    chan.sendall(ch.encode())


EmuT = TypeVar("EmuT", bound=SshEmulator)
_T = TypeVar("_T")


class CliShell(Generic[EmuT]):
    """One interactive CLI session of a line-by-line device CLI (IOS, VRP): the typed lines, each recorded and
    run under the emulator's lock between the fault strikes of its phase, its output and the next prompt.

    Subclasses give :attr:`prompt`, :meth:`respond` and, where a line starts a fault phase, :meth:`phase`.
    """

    echo = True
    greeting = "\n"
    """What the device prints before the first prompt."""

    def __init__(self, emu: EmuT, chan: paramiko.Channel | None) -> None:
        self.emu = emu
        self.chan = chan

    @property
    def prompt(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def answering(self) -> bool:
        """True while the device waits for the answer to a question it printed (no prompt then)."""
        return False

    def respond(self, line: str) -> tuple[str, bool]:  # pragma: no cover - overridden
        """The output of one typed line (called under the emulator's lock), and False where it ends the session."""
        raise NotImplementedError

    def phase(self, cmd: str) -> str | None:
        """The fault phase (``load``, ``commit``, ``confirm``) the command ``cmd`` starts, if any."""
        return None

    def in_phase(self, phase: str | None, work: Callable[[], _T]) -> _T:
        """``work()`` under the emulator's lock, between the fault strikes of ``phase`` (before it applies and
        after), where a phase is given."""
        emu = self.emu
        if phase:
            emu.faults.strike(phase, emu.stop_event, applied=False)
        with emu.lock:
            result = work()
        if phase:
            emu.faults.strike(phase, emu.stop_event, applied=True)
        return result

    def send(self, text: str) -> None:
        assert self.chan is not None
        self.chan.sendall(text.replace("\r\n", "\n").replace("\n", "\r\n").encode())

    def run(self) -> None:
        emu = self.emu
        assert self.chan is not None
        emu.faults.strike("open", emu.stop_event, applied=False)
        self.send(f"{self.greeting}{self.prompt}")
        for line in typed_lines(self.chan, emu.stop_event, lambda: self.echo):
            if not self.line(line):
                return

    def line(self, line: str) -> bool:
        """Run one line; write its output and the next prompt. False ends the session."""
        emu = self.emu
        cmd = line.strip()
        if cmd:
            emu.record(cmd)
        out, keep = self.in_phase(self.phase(cmd), lambda: self.respond(line))
        if not keep:
            return False
        if out:
            self.send(out if out.endswith("\n") else out + "\n")
        if not self.answering:
            self.send(self.prompt)
        return True


def output_filter(text: str, pipe: str, verbs: str = "include exclude begin section") -> str:
    """``text`` through a CLI output filter ``pipe`` (``include|exclude|begin|section X``, abbreviated as the
    device takes it; only the ``verbs`` the device has), unfiltered when ``pipe`` is empty or not one.

    >>> output_filter("a 1\\n b\\nc 2\\n d", "i c"), output_filter("a 1\\n b\\nc 2", "s a")
    ('c 2', 'a 1\\n b')
    >>> output_filter("a\\nb\\nc", "begin b"), output_filter("a\\nb", "section a", verbs="include begin")
    ('b\\nc', 'a\\nb')
    """
    verb, _, arg = pipe.strip().partition(" ")
    verb = next((v for v in verbs.split() if verb and v.startswith(verb)), "")
    lines = text.splitlines()
    if verb == "include":
        return "\n".join(ln for ln in lines if re.search(arg, ln))
    if verb == "exclude":
        return "\n".join(ln for ln in lines if not re.search(arg, ln))
    if verb == "begin":
        start = next((i for i, ln in enumerate(lines) if re.search(arg, ln)), len(lines))
        return "\n".join(lines[start:])
    if verb == "section":
        out: list[str] = []
        take = False
        for ln in lines:
            if not ln.startswith(" "):
                take = re.search(arg, ln) is not None
            if take:
                out.append(ln)
        return "\n".join(out)
    return text
