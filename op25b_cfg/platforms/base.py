"""The :class:`Platform` base class, the one spec every platform package implements.

A platform is one package, ``op25b_cfg/platforms/<platform>/`` (or a third-party package registered under the
``op25b.platforms`` entry point group), holding everything vendor-specific:

- ``__init__.py``: the :class:`Platform` subclass (light to import: no parser, no template engine);
- ``filter.j2``: the Jinja template that turns the vendor-neutral :class:`~op25b_cfg.rules.FilterPlan` into
  device configuration. A platform decides *how* a rule is written, never *what* is permitted: that is fixed
  by :func:`op25b_cfg.rules.build_plan`;
- ``parser.py``: ``parse(text, *, lazy=False) -> ParsedConfig``, the running-config parser (:meth:`Platform.parse`);
- ``emulator.py`` (routers): ``EMULATOR``, a device emulator speaking the real management protocol
  (:meth:`Platform.emulator`);
- the platform's counter reader (:meth:`Platform.read_counters`, for ``op25b effect collect``), with any
  module it needs (``counters.py``).

Every hook is documented once, here; shared code calls hooks and never compares platform names.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from op25b_cfg import caches
from op25b_cfg.errors import PlatformError
from op25b_cfg.rules import AddrMatch, FilterPlan, PortRange, Rule, build_plan

if TYPE_CHECKING:
    import jinja2

    from op25b_cfg.audit.model import ParsedConfig
    from op25b_cfg.connection.base import Session
    from op25b_cfg.connection.napalm_session import NapalmSession
    from op25b_cfg.dialects.base import ConfigDialect
    from op25b_cfg.effect.model import CounterReading
    from op25b_cfg.intent_protocols import Attachment, Device
    from op25b_cfg.lab.emulators.base import EmulatorBase

log = logging.getLogger(__name__)

# Process-wide caches (registered with :mod:`op25b_cfg.caches`, which empties them all)

PLAN_BLOCKS: dict[tuple[str, str, int, bool, bool], tuple[FilterPlan, str]] = caches.register({})
"""Rendered ``plan_*`` template blocks per (platform, block, id(plan), log, counters); the plan is kept in the
value."""
RENDERED: dict[tuple[str, int], tuple[Device, FilterPlan, str]] = caches.register({})
"""The last render per (platform, id(device)), with the plan it used: push renders the candidate and its
post-change audit renders the same intent again. Device and plan are kept in the value."""
CHECKED: dict[tuple[str, int], Device] = caches.register({})
"""Devices that passed :meth:`Platform.check` per (platform, id(device)), the device kept in the value (so its id
is not reused): the loader checks every device, and rendering it does not check it a second time."""
RENDER_MAX = 16384
TEMPLATES: dict[str, jinja2.Template] = caches.register({})
"""Compiled templates by name (``<platform>/<file>``), as :func:`jinja_env` loaded them: Jinja's own look-up
(its cache key, a lock) cost about 10,000 instructions per render."""
VERIFIED_TEMPLATES: set[str] = caches.register(set())
"""Templates whose blocks were checked to cover the whole template (once per template and process)."""


def data_dir(name: str) -> Path | None:
    """A data directory shipped with op25b (``templates``, ``audits``): inside the installed package (the
    wheel force-includes it), or at the top of a source checkout. None when neither exists."""
    pkg = Path(__file__).resolve().parent.parent
    for cand in (pkg / name, pkg.parent / name):
        if cand.is_dir():
            return cand
    return None


def bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's per-user bytecode cache (a 0700 directory it creates and checks in the temp directory), so a
    process compiles each template once per template change, not once per run: compiling the five templates
    is most of a small ``op25b generate``. None when no safe directory can be had; a failed write is ignored
    (the template is compiled again next time)."""
    import jinja2

    class Cache(jinja2.FileSystemBytecodeCache):
        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    try:
        return Cache()
    except (OSError, RuntimeError) as exc:  # RuntimeError: Jinja found the directory unsafe
        log.info("no Jinja bytecode cache: %s", exc)
        return None


