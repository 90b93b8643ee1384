"""A :class:`~op25b_cfg.connection.base.Session` over a napalm driver: ``ios``, ``iosxr``, ``junos``, ``eos``.

What each call does on the device (napalm 5):

=============  ==========================================================================================
get_running    ``get_config(retrieve="running")["running"]``
load_candidate ``load_merge_candidate(config=text)`` (merge, never replace: unrelated config is untouched)
diff           ``compare_config()``
commit         ``commit_config(revert_in=s)`` on ios (needs ``archive``), eos (configure session commit
               timer) and junos (commit confirmed); iosxr has no revert timer and commits plainly
confirm        ``confirm_commit()`` when a timed commit is pending, else nothing
rollback       ``rollback()`` (ios ``configure revert now`` while a timer runs; eos session abort; junos
               ``rollback 1`` + commit; iosxr ``rollback configuration last 1``)
discard        ``discard_config()``
=============  ==========================================================================================

Host keys are verified by default (``ConnectOptions.verify_host_key``): SSH drivers reject an unknown or
changed key, reading ``~/.ssh/known_hosts`` or ``ConnectOptions.known_hosts``. junos goes through PyEZ and
ncclient, which napalm does not give a host-key switch, so the session sets PyEZ's ``hostkey_verify`` and,
for a custom known_hosts file, writes a private ssh_config naming it. eos over eAPI/HTTPS verifies the TLS
certificate against the system CAs (``ConnectOptions.driver_args['ca_file']`` for a private CA).

Every exception of napalm, netmiko, paramiko, ncclient, PyEZ or pyeapi is mapped by :func:`map_exception`
to :class:`~op25b_cfg.errors.ConnectionError_` (reach, log in, talk) or :class:`~op25b_cfg.errors.PushError`
(a config step was refused), with a message naming device, step and cause and never containing a secret.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from op25b_cfg.connection.base import ConnectOptions, Credentials, OperationTimeout, Session, run_within
from op25b_cfg.connection.credentials import scrub
from op25b_cfg.connection.hostkey import with_offered_key
from op25b_cfg.errors import ConnectionError_, Op25bError, PushError
from op25b_cfg.intent_protocols import Device

log = logging.getLogger(__name__)

T = TypeVar("T")


_AUTH = {
    "AuthenticationException",
    "NetmikoAuthenticationException",
    "ConnectAuthError",
    "AuthenticationError",
    "PasswordRequiredException",
    "BadAuthenticationType",
}
_UNKNOWN_KEY = {"SSHUnknownHostError"}
_BAD_KEY = {"BadHostKeyException"}
_TIMEOUT = {
    "NetmikoTimeoutException",
    "ConnectTimeoutError",
    "TimeoutError",
    "timeout",
    "RpcTimeoutError",
    "TimeoutExpiredError",
    "ReadTimeout",
    "CommandTimeoutException",
}
_REFUSED = {"ConnectRefusedError", "NoValidConnectionsError", "ConnectionRefusedError", "ConnectUnknownHostError"}
_CLOSED = {
    "ConnectionClosedException",
    "SessionCloseError",
    "ConnectClosedError",
    "EOFError",
    "BrokenPipeError",
    "ConnectionResetError",
    "ConnectionAbortedError",
    "TransportError",
    "SSHError",
    "ReadException",
    "WriteException",
}
_CONNECTION = {"ConnectionException", "ConnectError", "ConnectionError", "NetmikoBaseException", "ProbeError"}
_CONFIG = {
    "MergeConfigException",
    "ReplaceConfigException",
    "ConfigLoadError",
    "CommandError",
    "CommitError",
    "CommitConfirmException",
    "CommandErrorException",
    "LockError",
    "UnlockError",
    "SessionLockedException",
    "RpcError",
    "ConfigInvalidException",
    "InvalidInputError",
    "XMLCLIError",
    "NotImplementedError",
}


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it wraps (``__cause__``, ``__context__``, PyEZ ``_orig``), outermost first."""
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 8:
        out.append(cur)
        nxt = getattr(cur, "_orig", None)
        cur = nxt if isinstance(nxt, BaseException) else (cur.__cause__ or cur.__context__)
    return out


def _names(exc: BaseException) -> set[str]:
    return {c.__name__ for c in type(exc).__mro__}


