"""`op25b lab` commands (thin: logic lives in importable modules). Registered on the main app.

``op25b lab up`` builds the network-namespace lab (:mod:`op25b_cfg.lab.netns`): a Linux BRAS with real sshd
and nftables between a subscriber and real SMTP servers, so a newcomer can try generate -> push -> audit on
one machine. ``down`` removes everything recorded in the state file; ``status`` shows what is up.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from op25b_cfg.cli import (
    EXIT_FINDINGS,
    EXIT_OK,
    Format,
    FormatOpt,
    HelpGroup,
    _fail,
    _setup_logging,
    app,
    err,
    out,
)
from op25b_cfg.errors import Op25bError

lab_app = typer.Typer(
    cls=HelpGroup,
    help="Labs to try generate -> push -> audit: 'emulators' (emulated ios/iosxr/junos/eos routers, no root) or"
    " 'up|down|status' (network namespaces with a Linux BRAS running real sshd + nftables, subscribers and real SMTP"
    " servers; needs root).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(lab_app, name="lab")

WorkdirOpt = Annotated[
    Path | None,
    typer.Option("--workdir", help="State directory of the lab (default /run/op25b-lab).", show_default=False),
]


def _workdir(path: Path | None) -> Path:
    from op25b_cfg.lab.netns import CLI_WORKDIR

    return path or CLI_WORKDIR


def _guide(lab_workdir: Path) -> str:
    """How to use a running lab: the commands a newcomer types next (no secret in it).

    Every line under "Try it:" is a real shell command; tests/test_push_linux_lab.py runs them, in order,
    against a lab built by ``op25b lab up``.
    """
    from op25b_cfg.lab.netns import CLI_WORKDIR, EXTERNAL_V4, ISP_MTA_V4, OPERATOR, Lab

    lab = Lab.load(lab_workdir)
    assert lab is not None
    q = shlex.quote
    inv = q(str(lab.inventory_dir))
    sub = lab.ns("subscriber")
    smtp = f"sudo ip netns exec {sub} {q(sys.executable)} -m op25b_cfg.lab.smtp probe"
    conn = f"-i {inv} -d lab-bras --known-hosts {q(str(lab.known_hosts))}"
    workdir = "" if lab_workdir == CLI_WORKDIR else f" --workdir {q(str(lab_workdir))}"
    return "\n".join(
        [
            f"bras management: ssh {lab.username}@{lab.mgmt_bras_ip} -p {lab.ssh_port}",
            f"  host key in:   {lab.known_hosts}",
            f"  password in:   {lab.password_file}  (random, valid only for the lab's sshd)",
            f"  users:         {lab.username} (nft directly) and {OPERATOR} (same password; nft through sudo)",
            f"inventory:       {inv}  (devices lab-bras = block, lab-bras-targeted, lab-bras-flow)",
            "",
            "Try it:",
            f"  export OP25B_USERNAME={lab.username}",
            f'  export OP25B_PASSWORD="$(sudo cat {q(str(lab.password_file))})"',
            f"  {smtp} {EXTERNAL_V4} 25 {ISP_MTA_V4} 25          # before: both delivered",
            f"  op25b generate -i {inv} -o out",
            f"  op25b push {conn}            # dry run: the diff",
            f"  op25b push {conn} --commit   # commit, post-audit, confirm",
            f"  op25b audit --live {conn}    # fetch the running ruleset over SSH and audit it",
            f"  {smtp} {EXTERNAL_V4} 25 {ISP_MTA_V4} 25          # after: foreign MX refused, ISP relay delivered",
            f"  op25b effect collect {conn}  # read the filter's counters into ./op25b.db",
            "  op25b effect report --since 1h   # per pool: blocked, relays, submission; no IPv6 sent: a gap, exit 1",
            f"  sudo ip netns exec {lab.ns('bras')} nft list table inet op25b",
            f"  op25b lab down{workdir}",
        ]
    )


@lab_app.command("up")
def lab_up(
    workdir: WorkdirOpt = None,
    prefix: Annotated[str, typer.Option("--prefix", hidden=True, help="Name prefix (tests).")] = "op25b-lab-",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Build the lab (names op25b-lab-*); print the management address, user, known_hosts and next steps."""
    from op25b_cfg.lab.netns import Lab
    from op25b_cfg.lab.target import write_inventory

    _setup_logging(verbose)
    lab = Lab.for_cli(_workdir(workdir), prefix)
    try:
        lab.up()
        write_inventory(lab)
    except Op25bError as exc:
        raise _fail(exc) from None
    out.print("[bold green]op25b lab is up[/]", highlight=False)
    out.print(_guide(lab.workdir), highlight=False, markup=False, soft_wrap=True)