@lru_cache(maxsize=1)
def jinja_env() -> jinja2.Environment:
    import jinja2  # imported on first render: listing platforms or --help needs no template engine

    env = jinja2.Environment(
        bytecode_cache=bytecode_cache(),
        loader=jinja2.FunctionLoader(_load_template),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        auto_reload=False,  # templates ship with the package: no stat() per render
    )
    env.filters["ports"] = lambda ports: [str(p) for p in ports]
    return env


_TEMPLATE_DIRS: dict[str, Path] = {}
"""Platform name -> its package directory, registered by :meth:`Platform._render` before the template is looked
up (so the template loader needs no registry)."""


def _load_template(name: str) -> tuple[str, str, Callable[[], bool]] | None:
    """Jinja loader: ``<platform>/<file>`` is ``<file>`` in that platform's package directory."""
    platform, _, file = name.partition("/")
    directory = _TEMPLATE_DIRS.get(platform)
    if directory is None or not file or "/" in file or file.startswith("."):
        return None
    path = directory / file
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        return None
    return source, str(path), lambda: True


class LogLineError(ValueError):
    """A log line carries a platform's OP25B log marker but not the format that goes with it (a truncated or
    garbled line). Its message says what is wrong; the reader counts such lines, never stops on them."""


class LogHit(NamedTuple):
    """What one syslog line of an OP25B rule says: ``packets`` packets from ``source`` to ``destination`` port
    ``dst_port`` dropped by the OP25B rule ``rule`` (the filter or log-prefix name the line gives, ``""`` when the
    format names none) for ``purpose`` (``blocked`` or ``limited``). Addresses are as printed (not validated).
    A tuple: a million log lines make a million of them."""

    source: str
    destination: str
    dst_port: int | None
    packets: int
    rule: str = ""
    purpose: str = "blocked"


_LOG_GROUPS = ("src", "dst", "dport", "packets", "action", "proto", "rule")
_new_tuple = tuple.__new__


