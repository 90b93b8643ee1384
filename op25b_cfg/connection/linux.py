"""A :class:`~op25b_cfg.connection.base.Session` for Linux hosts with nftables, over netmiko ``linux``.

netmiko opens the SSH session (authentication, host-key policy, and the interactive shell it needs to
confirm a usable login). The nft commands then run over *exec channels* of the same SSH transport, which
give exact exit codes and a separate stderr with no prompt parsing, terminal width or echo to get wrong,
and files are streamed to the host through the stdin of ``cat`` (no SFTP/SCP subsystem needed). Logins that
are not root run every privileged command through ``sudo -n`` (passwordless sudo for the op25b user is then
required; ``open`` checks it).

What each call does on the host (all files in a private ``mktemp -d`` directory, ``$TMPDIR`` or /tmp):

=============  ==========================================================================================
get_running    ``nft list ruleset``
load_candidate upload to ``candidate.nft``; ``nft -c -f`` (checked against the live ruleset); then load it
               into a throwaway network namespace (``unshare -n``) and require that it creates nothing but
               ``table inet op25b`` (a candidate can never touch another table)
diff           unified diff of ``nft list table inet op25b`` (running, '' if absent) against the candidate
               as nft lists it in that throwaway namespace; counters and the contents of dynamic sets
               (per-subscriber meters) are normalised away, so an unchanged intent diffs to ''
commit         save the running op25b table to ``backup.nft`` (checked with ``nft -c``); with a revert
               timer, start it *before* applying; atomic ``nft -f candidate.nft`` (the rendered file
               replaces only ``table inet op25b``)
confirm        cancel the timer (an atomic ``mv armed confirmed`` decides the race with the timer)
rollback       cancel the timer and ``nft -f backup.nft``: the old op25b table, or none if there was none
=============  ==========================================================================================

The revert timer is a detached ``setsid sh revert.sh`` on the host (``sleep N``; then, only if it wins the
``mv armed fired``, ``nft -f backup.nft``). It needs nothing but sh, sleep and setsid, so it also works in
network namespaces and containers where ``systemd-run`` or ``at`` are not available, and it survives the
SSH session dropping (which is exactly when it must fire).

Every netmiko/paramiko/socket exception maps to :class:`~op25b_cfg.errors.ConnectionError_` (reach, log in,
talk) or :class:`~op25b_cfg.errors.PushError` (a config step was refused), naming device and step, never
containing the password.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import re
import shlex
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from op25b_cfg.connection.base import ConnectOptions, Credentials, OperationTimeout, Session, run_within
from op25b_cfg.connection.credentials import scrub
from op25b_cfg.connection.hostkey import with_offered_key
from op25b_cfg.errors import ConnectionError_, PushError
from op25b_cfg.intent_protocols import Device

log = logging.getLogger(__name__)

T = TypeVar("T")

TABLE = "inet op25b"
NO_TABLE_BACKUP = "table inet op25b\ndelete table inet op25b\n"
"""The backup when there was no op25b table: restoring it deletes the table (create-then-delete is valid
whether or not the table exists)."""

_MARK = "---op25b-candidate---"
_COUNTER = re.compile(r"counter packets \d+ bytes \d+")
_NFT_ERROR = re.compile(r"^(?P<file>\S+?):(?P<line>\d+):(?P<col>[\d-]+): Error: (?P<msg>.*)$")


# ---------------------------------------------------------------- pure helpers (tested without a host)


def strip_dynamic_elements(listing: str) -> str:
    """Remove the ``elements = { ... }`` of sets with ``flags dynamic`` (per-subscriber meters filled by
    traffic): they are state, not configuration, and nft cannot always load them back.

    >>> text = "\\tset m {\\n\\t\\ttype ipv4_addr\\n\\t\\tflags dynamic\\n"
    >>> text += "\\t\\telements = { 100.64.1.10 ct count over 3 }\\n\\t}"
    >>> print(strip_dynamic_elements(text).expandtabs(2))
        set m {
          type ipv4_addr
          flags dynamic
        }
    """
    out: list[str] = []
    block: list[str] = []
    in_set = dynamic = skipping = False
    for line in listing.splitlines():
        stripped = line.strip()
        if not in_set:
            if stripped.startswith("set ") and stripped.endswith("{"):
                in_set, dynamic, block = True, False, [line]
            else:
                out.append(line)
            continue
        if skipping:
            if stripped.endswith("}"):
                skipping = False
            continue
        if stripped.startswith("flags ") and "dynamic" in stripped:
            dynamic = True
        if dynamic and stripped.startswith("elements = {"):
            # the flags line always comes before the elements in nft's listing
            skipping = not stripped.endswith("}")
            continue
        block.append(line)
        if stripped == "}":
            out.extend(block)
            in_set = False
    out.extend(block if in_set else [])
    return "\n".join(out) + ("\n" if listing.endswith("\n") else "")


def normalise_table(listing: str) -> str:
    """A table listing reduced to its configuration: counters zeroed away, dynamic set contents dropped.

    >>> normalise_table('\\t\\ttcp dport 25 counter packets 7 bytes 420 reject with tcp reset\\n')
    '\\t\\ttcp dport 25 counter reject with tcp reset\\n'
    """
    return strip_dynamic_elements(_COUNTER.sub("counter", listing))


def table_diff(running: str, candidate: str) -> str:
    """Unified diff between two normalised table listings ('' when equal)."""
    a, b = normalise_table(running), normalise_table(candidate)
    if a == b:
        return ""
    lines = difflib.unified_diff(
        a.splitlines(keepends=True),
        b.splitlines(keepends=True),
        fromfile=f"running: table {TABLE}",
        tofile=f"candidate: table {TABLE}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def split_tables(listing: str) -> dict[str, str]:
    """``nft list ruleset`` text split into ``{"table <family> <name>": block}``.

    >>> split_tables("table inet a {\\n\\tchain c {\\n\\t}\\n}\\ntable ip b {\\n}\\n").keys()
    dict_keys(['table inet a', 'table ip b'])
    """
    blocks: dict[str, str] = {}
    header = ""
    for line in listing.splitlines(keepends=True):
        if line.startswith("table ") and line.rstrip().endswith("{"):
            header = line.rstrip()[:-1].strip()
            blocks[header] = ""
        if header:
            blocks[header] += line
        if line.rstrip() == "}":
            header = ""
    return blocks


def nft_error(stderr: str, path: str, name: str = "candidate") -> str:
    """nft's first error, with the remote temp path replaced by ``name`` and the offending text appended.

    >>> err = "/tmp/x/c.nft:5:3-6: Error: syntax error, unexpected junk\\n\\tjunk rule\\n\\t^^^^\\n"
    >>> nft_error(err, "/tmp/x/c.nft")
    'candidate line 5: syntax error, unexpected junk: junk rule'
    """
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        m = _NFT_ERROR.match(line)
        if m:
            where = f"{name} line {m['line']}" if m["file"] == path else m["file"] + f" line {m['line']}"
            text = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return f"{where}: {m['msg']}" + (f": {text}" if text else "")
    first = next((ln.strip() for ln in lines if ln.strip()), "no error text")
    return first.replace(path, name)


# ---------------------------------------------------------------- the session


class NetmikoSpec(Protocol):
    """What the session reads from its device's platform spec (:class:`~op25b_cfg.platforms.base.Platform` is
    one; a Protocol here, so this layer does not import the platforms above it)."""

    @property
    def netmiko_device_type(self) -> str: ...


class NetmikoDevice(Device, Protocol):
    """A device whose platform spec names its netmiko device type (the inventory's ``Device`` is one)."""

    @property
    def spec(self) -> NetmikoSpec: ...


class LinuxNftSession(Session):
    """One SSH session to a Linux nftables host. See the module docstring for what each step runs."""

    def __init__(self, device: NetmikoDevice, creds: Credentials, opts: ConnectOptions) -> None:
        super().__init__(device, creds, opts)
        self._device_type = device.spec.netmiko_device_type
        self._conn: Any = None
        self._sudo = ""
        self._dir = ""
        self._candidate = ""  # candidate table as nft lists it ('' = none loaded)
        self._backup = False
        self._timer_pid: int | None = None

    # ------------------------------------------------------------ connection

    @property
    def _port(self) -> int:
        plugin = self.device.connection_options.get("netmiko")
        return self.opts.port or (plugin.port if plugin is not None else None) or self.device.port or 22

    @property
    def _where(self) -> str:
        return f"{self.device.name} ({self.device.hostname}:{self._port})"

    def _known_hosts(self) -> str:
        path = Path(self.opts.known_hosts or "~/.ssh/known_hosts").expanduser()
        if not path.is_file():
            raise ConnectionError_(
                f"{self._where}: host key verification is on but the known_hosts file {path} does not exist."
                f" Fix: add the host's key after checking its fingerprint (ssh-keyscan -p {self._port}"
                f" {self.device.hostname} >> {path}), or pass the lab's/your --known-hosts file; only in a lab,"
                " disable verification explicitly"
            )
        return str(path)

    def _connect_args(self) -> dict[str, Any]:
        o = self.opts
        key_auth = not self.creds.password
        args: dict[str, Any] = {
            "device_type": self._device_type,
            "host": self.device.hostname,
            "port": self._port,
            "username": self.creds.username,
            "password": self.creds.password,
            "secret": self.creds.secret,
            "use_keys": key_auth,
            "allow_agent": key_auth,
            "conn_timeout": o.timeout,
            "auth_timeout": o.timeout,
            "banner_timeout": o.timeout,
            "timeout": o.timeout,
            "ssh_strict": o.verify_host_key,
            "system_host_keys": False,
            "alt_host_keys": o.verify_host_key,
            "alt_key_file": self._known_hosts() if o.verify_host_key else "",
        }
        if o.ssh_config:
            args["ssh_config_file"] = o.ssh_config
        return args

    def open(self) -> None:
        self.open_locked(self._port, self._open)

    def _open(self) -> None:
        from netmiko import ConnectHandler

        args = self._connect_args()
        log.info(
            "%s: connecting (netmiko linux, host key %s)",
            self._where,
            "verified" if args["ssh_strict"] else "NOT verified",
        )
        try:
            self._conn = ConnectHandler(**args)
        except Exception as exc:
            raise with_offered_key(
                self._map(exc, "connect"), self.device.hostname, self._port, self.opts.timeout
            ) from None
        try:
            self._preflight()
        except BaseException:
            self.close()
            raise

    def _preflight(self) -> None:
        """Find out whether sudo is needed, check nft and unshare, and make the private work directory."""
        uid = self._exec("id -u", step="connect").strip()
        if uid != "0":
            rc, _out, _err = self._call("sudo -n true", step="connect")
            if rc != 0:
                raise ConnectionError_(
                    f"{self._where}: user {self.creds.username!r} is not root and has no passwordless sudo; nft"
                    f" needs root. Fix: log in as root, or allow '{self.creds.username} ALL=(root) NOPASSWD: ALL'"
                    " (or a narrower rule covering nft, unshare, sh) in /etc/sudoers.d/"
                )
            self._sudo = "sudo -n "
        rc, out, _err = self._call(self._priv("command -v nft && command -v unshare"), step="connect")
        if rc != 0 or len(out.split()) < 2:
            raise ConnectionError_(
                f"{self._where}: nft and unshare must be installed on the host. Fix: apt-get install nftables"
                " util-linux"
            )
        self._dir = self._exec('mktemp -d "${TMPDIR:-/tmp}/op25b.XXXXXX"', step="connect").strip()

    def close(self) -> None:
        try:
            self._close()
        finally:
            self.unlock_device()

    def _close(self) -> None:
        if self._conn is None:
            return
        try:
            if self._dir:
                d = shlex.quote(self._dir)
                # a pending revert timer keeps its files; it removes the directory after firing
                self._call(self._priv(f"if [ -e {d}/armed ]; then touch {d}/closed; else rm -rf {d}; fi"), "close")
        except Exception as exc:  # close never raises
            log.debug("%s: cleanup on close failed: %s", self._where, scrub(str(exc), self.creds))
        conn, self._conn = self._conn, None
        try:
            conn.disconnect()
        except Exception as exc:
            log.debug("%s: disconnect failed: %s", self._where, scrub(str(exc), self.creds))

    # ------------------------------------------------------------ running commands

    def _priv(self, cmd: str) -> str:
        """``cmd`` as root: unchanged for root logins, through ``sudo -n sh -c`` otherwise."""
        if not self._sudo:
            return cmd
        # sbin on PATH even where sudoers has no secure_path (nft lives in /usr/sbin)
        return f"{self._sudo}sh -c {shlex.quote('PATH=$PATH:/usr/sbin:/sbin; ' + cmd)}"

    def _call(self, cmd: str, step: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        """Run ``cmd`` on an exec channel: (exit status, stdout, stderr). Raises ConnectionError_ when the
        session is gone or the command does not finish within the timeout (each read, and the whole command:
        :func:`~op25b_cfg.connection.base.run_within`; on expiry its channel is closed)."""
        if self._conn is None:
            raise ConnectionError_(f"{self._where}: not connected ({step}). Fix: open the session first")
        channels: list[Any] = []

        def run() -> tuple[int, bytes, bytes]:
            transport = self._conn.remote_conn_pre.get_transport() if self._conn is not None else None
            if transport is None or not transport.is_active():
                raise ConnectionError_(f"{self._where}: the SSH connection was lost before {step}")
            chan = transport.open_session(timeout=self.opts.library_timeout)
            channels.append(chan)
            chan.settimeout(self.opts.library_timeout)  # run_within's deadline fires first
            chan.exec_command(cmd)
            if stdin is not None:
                chan.sendall(stdin)
            chan.shutdown_write()
            out = bytearray()
            while chunk := chan.recv(65536):
                out += chunk
            err = bytearray()
            while chunk := chan.recv_stderr(65536):
                err += chunk
            rc = chan.recv_exit_status()
            chan.close()
            return rc, bytes(out), bytes(err)

        try:
            rc, out, err = run_within(self.opts.timeout, run)
        except OperationTimeout:
            for chan in channels:
                with contextlib.suppress(Exception):
                    chan.close()
            raise ConnectionError_(
                f"{self._where}: {step} failed: no answer within {self.opts.timeout:g}s (--timeout). Fix: check"
                " the host, or raise --timeout"
            ) from None
        except ConnectionError_:
            raise
        except Exception as exc:
            raise self._map(exc, step) from None
        return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def _exec(self, cmd: str, step: str, stdin: bytes | None = None) -> str:
        """Run ``cmd``; its stdout, or PushError with its stderr when it fails."""
        rc, out, err = self._call(cmd, step, stdin)
        if rc != 0:
            raise PushError(f"{self._where}: {step} failed: {scrub(err.strip() or out.strip(), self.creds)}")
        return out

    def _upload(self, name: str, text: str, step: str) -> str:
        path = f"{self._dir}/{name}"
        self._exec(f"umask 077 && cat > {shlex.quote(path)}", step, stdin=text.encode("utf-8"))
        return path

    def _map(self, exc: BaseException, step: str) -> ConnectionError_:
        """One op25b error for any netmiko/paramiko/socket exception (message scrubbed of secrets)."""
        import paramiko
        from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException

        where = self._where
        chain: list[BaseException] = [e for e in (exc, exc.__cause__, exc.__context__) if e is not None]
        for e in list(chain):  # paramiko wraps per-address socket errors
            if isinstance(e, paramiko.ssh_exception.NoValidConnectionsError):
                chain += [err for err in e.errors.values() if isinstance(err, BaseException)]
        text = scrub(" ".join(str(e) for e in chain), self.creds)
        low = text.lower()
        if any(isinstance(e, paramiko.BadHostKeyException) for e in chain) or "does not match" in low:
            return ConnectionError_(
                f"{where}: the SSH host key does NOT match known_hosts (possible man-in-the-middle, or the host was"
                " reinstalled). Fix: verify the new key out of band, then update known_hosts"
            )
        if "not found in known_hosts" in low:
            return ConnectionError_(
                f"{where}: the SSH host key is not in known_hosts. Fix: add it after checking its fingerprint"
                f" (ssh-keyscan -p {self._port} {self.device.hostname} >> known_hosts), or pass --known-hosts FILE"
            )
        if isinstance(exc, NetmikoAuthenticationException | paramiko.AuthenticationException):
            return ConnectionError_(
                f"{where}: login as {self.creds.username!r} failed (wrong username, password or key). Fix: check"
                " OP25B_USERNAME / OP25B_PASSWORD"
            )
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in low:
            return ConnectionError_(f"{where}: connection refused ({step}). Fix: check the address, port and sshd")
        if any(isinstance(e, TimeoutError | socket.timeout) for e in chain) or "timed out" in low:
            return ConnectionError_(
                f"{where}: timed out after {self.opts.timeout:g}s during {step}. Fix: check reachability, or"
                " raise the timeout"
            )
        if isinstance(exc, NetmikoTimeoutException):
            first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
            return ConnectionError_(f"{where}: cannot connect ({step}): {first}. Fix: check the address, port and sshd")
        if isinstance(exc, EOFError | OSError | paramiko.SSHException):
            return ConnectionError_(
                f"{where}: the SSH connection failed during {step}: {type(exc).__name__} {text}. Fix: check sshd's"
                " log on the host (key exchange, MaxSessions), then retry"
            )
        return ConnectionError_(
            f"{where}: {step} failed: {type(exc).__name__}: {text}. Fix: run with --verbose for the details"
        )

    # ------------------------------------------------------------ reading

    def get_running(self) -> str:
        return self._exec(self._priv("nft list ruleset"), "get running ruleset (nft list ruleset)")

    def query(self, step: str, fn: Callable[[Any], T]) -> T:
        """``fn(run)``, where ``run(cmd)`` runs one command as root under the deadline and returns its stdout
        (:class:`~op25b_cfg.errors.PushError` with its stderr when it fails); see :meth:`Session.query`."""
        return fn(lambda cmd: self._exec(self._priv(cmd), step))

    def running_table(self) -> str:
        """``nft list table inet op25b``, or '' when the host has no op25b table."""
        rc, out, err = self._call(self._priv(f"nft list table {TABLE}"), "read table inet op25b")
        if rc == 0:
            return out
        if "No such file or directory" in err:
            return ""
        raise PushError(f"{self._where}: nft list table {TABLE} failed: {err.strip()}")

    # ------------------------------------------------------------ candidate

    def load_candidate(self, text: str) -> None:
        self._candidate = ""
        path = self._upload("candidate.nft", text, "upload candidate")
        q = shlex.quote(path)
        rc, _out, err = self._call(self._priv(f"nft -c -f {q}"), "check candidate (nft -c -f)")
        if rc != 0:
            raise PushError(f"{self._where}: nft rejected the candidate, nothing was applied: {nft_error(err, path)}")
        # Load it into a throwaway network namespace holding sentinel copies of the host's other tables: this
        # gives the listing nft will show after the commit, and proves the file changes no other table (no
        # flush ruleset, no delete/flush of another table, no rule added elsewhere).
        others = [t for t in self._tables() if t != f"table {TABLE}"]
        sentinels = "".join(f"{t} {{\n\tchain op25b_sentinel {{\n\t\tcounter\n\t}}\n}}\n" for t in others)
        spath = self._upload("sentinel.nft", sentinels, "upload sentinel tables")
        probe = (
            f"{{ [ ! -s {shlex.quote(spath)} ] || nft -f {shlex.quote(spath)}; }} && nft list ruleset"
            f" && echo {_MARK} && nft -f {q} && nft list ruleset"
        )
        rc, out, err = self._call(self._priv(f"unshare -n sh -c {shlex.quote(probe)}"), "list candidate (unshare -n)")
        if rc != 0:
            raise PushError(
                f"{self._where}: the candidate does not load in a copy of the host's table layout, nothing was"
                f" applied: {nft_error(err, path)}"
            )
        before, _, after = out.partition(_MARK + "\n")
        blocks = split_tables(after)
        listing = blocks.pop(f"table {TABLE}", "")
        if not listing:
            raise PushError(f"{self._where}: the candidate does not create table {TABLE}; nothing was applied")
        if blocks != split_tables(before):
            touched = sorted(set(blocks.items()) ^ set(split_tables(before).items()))
            raise PushError(
                f"{self._where}: the candidate changes {', '.join(sorted({h for h, _ in touched}))}; op25b only ever"
                f" replaces table {TABLE}. Nothing was applied"
            )
        self._candidate = listing

    def _tables(self) -> list[str]:
        """The host's tables, as ``table <family> <name>`` lines."""
        out = self._exec(self._priv("nft list tables"), "list tables")
        return [ln.strip() for ln in out.splitlines() if ln.startswith("table ")]

    def diff(self) -> str:
        self._need_candidate("diff")
        return table_diff(self.running_table(), self._candidate)

    def discard(self) -> None:
        self._candidate = ""
        if self._conn is not None and self._dir:
            self._call(f"rm -f {shlex.quote(self._dir)}/candidate.nft", "discard candidate")

    def _need_candidate(self, step: str) -> None:
        if not self._candidate:
            raise PushError(f"{self._where}: {step}: no candidate loaded. Fix: call load_candidate first")

    # ------------------------------------------------------------ commit, confirm, rollback

    def commit(self, revert_seconds: int | None) -> None:
        self._need_candidate("commit")
        if self._timer_pid is not None:
            raise PushError(f"{self._where}: a timed commit is still pending. Fix: confirm or roll back first")
        d = self._dir
        running = self.running_table()
        backup_text = (NO_TABLE_BACKUP + normalise_table(running)) if running else NO_TABLE_BACKUP
        backup = self._upload("backup.nft", backup_text, "save backup")
        rc, _o, err = self._call(self._priv(f"nft -c -f {shlex.quote(backup)}"), "check backup")
        if rc != 0:
            raise PushError(
                f"{self._where}: the saved op25b table would not load back ({nft_error(err, backup, 'backup')});"
                " refusing to commit without a working rollback. Nothing was applied"
            )
        self._backup = True
        if revert_seconds is not None:
            self._start_timer(int(revert_seconds))
        rc, _o, err = self._call(self._priv(f"nft -f {shlex.quote(d)}/candidate.nft"), "commit (nft -f)")
        if rc != 0:
            if self._timer_pid is not None:
                self._cancel_timer("cancelled")
            raise PushError(
                f"{self._where}: nft -f failed, the ruleset is unchanged (nft -f is atomic):"
                f" {nft_error(err, f'{d}/candidate.nft')}"
            )
        log.info(
            "%s: committed table %s%s", self._where, TABLE, f" (revert in {revert_seconds}s)" if revert_seconds else ""
        )

    def _start_timer(self, seconds: int) -> None:
        if seconds < 1:
            raise PushError(f"{self._where}: revert_seconds must be at least 1 (got {seconds})")
        d = shlex.quote(self._dir)
        script = (
            "#!/bin/sh\n"
            "# op25b revert timer: restores the op25b table saved before the commit unless confirmed in time.\n"
            f"D={d}\n"
            'echo $$ > "$D/revert.pid.tmp" && mv "$D/revert.pid.tmp" "$D/revert.pid"\n'
            f"sleep {seconds}\n"
            'mv "$D/armed" "$D/fired" 2>/dev/null || exit 0\n'
            'nft -f "$D/backup.nft" > "$D/revert.out" 2>&1\n'
            'echo $? > "$D/revert.rc"\n'
            '[ -e "$D/closed" ] && rm -rf "$D"\n'
            "exit 0\n"
        )
        self._upload("revert.sh", script, "arm revert timer")
        start = (
            f"rm -f {d}/revert.pid && touch {d}/armed && "
            f"(setsid sh {d}/revert.sh op25b-revert </dev/null >/dev/null 2>&1 &) && "
            f"i=0; while [ ! -s {d}/revert.pid ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; cat {d}/revert.pid"
        )
        out = self._exec(self._priv(start), "arm revert timer").strip()
        if not out.isdigit():
            raise PushError(f"{self._where}: the revert timer did not start; nothing was applied")
        self._timer_pid = int(out)

    def _cancel_timer(self, state: str) -> bool:
        """Stop the timer. True when we stopped it; False when it had already fired."""
        d = shlex.quote(self._dir)
        pid = self._timer_pid
        self._timer_pid = None
        rc, _o, _e = self._call(self._priv(f"mv {d}/armed {d}/{state}"), f"{state} revert timer")
        self._call(self._priv(f"kill -TERM -- -{pid} 2>/dev/null || kill -TERM {pid} 2>/dev/null; true"), "stop timer")
        return rc == 0

    def confirm(self) -> None:
        if self._timer_pid is None:
            return
        if not self._cancel_timer("confirmed"):
            raise PushError(
                f"{self._where}: the revert timer fired before confirm: the host is back on the op25b table it ran"
                " before the commit"
            )
        log.info("%s: commit confirmed", self._where)

    def rollback(self) -> None:
        if not self._backup:
            raise PushError(f"{self._where}: nothing to roll back: no commit in this session")
        if self._timer_pid is not None:
            self._cancel_timer("rolledback")
        rc, _o, err = self._call(self._priv(f"nft -f {shlex.quote(self._dir)}/backup.nft"), "rollback (nft -f backup)")
        if rc != 0:
            raise PushError(f"{self._where}: rollback failed, the new op25b table is still active: {err.strip()}")
        log.info("%s: rolled back table %s", self._where, TABLE)

    # ------------------------------------------------------------ introspection for tests and callers

    @property
    def timer_pending(self) -> bool:
        return self._timer_pid is not None

    def wait_for_revert(self, timeout: float) -> bool:
        """Wait until a pending revert timer has fired (True) or ``timeout`` passed (False)."""
        d = shlex.quote(self._dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc, _o, _e = self._call(self._priv(f"test -e {d}/revert.rc"), "wait for revert")
            if rc == 0:
                return True
            time.sleep(0.2)
        return False
