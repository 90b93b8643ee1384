"""Command-line options every command that talks to devices shares (``op25b push``, ``op25b audit --live``).

They are defined once here: the option names, help texts and defaults, and :func:`connection_setup`, which
turns their values into credentials, :class:`~op25b_cfg.connection.base.ConnectOptions` and a session
factory. A command declares them with these ``Annotated`` types and the ``DEFAULT_*`` values::

    def push(..., username: UsernameOpt = None, timeout: TimeoutOpt = DEFAULT_TIMEOUT, ...):
        conn = connection_setup(username, timeout, known_hosts, verify_host_key, ssh_config, port, driver_arg)

or all of them at once with :func:`connection_options`, which hands the command one :class:`ConnectionArgs`::

    @connection_options
    def collect(..., conn: ConnectionArgs) -> None:
        connection = conn.setup()
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_type_hints

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from op25b_cfg.connection.setup import Connection, OptionError

DEFAULT_TIMEOUT = 30.0
DEFAULT_WORKERS = 10

WorkersOpt = Annotated[int, typer.Option("--workers", "-w", min=1, max=500, help="Devices in parallel.")]
UsernameOpt = Annotated[
    str | None, typer.Option("--username", "-u", help="Device login (default: OP25B_USERNAME or inventory).")
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=1, help="Connect/command timeout, seconds.")]
KnownHostsOpt = Annotated[
    Path | None, typer.Option("--known-hosts", help="known_hosts file (default ~/.ssh/known_hosts).")
]
VerifyHostKeyOpt = Annotated[
    bool,
    typer.Option(
        "--verify-host-key/--no-verify-host-key",
        help="Check SSH host keys (and eAPI TLS certificates); opting out is for labs only.",
    ),
]
AllowCleartextOpt = Annotated[
    bool,
    typer.Option(
        "--allow-cleartext",
        help="Allow a transport that sends the password unencrypted (eAPI transport=http, telnet); labs only.",
    ),
]
SshConfigOpt = Annotated[Path | None, typer.Option("--ssh-config", help="OpenSSH client config file.")]
PortOpt = Annotated[int | None, typer.Option("--port", min=1, max=65535, help="Override every device's port.")]
DriverArgOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--driver-arg",
        help="Extra napalm optional_args KEY=VALUE (repeatable), e.g. transport=http for an eAPI lab emulator.",
    ),
]

CREDENTIALS_HELP = "Credentials: OP25B_USERNAME / OP25B_PASSWORD (/ OP25B_SECRET) or a prompt; never inventory files."


def driver_args(items: list[str], verify_host_key: bool = True) -> dict[str, object]:
    """``KEY=VALUE`` strings as napalm optional_args (whole numbers and true/false converted).

    Secrets (``password``, ``secret``, ...) are refused, and so are host-key switches (``ssh_strict=false``)
    unless ``verify_host_key`` is off (``--no-verify-host-key``).

    >>> driver_args(["transport=http", "port=8080", "fast_cli=false"])
    {'transport': 'http', 'port': 8080, 'fast_cli': False}
    >>> driver_args(["secret=hunter2"])
    Traceback (most recent call last):
    ...
    op25b_cfg.connection.setup.OptionError: --driver-arg secret=...: is a secret: on a command line every local ...
    """
    from op25b_cfg.connection.setup import OptionError, refuse_unsafe  # only commands that connect use it

    out: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"--driver-arg {item!r}: write KEY=VALUE, e.g. --driver-arg transport=http")
        value: object = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif raw.isdigit():
            value = int(raw)
        out[key.strip()] = value
    refuse_unsafe(out, verify_host_key)
    return out


def connection_setup(
    username: str | None,
    timeout: float,
    known_hosts: Path | None,
    verify_host_key: bool,
    ssh_config: Path | None,
    port: int | None,
    driver_arg: list[str] | None,
    allow_cleartext: bool = False,
) -> Connection:
    """Credentials (environment or prompt) and connection options from the shared options' values:
    :func:`op25b_cfg.api.connect` with ``--driver-arg KEY=VALUE`` parsed.

    Raises :class:`Op25bError` (no credentials, malformed ``--driver-arg``) before any device is touched.
    """
    from op25b_cfg import api

    return api.connect(
        username,
        timeout=timeout,
        verify_host_key=verify_host_key,
        known_hosts=known_hosts,
        ssh_config=ssh_config,
        port=port,
        driver_args=driver_args(driver_arg or [], verify_host_key),
        allow_cleartext=allow_cleartext,
    )


def warn_unverified(console: Console, verify_host_key: bool) -> None:
    """The warning printed when host keys are not verified."""
    if not verify_host_key:
        console.print("[yellow]warning:[/] host keys are NOT verified (--no-verify-host-key)", highlight=False)


def device_progress(console: Console, command: str, disable: bool) -> Progress:
    """The per-device progress bar (transient, on ``console``; off when ``disable`` or not a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(f"[bold]{command}[/] {{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=disable or not console.is_terminal,
    )


def stop_notice(console: Console) -> Callable[[str], None]:
    """What :func:`op25b_cfg.fanout.ctrl_c_sets` prints on the first Ctrl-C."""
    return lambda msg: console.print(f"[yellow]{msg}[/]", highlight=False)


def __getattr__(name: str) -> Any:
    """``Connection`` and ``OptionError`` (re-exported from :mod:`op25b_cfg.connection.setup`), imported when
    first asked for: a saved-config audit, which declares these options, never connects (17 M instructions)."""
    if name in ("Connection", "OptionError"):
        from op25b_cfg.connection import setup

        return getattr(setup, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Connection", "OptionError", "connection_setup", "driver_args"]  # Connection, OptionError: connection.setup


@dataclass(frozen=True)
class ConnectionArgs:
    """The values of every shared connection option, as :func:`connection_options` hands them to a command."""

    workers: WorkersOpt = DEFAULT_WORKERS
    username: UsernameOpt = None
    timeout: TimeoutOpt = DEFAULT_TIMEOUT
    known_hosts: KnownHostsOpt = None
    verify_host_key: VerifyHostKeyOpt = True
    ssh_config: SshConfigOpt = None
    port: PortOpt = None
    driver_arg: DriverArgOpt = None
    allow_cleartext: AllowCleartextOpt = False

    def setup(self) -> Connection:
        """:func:`connection_setup` of these values."""
        return connection_setup(
            self.username,
            self.timeout,
            self.known_hosts,
            self.verify_host_key,
            self.ssh_config,
            self.port,
            self.driver_arg,
            self.allow_cleartext,
        )


_Command = TypeVar("_Command", bound=Callable[..., Any])


def connection_options(command: _Command) -> _Command:
    """A typer command whose ``conn: ConnectionArgs`` parameter is, on the command line, every shared connection
    option (``--workers``, ``--username``, ``--timeout``, ... with their names, help and defaults from this
    module), after the command's own options."""
    sig = inspect.signature(command, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "conn"]
    hints = get_type_hints(ConnectionArgs, include_extras=True)
    shared = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name])
        for f in fields(ConnectionArgs)
    ]
    names = [f.name for f in fields(ConnectionArgs)]

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        conn = ConnectionArgs(**{n: kwargs.pop(n) for n in names})
        return command(*args, conn=conn, **kwargs)

    params = own + shared
    run.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params} | {"return": sig.return_annotation}
    return run  # type: ignore[return-value]