def _short(exc: BaseException, creds: Credentials | None, limit: int = 300) -> str:
    from op25b_cfg.changelog import redact_text

    text = " ".join(str(exc).split())
    if text in ("", "None"):
        return ""
    for boilerplate in (" Common causes of this problem are:", " Device settings:"):
        text = text.split(boilerplate)[0]
    text = redact_text(scrub(text, creds))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def map_exception(
    exc: BaseException,
    step: str,
    where: str,
    creds: Credentials | None = None,
    timeout: float | None = None,
) -> Op25bError:
    """One op25b error for a library exception raised during ``step`` on the device ``where``.

    ConnectionError_ for reach/login/host-key/timeouts/dropped sessions, PushError for a refused config step.
    The message never contains the password or enable secret (they are scrubbed even when a library echoes
    them) and passes through the redactor.
    """
    if isinstance(exc, Op25bError):
        return exc
    chain = _chain(exc)
    names: set[str] = set()
    for c in chain:
        names |= _names(c)
    parts: list[str] = []
    for c in chain[:3]:
        t = _short(c, creds)
        if t and t != "None" and not any(t in p for p in parts):
            parts = [p for p in parts if p not in t] + [t]
    text = "; ".join(parts) or type(exc).__name__
    low = text.lower()
    prefix = f"{where}: {step} failed"
    if names & _BAD_KEY:
        return ConnectionError_(
            f"{prefix}: the SSH host key does NOT match known_hosts (possible man-in-the-middle, or the device was"
            " replaced). Fix: verify the new key out of band, then update known_hosts"
        )
    if names & _UNKNOWN_KEY or "not found in known_hosts" in low or "unknown host key" in low:
        return ConnectionError_(
            f"{prefix}: the SSH host key is not in known_hosts. Fix: add it after checking its fingerprint"
            " (ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts, or --known-hosts FILE), or pass"
            " --no-verify-host-key for a lab"
        )
    if names & _AUTH or "authentication fail" in low or "unauthorized" in low or "unable to authenticate" in low:
        user = creds.username if creds else "?"
        return ConnectionError_(
            f"{prefix}: authentication failed for user '{user}'. Fix: check OP25B_USERNAME / OP25B_PASSWORD"
        )
    if names & _TIMEOUT or "timed out" in low or "timeout" in low:
        after = f" after {timeout:g}s" if timeout else ""
        return ConnectionError_(f"{prefix}: timed out{after} ({text}). Fix: check reachability or raise --timeout")
    if names & _REFUSED or isinstance(exc, socket.gaierror):
        return ConnectionError_(
            f"{prefix}: cannot connect ({text}). Fix: check hostname, port and that the"
            " management service (SSH / NETCONF / eAPI) is enabled"
        )
    if "ssl" in low or "certificate" in low or "tls" in low:
        return ConnectionError_(
            f"{prefix}: the TLS handshake failed ({text}). Fix: check the port and transport (eAPI: https),"
            " and pass a private CA with --driver-arg ca_file=PATH"
        )
    if names & _CLOSED:
        return ConnectionError_(
            f"{prefix}: the connection was lost ({text}). Fix: check the device's session limits and logs, then retry"
        )
    if names & _CONFIG:
        return PushError(f"{prefix}: the device refused it ({text})")
    if names & _CONNECTION or isinstance(exc, OSError):
        return ConnectionError_(f"{prefix}: {text}. Fix: check reachability, port and the management service")
    if step == "connect":
        return ConnectionError_(f"{prefix}: {type(exc).__name__}: {text}. Fix: run with --verbose for the details")
    return PushError(f"{prefix}: {type(exc).__name__}: {text}")


class NapalmSpec(Protocol):
    """What a napalm session reads from its device's platform spec (the hooks of
    :class:`~op25b_cfg.platforms.base.Platform`, which is one; a Protocol here, so this layer does not import the
    platforms above it)."""

    @property
    def napalm_driver(self) -> str | None: ...
    @property
    def commit_confirm(self) -> bool: ...
    def napalm_optional_args(self, session: NapalmSession, extra: dict[str, Any]) -> dict[str, Any]: ...
    def napalm_port(self, session: NapalmSession, extra: dict[str, Any], port: int | None) -> int | None: ...
    def after_napalm_connect(self, driver: Any, session: NapalmSession) -> None: ...
    def revert_in(self, seconds: int) -> int: ...