@dataclass(frozen=True)
class LogPattern:
    """One syslog message format an OP25B rule of a platform produces.

    ``marker``: a literal every such line contains (a cheap pre-filter: the reader routes a line to the platform
    whose marker it holds). ``regex`` is searched in the line from the marker on; its named groups: ``src``,
    ``dst``, optional ``dport``, ``packets`` (absent or unset: one packet), ``action``, ``proto`` and ``rule``. A
    line counts as an OP25B drop when its ``action`` is one of ``denied`` (no ``action`` group: every line is), its
    ``proto`` (if any) is tcp, its ``dport`` (if any) is 25, and its ``rule`` starts with ``rule_prefix``.
    """

    marker: str
    regex: re.Pattern[str]
    denied: frozenset[str] = frozenset()
    rule_prefix: str = ""
    purpose: str = "blocked"
    _pick: Callable[[tuple[str | None, ...]], tuple[str | None, ...]] | None = field(
        init=False, repr=False, compare=False
    )
    _numbers: tuple[int, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        index = self.regex.groupindex
        if "src" not in index or "dst" not in index:
            raise ValueError(f"log pattern {self.marker!r}: the regex needs groups src and dst")
        numbers = [index.get(g, 0) for g in _LOG_GROUPS]
        if all(numbers):  # every group in the regex: one match.group(...) call picks them
            object.__setattr__(self, "_pick", None)
            object.__setattr__(self, "_numbers", tuple(numbers))
        else:  # picks from (None, *match.groups()): index 0 (None) stands for a group the regex lacks
            object.__setattr__(self, "_pick", itemgetter(*numbers))

    def parse(self, line: str) -> LogHit | None:
        """The hit in ``line`` (which holds :attr:`marker`), None when it is another rule's or a permit's line.
        Raises LogLineError when the line does not have the format."""
        m = self.regex.search(line, line.find(self.marker))  # the fields follow the marker
        if m is None:
            raise LogLineError(f"not the {self.marker.strip(' %:')} format")
        pick = self._pick
        src, dst, dport, packets, action, proto, rule = (
            m.group(*self._numbers) if pick is None else pick((None, *m.groups()))
        )
        if action is not None and action not in self.denied:
            return None
        if proto is not None and proto not in ("tcp", "TCP", "6"):
            return None
        if dport is not None and dport != "25":
            return None
        rule = rule or ""
        if not rule.startswith(self.rule_prefix):
            return None
        if src is None or dst is None:
            raise LogLineError(f"no source or destination address in the {self.marker.strip(' %:')} line")
        # tuple.__new__: a third of LogHit(...)'s cost, and a million lines make a million hits
        return _new_tuple(LogHit, (src, dst, 25 if dport else None, int(packets) if packets else 1, rule, self.purpose))


class Platform:
    """Base class of every platform. Subclasses set the class attributes and may override the hooks.

    Class attributes:

    ``name``
        The ``platform`` value in the inventory, the package name, and the test-data folder
        (``tests/platforms/<name>/``).
    ``netmiko_device_type``
        The netmiko ``device_type`` used for SSH CLI access.
    ``napalm_driver``
        The napalm driver name, or None where push goes through netmiko (Linux).
    ``file_extension``
        Extension of rendered files (``op25b generate`` writes ``<device>.<ext>``).
    ``attach_kinds``
        Attachment kinds the platform can render.
    ``modes``
        OP25B modes the platform can enforce.
    ``flow_sessions``
        True when the platform can cap concurrent port-25 sessions per subscriber.
    ``flow_delay``
        True when the platform can hold back every new port-25 connection from a pool for a fixed time
        (``flow_control.connect_delay_s``).
    ``flow_rate_kinds``
        Attachment kinds on which a new-connection rate limit is really per subscriber (a policer on a
        plain interface would be shared by every subscriber behind it).
    ``commit_confirm``
        True when the platform has a commit with automatic revert timer.
    ``uplinks``
        True when the platform's filters see the output interface, so a host may name its Internet/MTA-facing
        interfaces (``uplinks`` in its data) and the audit checks packets leaving through those.
    ``dialect``
        The :class:`~op25b_cfg.dialects.base.ConfigDialect` of its running config: how push's make-before-break
        clean-up, drift repair and in-place check and the audit's remediation read it and remove op25b's old
        objects from it (None only with ``atomic_replace``).
    ``atomic_replace``
        True when the platform's session replaces everything op25b owns in one transaction (the nftables
        table): push then does no object-by-object clean-up, drift repair or in-place check, and the
        remediation is the whole rendered config.
    ``log_patterns``
        The syslog message formats the platform's OP25B drop rules log (:class:`LogPattern`), read by
        ``op25b effect offenders`` through :meth:`parse_log_line`: the one place a vendor's log format lives.
    """

    name: ClassVar[str]
    netmiko_device_type: ClassVar[str]
    napalm_driver: ClassVar[str | None]
    file_extension: ClassVar[str] = "cfg"
    attach_kinds: ClassVar[frozenset[str]]
    modes: ClassVar[frozenset[str]] = frozenset({"block", "targeted"})
    flow_sessions: ClassVar[bool] = False
    flow_delay: ClassVar[bool] = False
    flow_rate_kinds: ClassVar[frozenset[str]] = frozenset()
    commit_confirm: ClassVar[bool] = False
    uplinks: ClassVar[bool] = False
    atomic_replace: ClassVar[bool] = False
    max_name_length: ClassVar[int] = 64
    template: ClassVar[str] = "filter.j2"
    log_patterns: ClassVar[tuple[LogPattern, ...]] = ()

    # ------------------------------------------------------------------ logs

    def parse_log_line(self, line: str) -> LogHit | None:
        """The OP25B drop one syslog line of this platform reports, or None: the line is not one of
        :attr:`log_patterns` (no marker), or it is but reports another rule, a permit, or another port.
        Raises :class:`LogLineError` for a line with a marker but not its format. Platforms whose messages a
        regex cannot read override this."""
        for pattern in self.log_patterns:
            if pattern.marker in line:
                return pattern.parse(line)
        return None

    # ------------------------------------------------------------------ the package

    @classmethod
    def package(cls) -> str:
        """The import name of the platform's package (where its parser, template and emulator live)."""
        return cls.__module__

    @classmethod
    def package_dir(cls) -> Path:
        """The directory of the platform's package (its ``filter.j2`` and other data files)."""
        module = sys.modules[cls.__module__]
        return Path(str(module.__file__)).resolve().parent

    @classmethod
    def module(cls, name: str) -> ModuleType:
        """Import ``<package>.<name>`` (imported on first use: the spec itself stays light)."""
        return importlib.import_module(f"{cls.package()}.{name}")

    # ------------------------------------------------------------------ parsing

    def parse(self, text: str, *, lazy: bool = False) -> ParsedConfig:
        """Parse one running config into the vendor-neutral model. Never raises on bad input: what is not
        understood goes into ``ParsedConfig.unparsed``. ``lazy`` builds each filter's rules on first read
        (:mod:`op25b_cfg.audit.lazy`). The default calls ``parse`` of the package's ``parser`` module."""
        fn = self.module("parser").parse
        result: ParsedConfig = fn(text, lazy=True) if lazy else fn(text)
        return result

    @functools.cached_property
    def dialect(self) -> ConfigDialect | None:
        """The platform's :class:`~op25b_cfg.dialects.base.ConfigDialect` (see the class attributes), built on
        first use so that listing platforms imports no reader. None only with ``atomic_replace``."""
        return None

    def truncation_problem(self, text: str) -> str | None:
        """Why a saved running config looks cut off (None: it looks complete). Default: the dialect's check
        (:meth:`~op25b_cfg.dialects.base.ConfigDialect.truncation_problem`); it costs a small fraction of
        parsing and runs before every audit of a saved or live config."""
        return self.dialect.truncation_problem(text) if self.dialect is not None else None

    # ------------------------------------------------------------------ connection

    def session_library(self) -> str:
        """What this platform's session talks to a device through, as the user reads it: ``napalm <driver>``, or
        ``netmiko <device_type>`` where the platform has no napalm driver (its own session over netmiko).

        >>> from op25b_cfg.platforms import get_platform
        >>> get_platform("cisco_ios").session_library(), get_platform("huawei_vrp").session_library()
        ('napalm ios', 'netmiko huawei')
        """
        if self.napalm_driver:
            return f"napalm {self.napalm_driver}"
        return f"netmiko {self.netmiko_device_type}"

    def session_class(self) -> type[Session]:
        """The :class:`~op25b_cfg.connection.base.Session` subclass that connects to, reads and changes a device
        of this platform. Default: the napalm session when ``napalm_driver`` is set; a platform pushed another
        way brings its own Session in its package and overrides this."""
        if self.napalm_driver is None:
            raise PlatformError(f"platform {self.name} names no napalm driver and no session class; reinstall op25b")
        from op25b_cfg.connection.napalm_session import NapalmSession

        return NapalmSession

    def napalm_optional_args(self, session: NapalmSession, extra: dict[str, Any]) -> dict[str, Any]:
        """The driver-specific napalm ``optional_args`` of a session (its ``opts``, ``creds``, ``ssh_args()``,
        ``ssh_config_file()``), before ``extra`` (the inventory's and ``--driver-arg`` ones, applied after; the
        hook may take op25b-only keys out of ``extra``). Contains secrets: never log it."""
        return {}

    def napalm_port(self, session: NapalmSession, extra: dict[str, Any], port: int | None) -> int | None:
        """The port to pass to the napalm driver, given the merged extra optional_args (default: ``port``)."""
        return port

    def after_napalm_connect(self, driver: Any, session: NapalmSession) -> None:
        """Adjust a napalm driver object after it is built and before ``open()`` (default: nothing)."""

    def revert_in(self, seconds: int) -> int:
        """The commit-confirm timer the driver accepts closest to ``seconds``, never shorter (only called when
        ``commit_confirm``)."""
        return max(1, seconds)

    # ------------------------------------------------------------------ lab

    def emulator(self) -> type[EmulatorBase] | None:
        """The class of the device emulator that speaks this platform's real management protocol (``EMULATOR``
        in the package's ``emulator`` module), or None where the platform is tested on the real thing
        (Linux/nftables in network namespaces)."""
        try:
            mod = self.module("emulator")
        except ModuleNotFoundError as exc:
            if exc.name != f"{self.package()}.emulator":
                raise
            return None
        cls: type[EmulatorBase] = mod.EMULATOR
        return cls

    def apply_change(self, running: str, change: str) -> str:
        """The running config after the device merges ``change`` (a push candidate, clean-up or remediation in
        its own syntax): what the contract suite checks a remediation against. Default: the emulator's
        :meth:`~op25b_cfg.lab.emulators.base.EmulatorBase.apply_change`."""
        emulator = self.emulator()
        if emulator is None:
            raise PlatformError(f"platform {self.name} has no emulator and no apply_change")
        return emulator.apply_change(running, change)

    # ------------------------------------------------------------------ validation

    def check(self, device: Device) -> None:
        """Raise :class:`PlatformError` (message with a ``Fix:``) when this platform cannot render the device's
        intent exactly. Called by inventory validation, so an unsupported combination never reaches render."""
        for att in device.attach:
            if att.kind not in self.attach_kinds:
                raise PlatformError(
                    f"platform {self.name} cannot attach a filter to a {att.kind} ({att.name})"
                    f" [{device.source_of('attach')}]. Fix: use kind {' or '.join(sorted(self.attach_kinds))}"
                )
            for option, kind in (("template_type", "dynamic-template"), ("profile_interface", "dynamic-profile")):
                if getattr(att, option) is not None and att.kind != kind:
                    raise PlatformError(
                        f"platform {self.name}: {option} applies only to a {kind} attachment, not to {att.kind}"
                        f" {att.name} [{device.source_of('attach')}]. Fix: remove {option} from that attachment"
                    )
            self.check_attachment(att)
        delay = device.flow_control.connect_delay_s
        if device.mode == "flow-control" and delay is not None and not self.flow_delay:
            raise PlatformError(
                f"platform {self.name} cannot delay new port-25 connections in mode 'flow-control'"
                f" (flow_control.connect_delay_s={delay}) [{device.source_of('flow_control')}]."
                " Fix: set flow_control.connect_delay_s to null in this device's host or group data (or leave"
                " it out of the policy), or run the delay on a platform that can (the 'connect delay' column of"
                " `op25b platforms`)"
            )
        if device.mode not in self.modes:
            raise PlatformError(
                f"platform {self.name} cannot enforce mode '{device.mode}' [{device.source_of('mode')}]."
                f" Fix: use mode {' or '.join(sorted(self.modes))} for this device"
            )
        if device.mode == "flow-control":
            fc = device.flow_control
            if fc.max_sessions is not None and not self.flow_sessions:
                raise PlatformError(
                    f"platform {self.name} cannot enforce mode 'flow-control' with a cap on concurrent port-25"
                    f" sessions per subscriber (flow_control.max_sessions={fc.max_sessions})"
                    f" [{device.source_of('flow_control')}]."
                    " Fix: set flow_control.max_sessions to null for a per-subscriber rate limit only, or use mode"
                    " block"
                )
            shared = [a for a in device.attach if a.kind not in self.flow_rate_kinds]
            if shared:
                raise PlatformError(
                    f"platform {self.name} cannot enforce mode 'flow-control' on {shared[0].kind} {shared[0].name}:"
                    " a port-25 rate limit there would be shared by every subscriber behind it, not enforced per"
                    f" subscriber [{device.source_of('attach')}]."
                    f" Fix: attach flow control to a {' or '.join(sorted(self.flow_rate_kinds))}, or use mode block"
                )

    def checked(self, device: Device) -> None:
        """:meth:`check` once per device object: a device (frozen) that passed it on this platform before is not
        checked again (the inventory loader checks every device; rendering, the audit and push ask again)."""
        key = (self.name, id(device))
        if CHECKED.get(key) is device:
            return
        self.check(device)
        if len(CHECKED) >= RENDER_MAX:
            CHECKED.clear()
        CHECKED[key] = device

    def check_attachment(self, att: Attachment) -> None:
        """Platform-specific checks of one attachment (name syntax). Raise PlatformError with a Fix."""
        if att.name.endswith("*"):
            raise PlatformError(
                f"platform {self.name}: attachment name {att.name!r} has a wildcard, which only linux_nftables"
                " interface names support. Fix: list each interface or template by its exact name"
            )

    # ------------------------------------------------------------------ effect counters

    def read_counters(self, session: Session) -> list[CounterReading]:
        """The OP25B filters' counters on the device behind the open ``session`` (``op25b effect collect``).

        The one vendor-specific step of effect verification: the platform asks the device in its own way
        through :meth:`Session.query <op25b_cfg.connection.base.Session.query>` (a show command, eAPI JSON,
        a NETCONF RPC, ``nft -j``) and reads the answer into :class:`~op25b_cfg.effect.model.CounterReading`
        records, one per counter of every filter whose name is op25b's (``OP25B-...``, table ``inet op25b``),
        with the entry's :class:`~op25b_cfg.rules.Rule` where the output shows what it matches. Pool and
        purpose are decided by the vendor-neutral :mod:`op25b_cfg.effect.attribute`. Raises
        :class:`~op25b_cfg.errors.ConnectionError_` when the device cannot be asked, and
        :class:`PlatformError` when the platform has no counter reader."""
        raise PlatformError(f"platform {self.name} has no counter reader: op25b effect collect cannot read it")

    # ------------------------------------------------------------------ rendering

    def context(self, device: Device, plan: FilterPlan) -> dict[str, Any]:
        """Extra template variables for this platform. The base gives ``device``, ``plan``, ``platform``."""
        return {}

    def render(self, device: Device, plan: FilterPlan | None = None) -> str:
        """The complete OP25B configuration of one device: filters, prefix sets and attachments.

        Raises :class:`PlatformError` (with a ``Fix:``) when the platform cannot enforce the device's intent
        exactly, also for a :class:`Device` built without :func:`~op25b_cfg.inventory.load_inventory`: a
        config that silently does less than asked is never rendered."""
        key = (self.name, id(device))
        hit = RENDERED.get(key)  # a hit means this very device object passed check() before
        if hit is not None and hit[0] is device and hit[1] is (plan if plan is not None else build_plan(device)):
            return hit[2]
        self.checked(device)
        plan = plan if plan is not None else build_plan(device)
        text = self._render(device, plan)
        if len(RENDERED) >= RENDER_MAX:
            RENDERED.clear()
        RENDERED[key] = (device, plan, text)
        return text

    def load_template(self) -> jinja2.Template:
        """This platform's compiled template (``template`` in its package directory), from the shared
        environment."""
        name = f"{self.name}/{self.template}"
        tmpl = TEMPLATES.get(name)
        if tmpl is None:
            if self.name not in _TEMPLATE_DIRS:
                _TEMPLATE_DIRS[self.name] = self.package_dir()
            tmpl = jinja_env().get_template(name)
            # Jinja gives a template its globals as a ChainMap over the environment's, which each new context
            # walks twice (copied into the context, its keys into a set): 12 Python calls per render. The
            # environment's globals never change after jinja_env() built it, so a plain copy holds the same names.
            tmpl.globals = dict(tmpl.globals)
            TEMPLATES[name] = tmpl
        return tmpl

    def _render(self, device: Device, plan: FilterPlan) -> str:
        tmpl = self.load_template()
        ctx: dict[str, Any] = {"device": device, "plan": plan, "platform": self, "rule_line": self.rule_line}
        ctx.update(self.context(device, plan))
        if not tmpl.blocks:
            return tmpl.render(ctx)
        text = self._render_blocks(tmpl, ctx, device, plan)
        if tmpl.name not in VERIFIED_TEMPLATES:
            # once per template and process: the blocks must cover the whole template (no text between them)
            if text != tmpl.render(ctx):
                raise PlatformError(f"template {tmpl.name}: text outside its blocks; reinstall op25b")
            VERIFIED_TEMPLATES.add(str(tmpl.name))
        return text

    def _render_blocks(self, tmpl: jinja2.Template, ctx: dict[str, Any], device: Device, plan: FilterPlan) -> str:
        """Render the template block by block, in order. Blocks named ``plan_*`` depend only on the plan (and
        the device's log/counters switches), so each is rendered once per plan and reused for every device
        that shares it: filters are rendered once, attachments per device."""
        context = tmpl.new_context(ctx)
        out = []
        for name, block in tmpl.blocks.items():
            if not name.startswith("plan_"):
                out.append("".join(block(context)))
                continue
            key = (self.name, name, id(plan), device.counters, device.log)
            hit = PLAN_BLOCKS.get(key)
            if hit is None or hit[0] is not plan:  # the plan object is kept alive, so its id is not reused
                if len(PLAN_BLOCKS) >= RENDER_MAX:
                    PLAN_BLOCKS.clear()
                hit = PLAN_BLOCKS[key] = (plan, "".join(block(context)))
            out.append(hit[1])
        return "".join(out)

    def rule_line(self, rule: Rule, plan: FilterPlan) -> list[str]:
        """Lines for one rule, for line-oriented ACL platforms (Cisco, Arista). Others render in Jinja."""
        raise NotImplementedError(f"{self.name} renders rules in its template")

    # helpers shared by ACL-style platforms -----------------------------------------

    @staticmethod
    def addr(match: AddrMatch | None, style: str) -> str:
        """One address term: ``any``, ``host A``, ``A W`` (wildcard) or ``A/L`` (prefix)."""
        if match is None:
            return "any"
        pfx = match.prefix()
        if pfx is None:
            raise PlatformError(f"non-contiguous mask {match} cannot be rendered")
        full = 32 if match.family == 4 else 128
        if pfx.prefixlen == full and style != "prefix":
            return f"host {pfx.network_address}"
        if style == "wildcard":
            return f"{pfx.network_address} {pfx.hostmask}"
        return str(pfx)

    # ACL-style platforms set these three and get :meth:`aces` for free.
    addr_style: ClassVar[dict[int, str]] = {4: "prefix", 6: "prefix"}
    any_protocol: ClassVar[dict[int, str]] = {4: "ip", 6: "ipv6"}
    log_keyword: ClassVar[str] = "log"

    def aces(self, rule: Rule, action: str | None = None, flags: str = "") -> list[str]:
        """Access-control entries for one rule: the cross product of its sources, destinations and
        destination port ranges, e.g. ``deny tcp 100.64.0.0 0.0.255.255 any eq 25 log``."""
        style = self.addr_style[rule.family]
        proto = (
            "tcp"
            if rule.protocol == 6
            else self.any_protocol[rule.family]
            if rule.protocol is None
            else str(rule.protocol)
        )
        act = action or str(rule.action)
        log_kw = f" {self.log_keyword}" if rule.log and act == "deny" else ""
        out = []
        for src in rule.src or (None,):
            for dst in rule.dst or (None,):
                for port in self.port_terms(rule.dst_ports):
                    out.append(f"{act} {proto} {self.addr(src, style)} {self.addr(dst, style)}{port}{flags}{log_kw}")
        return out

    @staticmethod
    def port_terms(ports: tuple[PortRange, ...]) -> list[str]:
        """``eq 25`` / ``range 20 30`` terms, one per range ([''] for any port)."""
        if not ports:
            return [""]
        return [f" eq {p.lo}" if p.lo == p.hi else f" range {p.lo} {p.hi}" for p in ports]
