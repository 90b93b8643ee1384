"""``op25b lab emulators``: one protocol emulator per router platform on 127.0.0.1, and a ready inventory.

A newcomer without routers (and without root) can try ``push`` and ``audit --live`` through the real
napalm drivers. :class:`EmulatorLab` picks one device per router platform (``cisco_ios``, ``cisco_iosxr``,
``juniper_junos``, ``arista_eos``) from an inventory, starts the matching emulator of
:mod:`op25b_cfg.lab.emulators` with a realistic starting config, and writes into a work directory:

- ``inventory/``: the inventory's policy, groups and defaults plus a ``hosts.yaml`` with those devices
  (their groups and attachments kept) pointing at ``127.0.0.1``, with Nornir ``connection_options`` giving
  each emulator's port and the napalm ``optional_args`` it needs;
- ``known_hosts``: trusts the SSH emulators' host key (so host keys stay verified, as in production);
- ``password`` (mode 0600): the password every emulator of this run accepts, with one random username;
- ``start/<device>.cfg``: the starting configs, to compare with what a push leaves.

Starting config: ``<inventory>/running/<device>.cfg`` when present (the sample configs of real-looking
routers) with every OP25B object and reference removed, i.e. the router *before* op25b, plus the management
service napalm needs (ios: ``archive`` and ``ip scp server enable``; iosxr: ``xml agent tty``; junos:
``netconf ssh``; eos: eAPI over HTTP). Without one, the emulator's ``default_config``. After
``op25b push --commit`` every device audits COMPLIANT.
"""

from __future__ import annotations

import logging
import os
import secrets
import shlex
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from op25b_cfg.errors import Op25bError
from op25b_cfg.inventory import DEFAULTS_FILE, GROUPS_FILE, HOSTS_FILE, POLICY_FILE, Device, load_inventory
from op25b_cfg.lab.emulators.base import LOOPBACK, EmulatorBase
from op25b_cfg.lab.emulators.sshserver import SshEmulator
from op25b_cfg.platforms import PLATFORMS, get_platform

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_WORKDIR",
    "EmulatedDevice",
    "EmulatorLab",
    "EmulatorLabError",
    "default_inventory",
    "emulated_platforms",
    "serve",
    "starting_config",
]

DEFAULT_WORKDIR = Path("op25b-emulators")
BUNDLED_INVENTORY = Path(__file__).resolve().parent.parent.parent / "inventory"
"""The example inventory of a source checkout (used when ./inventory does not exist)."""
READY = "ready"
"""The word that starts the line printed once every emulator listens (tests wait for it)."""


def emulated_platforms() -> list[str]:
    """The platforms whose package has an emulator (:meth:`~op25b_cfg.platforms.base.Platform.emulator`), in
    registry order (the order the lab starts them)."""
    return [name for name in PLATFORMS if get_platform(name).emulator() is not None]


class EmulatorLabError(Op25bError):
    """The emulator lab cannot start (no router device in the inventory, work directory not writable...)."""


# ---------------------------------------------------------------------------------------------------------------
# Starting configs


def _emulator(device: Device) -> type[EmulatorBase]:
    emulator = get_platform(device.platform).emulator()
    if emulator is None:
        raise EmulatorLabError(f"{device.name}: platform {device.platform} has no emulator")
    return emulator


def starting_config(device: Device, inventory_dir: Path) -> tuple[str, str]:
    """The config an emulated ``device`` starts with, and where it came from (for the user).

    ``<inventory>/running/<device>.cfg`` without its OP25B part, else the emulator's default config; both
    with the management service the driver needs (the emulator class's ``strip_op25b``,
    ``default_config`` and ``with_prerequisites``).
    """
    emulator = _emulator(device)
    saved = inventory_dir / "running" / f"{device.name}.cfg"
    if saved.is_file():
        try:
            text = saved.read_text(encoding="utf-8")
            start = emulator.with_prerequisites(emulator.strip_op25b(text))
            return start, f"{_short(saved)} without its OP25B part"
        except (OSError, ValueError) as exc:  # unreadable, not UTF-8, or not parseable
            log.warning("%s: cannot use %s (%s); using the emulator's default config", device.name, saved, exc)
    text = emulator.default_config(device)
    return emulator.with_prerequisites(text), f"the {device.platform} emulator's default config"


# ---------------------------------------------------------------------------------------------------------------
# The lab