class NapalmDevice(Device, Protocol):
    """A device whose platform spec has the napalm hooks (the inventory's ``Device`` is one)."""

    @property
    def spec(self) -> NapalmSpec: ...


class NapalmSession(Session):
    """One napalm driver connection to one device. ``driver`` defaults to the platform's napalm driver."""

    def __init__(self, device: NapalmDevice, creds: Credentials, opts: ConnectOptions) -> None:
        super().__init__(device, creds, opts)
        self.spec = device.spec
        name = self.spec.napalm_driver
        if name is None:
            raise ConnectionError_(f"{device.name}: platform {device.platform} has no napalm driver")
        self.driver_name: str = name
        self._driver: Any = None
        self._tmpdir: Path | None = None
        self._timer_pending = False

    # ------------------------------------------------------------------ helpers

    @property
    def port(self) -> int | None:
        """--port, else the inventory's ``connection_options.napalm.port``, else the device's port."""
        plugin = self.device.connection_options.get("napalm")
        return self.opts.port or (plugin.port if plugin is not None else None) or self.device.port

    @property
    def where(self) -> str:
        port = self.port
        return f"{self.device.name} ({self.device.hostname}{f':{port}' if port else ''}, napalm {self.driver_name})"

    @property
    def has_revert_timer(self) -> bool:
        return self.spec.commit_confirm

    def _call(self, step: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn`` with every library exception mapped (:func:`map_exception`) and a hard deadline of
        ``opts.timeout`` seconds, whatever the driver itself waits (napalm ios waits up to 150 s on a hung
        commit): on expiry the connection is closed under the call and ConnectionError_ raised."""
        if self._driver is None and step != "connect":
            raise ConnectionError_(f"{self.where}: {step} failed: the session is not open")
        limit = self.opts.timeout
        try:
            return run_within(limit, fn, *args, **kwargs)
        except OperationTimeout:
            self._abandon(getattr(fn, "__self__", None))
            err: Op25bError = ConnectionError_(
                f"{self.where}: {step} failed: no answer within {limit:g}s (--timeout; op25b stops waiting"
                " whatever the driver does) and the connection was closed. Fix: check the device, or raise"
                " --timeout"
            )
            log.info("%s", err)
            raise err from None
        except Exception as exc:
            err = map_exception(exc, step, self.where, self.creds, self.opts.timeout)
            log.info("%s", err)
            raise err from None

    def _run(self, step: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``self._driver.<method>(...)`` through :meth:`_call`; ConnectionError_ when the session is closed."""
        if self._driver is None:
            raise ConnectionError_(f"{self.where}: {step} failed: the session is not open (closed after an error)")
        return self._call(step, getattr(self._driver, method), *args, **kwargs)

    def query(self, step: str, fn: Callable[[Any], T]) -> T:
        """``fn(driver)`` through :meth:`_call` (deadline and error mapping); see :meth:`Session.query`."""
        if self._driver is None:
            raise ConnectionError_(f"{self.where}: {step} failed: the session is not open")
        return self._call(step, fn, self._driver)

    def _abandon(self, owner: object) -> None:
        """Close the driver under a call that did not return (in the background: a close can hang too)."""
        drv, self._driver = self._driver, None
        drv = drv if drv is not None else owner
        if drv is not None and hasattr(drv, "close"):

            def close() -> None:
                with contextlib.suppress(Exception):
                    drv.close()

            threading.Thread(target=close, name="op25b-abandon", daemon=True).start()

    def ssh_args(self) -> dict[str, Any]:
        """netmiko arguments (napalm passes them through optional_args) for ios, iosxr and eos-over-ssh."""
        o = self.opts
        args: dict[str, Any] = {
            "ssh_strict": o.verify_host_key,
            "system_host_keys": o.verify_host_key and not o.known_hosts,
            "alt_host_keys": bool(o.verify_host_key and o.known_hosts),
            "alt_key_file": o.known_hosts or "",
            # every call runs under op25b's --timeout deadline (_call); the library's own timeouts come later
            "conn_timeout": o.library_timeout,
            "auth_timeout": o.library_timeout,
            "banner_timeout": o.library_timeout,
            "read_timeout_override": o.library_timeout,  # every read (napalm's commit waits 90-150 s)
            "allow_agent": False,
            "use_keys": False,
        }
        if o.ssh_config:
            args["ssh_config_file"] = o.ssh_config
        return args

    def ssh_config_file(self) -> str | None:
        """An ssh_config for PyEZ/ncclient naming the known_hosts file (they take no known_hosts argument)."""
        o = self.opts
        if not (o.verify_host_key and o.known_hosts):
            return o.ssh_config
        self._tmpdir = Path(tempfile.mkdtemp(prefix="op25b-ssh-"))
        cfg = self._tmpdir / "ssh_config"
        text = f"Host *\n    UserKnownHostsFile {Path(o.known_hosts).expanduser().resolve()}\n"
        if o.ssh_config:
            text += "\n" + Path(o.ssh_config).expanduser().read_text(encoding="utf-8")
        cfg.write_text(text, encoding="utf-8")
        cfg.chmod(0o600)
        return str(cfg)

    def optional_args(self) -> dict[str, Any]:
        """The napalm ``optional_args`` for this driver and these options (secrets included: never log)."""
        plugin = self.device.connection_options.get("napalm")
        port = self.port
        # inventory connection_options.napalm.extras.optional_args, overridden by --driver-arg
        inventory_args = dict(plugin.extras.get("optional_args", {})) if plugin is not None else {}
        extra = {**inventory_args, **self.opts.driver_args}
        port = self.spec.napalm_port(self, extra, port)
        args = self.spec.napalm_optional_args(self, extra)
        if port:
            args["port"] = port
        args.update(extra)
        return args

    # ------------------------------------------------------------------ Session

    def open(self) -> None:
        """Connect and log in with the napalm driver (host key verified unless opted out)."""
        if self._driver is not None:
            return
        self.open_locked(self.port or 22, self._open)

    def _open(self) -> None:
        try:
            napalm = importlib.import_module("napalm")
            cls = napalm.get_network_driver(self.driver_name)
        except Exception as exc:  # napalm missing or broken install
            raise ConnectionError_(f"{self.where}: napalm driver {self.driver_name} unavailable ({exc})") from None
        try:
            driver = self._call(
                "connect",
                cls,
                hostname=self.device.hostname,
                username=self.creds.username,
                password=self.creds.password,
                timeout=math.ceil(self.opts.library_timeout),  # PyEZ RPCs, the eAPI socket
                optional_args=self.optional_args(),
            )
            self.spec.after_napalm_connect(driver, self)
            self._call("connect", driver.open)
        except Op25bError as exc:
            self._cleanup_tmp()
            raise with_offered_key(exc, self.device.hostname, self.port or 22, self.opts.timeout) from None
        self._driver = driver
        log.info("%s: connected", self.where)

    def _cleanup_tmp(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def close(self) -> None:
        """Disconnect; never raises, and returns within ``--timeout`` whatever the driver does (netmiko's
        clean-up on IOS-XR can wait a read timeout per try; the close then goes on in the background).
        (eos: closing aborts an unconfirmed configure session.)"""
        drv, self._driver = self._driver, None
        if drv is not None:
            with contextlib.suppress(Exception):
                run_within(self.opts.timeout, drv.close)
        self._cleanup_tmp()
        self.unlock_device()

    def get_running(self) -> str:
        cfg = self._run("get running config", "get_config", retrieve="running")
        return str(cfg.get("running", "")) if isinstance(cfg, dict) else ""

    def load_candidate(self, text: str) -> None:
        self._run("load merge candidate", "load_merge_candidate", config=text)

    def diff(self) -> str:
        return str(self._run("compare config", "compare_config") or "")

    def discard(self) -> None:
        self._run("discard candidate", "discard_config")

    def commit(self, revert_seconds: int | None) -> None:
        """Commit; with ``revert_seconds`` on ios/eos/junos the device reverts by itself unless confirmed.
        On iosxr ``revert_seconds`` is ignored (no timer): the caller audits and rolls back explicitly."""
        if revert_seconds and self.has_revert_timer:
            revert = self.spec.revert_in(revert_seconds)
            self._timer_pending = True
            self._run(f"commit (revert timer {revert}s)", "commit_config", revert_in=revert)
        else:
            self._timer_pending = False
            self._run("commit", "commit_config")

    def confirm(self) -> None:
        if not self._timer_pending:
            return
        self._run("confirm commit", "confirm_commit")
        self._timer_pending = False

    def rollback(self) -> None:
        self._run("rollback", "rollback")
        self._timer_pending = False