@lab_app.command("down")
def lab_down(workdir: WorkdirOpt = None) -> None:
    """Remove everything the lab recorded in its state file (processes, namespaces, the management link)."""
    from op25b_cfg.lab.netns import Lab

    path = _workdir(workdir)
    lab = Lab.load(path)
    if lab is None:
        err.print(f"no lab recorded in {path}; nothing to remove", highlight=False)
        raise typer.Exit(EXIT_OK)
    removed = lab.down()
    out.print(f"op25b lab down: removed {len(removed)} item(s)", highlight=False)
    for item in removed:
        out.print(f"  {item}", highlight=False, markup=False)


@lab_app.command("status")
def lab_status(workdir: WorkdirOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Show what is up. Exit 0 when the whole lab is up, 1 when it is not (or only partly)."""
    from op25b_cfg.lab.netns import Lab

    path = _workdir(workdir)
    lab = Lab.load(path)
    status = lab.status() if lab is not None else None
    up = status is not None and all(
        all(v.values()) for k, v in status.items() if k in ("namespaces", "links", "processes")
    )
    if fmt is Format.json:
        print(json.dumps({"schema": "op25b.lab/1", "up": up, "lab": status}, indent=2))
        raise typer.Exit(EXIT_OK if up else EXIT_FINDINGS)
    if status is None:
        out.print(f"no lab recorded in {path} (start one with: sudo op25b lab up)", highlight=False)
        raise typer.Exit(EXIT_FINDINGS)
    out.print(f"op25b lab ({status['prefix']}*, state {path}): {'up' if up else 'NOT fully up'}", highlight=False)
    for kind in ("namespaces", "links", "processes"):
        for name, alive in status[kind].items():
            out.print(f"  {kind[:-1] if kind != 'processes' else 'process'} {name}: {'up' if alive else 'DOWN'}")
    if up:
        out.print(_guide(path), highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(EXIT_OK if up else EXIT_FINDINGS)


@lab_app.command("emulators")
def lab_emulators(
    workdir: Annotated[
        Path,
        typer.Option("--workdir", help="Where the inventory, known_hosts and password file are written (kept)."),
    ] = Path("op25b-emulators"),
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            "-i",
            help="Inventory whose policy and router devices to emulate (default ./inventory, else the example).",
            show_default=False,
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0, hidden=True, help="Stop after SECONDS (tests).")
    ] = None,
    timer_scale: Annotated[
        float, typer.Option("--timer-scale", min=0.001, hidden=True, help="Scale commit-confirm timers (tests).")
    ] = 1.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Emulated routers (no root needed): one per platform (ios, iosxr, junos, eos) on 127.0.0.1, serving the
    real protocols (SSH CLI + SCP, XML agent, NETCONF, eAPI) until Ctrl-C, to try push and audit --live."""
    import signal
    import threading

    from op25b_cfg.connection.factory import quiet_library_logs
    from op25b_cfg.fanout import ctrl_c_sets
    from op25b_cfg.lab.emulated import READY, EmulatorLab, default_inventory, serve

    _setup_logging(verbose)
    quiet_library_logs(verbose)  # paramiko logs every client that hangs up as an ERROR
    lab = EmulatorLab(workdir, inventory or default_inventory(), timer_scale=timer_scale)
    stop = threading.Event()

    def ready(lab: EmulatorLab) -> None:
        out.print(lab.guide(), highlight=False, markup=False, soft_wrap=True)
        until = "Ctrl-C" if duration is None else f"Ctrl-C or {duration:g} s"
        out.print(
            f"{READY}: {len(lab.devices)} emulated router(s) on 127.0.0.1; serving until {until}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        sys.stdout.flush()

    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with ctrl_c_sets(stop, lambda _msg: err.print("stopping the emulators...", highlight=False)):
            serve(lab, duration, stop, on_ready=ready)
    except Op25bError as exc:
        raise _fail(exc) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    out.print(
        f"stopped {len(lab.devices)} emulator(s); their ports are closed. {lab.workdir} stays (inventory,"
        " known_hosts, password, start/ and your push backups/ and logs/); the next run rewrites its files.",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