@dataclass
class EmulatedDevice:
    """One inventory device served by one emulator."""

    device: Device
    driver: str
    """What the device's session talks through: ``napalm ios``, ``netmiko huawei`` (``Platform.session_library``)."""
    config_source: str
    start_text: str
    emulator: EmulatorBase

    def connection_options(self) -> dict[str, Any]:
        """Nornir ``connection_options`` for hosts.yaml: the emulator's port and napalm optional_args."""
        args: dict[str, Any] = dict(type(self.emulator).lab_optional_args())
        napalm: dict[str, Any] = {"port": self.emulator.port}
        if args:
            napalm["extras"] = {"optional_args": args}
        return {"napalm": napalm}


@dataclass
class EmulatorLab:
    """The emulators of one ``op25b lab emulators`` run and the files that describe them.

    ``start()`` picks the devices, starts the emulators and writes the work directory; ``stop()`` stops every
    emulator (idempotent, never raises) and leaves the work directory.
    """

    workdir: Path
    inventory: Path = Path("inventory")
    timer_scale: float = 1.0
    username: str = field(default_factory=lambda: f"op25b-{secrets.token_hex(3)}")
    devices: list[EmulatedDevice] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    _password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)

    def __post_init__(self) -> None:
        self.workdir = self.workdir.expanduser().resolve()
        self.inventory = self.inventory.expanduser().resolve()

    # -- paths -----------------------------------------------------------------------------------------
    @property
    def inventory_dir(self) -> Path:
        return self.workdir / "inventory"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    @property
    def password_file(self) -> Path:
        return self.workdir / "password"

    @property
    def ports(self) -> dict[str, int]:
        return {d.device.name: d.emulator.port for d in self.devices}

    # -- life cycle ------------------------------------------------------------------------------------
    def pick_devices(self) -> list[Device]:
        """The first device of each platform with an emulator in the inventory, in registry order."""
        inv = load_inventory(self.inventory)
        emulated = emulated_platforms()
        chosen: dict[str, Device] = {}
        for dev in inv.devices.values():
            if dev.platform in emulated:
                chosen.setdefault(dev.platform, dev)
            else:
                self.skipped.setdefault(dev.name, f"{dev.platform} has no emulator; sudo op25b lab up has a Linux BRAS")
        for dev in inv.devices.values():
            if dev.platform in chosen and chosen[dev.platform] is not dev:
                self.skipped[dev.name] = f"one emulator per platform: {chosen[dev.platform].name} is the {dev.platform}"
        if not chosen:
            raise EmulatorLabError(
                f"{self.inventory / HOSTS_FILE}: no device with a router platform"
                f" ({', '.join(emulated)}). Fix: pick an inventory with one, e.g. -i inventory"
            )
        return [chosen[p] for p in emulated if p in chosen]

    def start(self) -> None:
        """Start one emulator per router platform and write the work directory. Stops what it started when a
        step fails (and re-raises)."""
        picked = self.pick_devices()
        try:
            for dev in picked:
                driver = get_platform(dev.platform).session_library()
                text, source = starting_config(dev, self.inventory)
                emulator = get_platform(dev.platform).emulator()
                assert emulator is not None  # pick_devices() takes only platforms with an emulator
                emu = emulator(
                    text,
                    hostname=dev.name,
                    username=self.username,
                    password=self._password,
                    timer_scale=self.timer_scale,
                )
                emu.start()
                self.devices.append(EmulatedDevice(dev, driver, source, text, emu))
                log.info("%s: %s emulator on %s:%d", dev.name, driver, LOOPBACK, emu.port)
            self.write_files()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every emulator (listeners, connections, timers). Never raises; the work directory stays."""
        for d in self.devices:
            try:
                d.emulator.stop()
            except Exception:  # pragma: no cover - stop is best effort
                log.exception("%s: stopping the emulator failed", d.device.name)

    # -- files -----------------------------------------------------------------------------------------
    def hosts(self) -> dict[str, Any]:
        """hosts.yaml content: every emulated device at 127.0.0.1 with its groups, data and connection options."""
        raw = yaml.safe_load((self.inventory / HOSTS_FILE).read_text(encoding="utf-8")) or {}
        out: dict[str, Any] = {}
        for d in self.devices:
            entry = dict(raw.get(d.device.name) or {})
            entry["hostname"] = LOOPBACK
            entry["username"] = self.username  # the inventory's username would win over OP25B_USERNAME
            entry["port"] = d.emulator.port  # the device's own port: sessions and the one-run-per-address check
            entry.setdefault("platform", d.device.platform)
            entry["connection_options"] = d.connection_options()
            out[d.device.name] = entry
        return out

    def write_files(self) -> None:
        """Write inventory/, known_hosts, password (0600) and start/<device>.cfg into the work directory."""
        try:
            self.inventory_dir.mkdir(parents=True, exist_ok=True)
            for name in (POLICY_FILE, GROUPS_FILE, DEFAULTS_FILE):
                src = self.inventory / name
                if src.is_file():
                    shutil.copyfile(src, self.inventory_dir / name)
                else:
                    (self.inventory_dir / name).unlink(missing_ok=True)
            ports = ", ".join(f"{n} {p}" for n, p in self.ports.items())
            header = (
                f"# op25b lab emulators: devices of {self.inventory / HOSTS_FILE} served on 127.0.0.1\n"
                f"# ({ports}); valid only while `op25b lab emulators` runs.\n"
                "# No password here: export OP25B_PASSWORD from ../password (and OP25B_USERNAME).\n"
            )
            (self.inventory_dir / HOSTS_FILE).write_text(
                header + yaml.safe_dump(self.hosts(), sort_keys=False), encoding="utf-8"
            )
            ssh = [d.emulator for d in self.devices if isinstance(d.emulator, SshEmulator)]
            self.known_hosts.write_text("".join(e.known_hosts_line() + "\n" for e in ssh), encoding="utf-8")
            _write_private(self.password_file, self._password + "\n")
            start = self.workdir / "start"
            start.mkdir(exist_ok=True)
            for d in self.devices:
                (start / f"{d.device.name}.cfg").write_text(d.start_text, encoding="utf-8")
        except OSError as exc:
            raise EmulatorLabError(
                f"{self.workdir}: cannot write the lab files ({exc.strerror or exc}). Fix: choose a writable --workdir"
            ) from None
        # the copied inventory must load: the commands printed next rely on it
        load_inventory(self.inventory_dir)

    # -- what to tell the user ---------------------------------------------------------------------------
    def commands(self) -> list[str]:
        """The shell commands a newcomer runs next, in order (no secret in them; ``#`` comments explain)."""
        q = shlex.quote
        conn = "-i inventory --known-hosts known_hosts --allow-cleartext"  # the eos emulator: eAPI over http
        return [
            f"cd {q(str(self.workdir))}",
            f"export OP25B_USERNAME={q(self.username)}",
            'export OP25B_PASSWORD="$(cat password)"',
            f"op25b audit --live {conn}     # before: no OP25B filter yet (NONCOMPLIANT, exit 1)",
            f"op25b push {conn}             # dry run: the diff per device, nothing changes",
            f"op25b push {conn} --commit    # commit with revert timer, post-audit, confirm",
            f"op25b push {conn}             # again: unchanged, nothing to do",
            f"op25b audit --live {conn}     # after: every device COMPLIANT (exit 0)",
        ]

    def guide(self) -> str:
        """What runs where, and the commands to try."""
        rows = [
            f"  {d.device.name:<16} {d.device.platform:<18} {d.driver:<26} {LOOPBACK}:{d.emulator.port:<6}"
            f" start: {d.config_source}"
            for d in self.devices
        ]
        skipped = [f"  {name}: skipped ({why})" for name, why in self.skipped.items()]
        return "\n".join(
            [
                "emulated routers (device, platform, session, address, starting config):",
                *rows,
                *skipped,
                f"work directory:  {self.workdir}",
                "  inventory/      the devices above at 127.0.0.1 (connection_options: port, napalm optional_args)",
                "  known_hosts     the SSH emulators' host key (host keys stay verified)",
                f"  password        mode 0600; user {self.username}, same for every emulator, valid for this run only",
                "  start/          the starting configs",
                "",
                "Try it in another terminal:",
                *(f"  {c}" for c in self.commands()),
            ]
        )


def default_inventory() -> Path:
    """``./inventory`` when it holds a hosts.yaml, else the example inventory next to the package."""
    local = Path("inventory")
    if (local / HOSTS_FILE).is_file() or not (BUNDLED_INVENTORY / HOSTS_FILE).is_file():
        return local
    return BUNDLED_INVENTORY


def _short(path: Path) -> str:
    """``path`` relative to the current directory when it is below it (shorter for the user)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (mode 0600 even when the file existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)


def serve(
    lab: EmulatorLab,
    duration: float | None = None,
    stop: threading.Event | None = None,
    on_ready: Callable[[EmulatorLab], None] | None = None,
) -> None:
    """Start ``lab``, call ``on_ready``, serve until ``stop`` is set, ``duration`` seconds pass or Ctrl-C
    (KeyboardInterrupt), then stop every emulator. The work directory stays."""
    stop = stop or threading.Event()
    lab.start()
    try:
        if on_ready is not None:
            on_ready(lab)
        deadline = None if duration is None else time.monotonic() + duration
        while not stop.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            stop.wait(0.5 if left is None else min(0.5, left))
    except KeyboardInterrupt:
        log.info("interrupted")
    finally:
        lab.stop()
