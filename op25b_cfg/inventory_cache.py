"""A per-user cache of validated inventories, so a command on an unchanged inventory skips YAML and validation.

After :func:`~op25b_cfg.inventory.load_inventory` validated an inventory, :func:`store` writes the resolved
result as plain JSON (never pickle): every model once in an object table (equal models, immutable, become one
object; devices keep sharing their policy and its pools, which the plan cache keys on), every device as one
row. :func:`load` rebuilds the same runtime objects with
:meth:`~op25b_cfg.inventory_model.Record.trusted` (no validation; neither pydantic nor the validating models
are imported) when the cache entry matches.

The key of an entry is a SHA-256 over: the schema version below, op25b's version, size and modification time of
op25b's validating modules (so an edited checkout never reads a stale entry), the inventory path as given (it
appears in ``sources`` and messages) and the bytes of every inventory file (an absent file counts as absent).
An inventory that uses a platform from a plugin is not cached (the plugin's checks may change without any of
this changing). A second digest over the payload detects a cut or damaged file.

Where: ``$OP25B_CACHE_DIR``, else ``$XDG_CACHE_HOME/op25b/inventory``, else ``~/.cache/op25b/inventory``: a
directory of our own (created 0700; refused when it is a symbolic link, another user's, or open to others), one
file per inventory directory (0600, written atomically). Any entry that fails a check (owner, mode, digest, key,
JSON shape, a field that is not the model's) is ignored and overwritten by the next successful load: a bad
entry costs the full load, never a wrong config. ``OP25B_NO_CACHE=1`` bypasses it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import math
import os
import stat
from pathlib import Path
from typing import Any

from op25b_cfg import __version__, caches
from op25b_cfg.inventory_model import (
    Attachment,
    Device,
    Exemptions,
    FamilyPrefixes,
    FlowControl,
    Inventory,
    OptOut,
    PluginOptions,
    Policy,
    Pool,
    StaticExemption,
)
from op25b_cfg.inventory_values import DEFAULTS_FILE, GROUPS_FILE, HOSTS_FILE, POLICY_FILE
from op25b_cfg.paths import atomic_write

log = logging.getLogger(__name__)

SCHEMA = "op25b.inventory-cache/2"
_FILES = (POLICY_FILE, HOSTS_FILE, GROUPS_FILE, DEFAULTS_FILE)
_MODELS: dict[str, Any] = {
    cls.__name__: cls
    for cls in (
        Attachment,
        Exemptions,
        FamilyPrefixes,
        FlowControl,
        OptOut,
        PluginOptions,
        Policy,
        Pool,
        StaticExemption,
    )
}
_DEVICE_FIELDS = tuple(Device.__dataclass_fields__)
_CODE = (
    "__init__.py",
    "inventory.py",
    "inventory_model.py",
    "inventory_schema.py",
    "inventory_values.py",
    "inventory_checks.py",
    "rules.py",
    "inventory_cache.py",
    "netaddr.py",
    "yamlload.py",
    "paths.py",
    "connection/credentials.py",
    "platforms/__init__.py",
    "platforms/base.py",
    "platforms/*/__init__.py",
)
"""op25b's modules whose change can change a load's result (size and mtime enter the key)."""
_DIRS: dict[tuple[str | None, str | None, str | None], Path] = caches.register({})
""":func:`cache_dir` by ``$OP25B_CACHE_DIR``, ``$XDG_CACHE_HOME`` and ``$HOME`` (``Path.home()`` reads ``$HOME``, else
the user's password entry)."""


class _Bad(Exception):
    """This data cannot be cached, or this entry cannot be used."""


def disabled() -> bool:
    """``OP25B_NO_CACHE`` set to anything but ``""``/``0``, or no cache directory can be named."""
    if os.environ.get("OP25B_NO_CACHE", "") not in ("", "0"):
        return True
    try:
        cache_dir()
    except (RuntimeError, KeyError):  # no home directory
        return True
    return False


def cache_dir() -> Path:
    """Where entries live (see the module doc); the path is made once per value of the variables it depends on
    (the rendered-intent cache asks once per device)."""
    env, xdg, home = os.environ.get("OP25B_CACHE_DIR"), os.environ.get("XDG_CACHE_HOME"), os.environ.get("HOME")
    hit = _DIRS.get((env, xdg, home))
    if hit is None:
        if env:
            hit = Path(env)
        else:
            base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
            hit = base / "op25b" / "inventory"
        if len(_DIRS) >= 64:
            _DIRS.clear()
        _DIRS[(env, xdg, home)] = hit
    return hit


def _code_stamp() -> list[tuple[str, int, int]]:
    pkg = Path(__file__).resolve().parent
    out = []
    for name in _CODE:
        for p in sorted(pkg.glob(name)):
            st = p.stat()
            out.append((str(p.relative_to(pkg)), st.st_size, st.st_mtime_ns))
    return out


def entry_key(root: Path) -> str:
    """The SHA-256 key of the inventory at ``root`` as it is now (see the module doc)."""
    h = hashlib.sha256()
    h.update(json.dumps([SCHEMA, __version__, _code_stamp(), str(root)]).encode())
    for name in _FILES:
        try:
            data = (root / name).read_bytes()
        except FileNotFoundError:
            h.update(f"\0{name}\0absent\0".encode())
            continue
        h.update(f"\0{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def _entry_path(root: Path) -> Path:
    return cache_dir() / (hashlib.sha256(str(root.absolute()).encode()).hexdigest()[:40] + ".json")


def safe_dir(path: Path, create: bool) -> bool:
    """``path`` is a real directory of this user, not open to group or others (created 0700 when asked)."""
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError:
            return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


# ---------------------------------------------------------------- encoding


class _Encoder:
    """Model values to JSON; every model once in ``objects`` (equal models, which are immutable, become one
    object), referenced as ``{"@": index}``."""

    def __init__(self) -> None:
        self.objects: list[list[Any]] = []
        self.by_id: dict[int, int] = {}
        self.by_value: dict[str, int] = {}
        self.by_flat: dict[tuple[str, tuple[Any, ...], tuple[type, ...]], int] = {}
        self.alive: list[object] = []  # keeps ids unique while encoding

    def ref(self, obj: Any) -> int:
        """The index of model ``obj`` in ``objects``.

        A model whose fields are all plain scalars (an attachment, the flow control: one per device in a
        10,000-host inventory) is looked up by its field values and their types (``1``, ``1.0`` and ``True``
        stay apart) before it is encoded; any other by its JSON text."""
        at = self.by_id.get(id(obj))
        if at is None:
            kind = type(obj).__name__
            if _MODELS.get(kind) is not type(obj):
                raise _Bad(f"a value of type {kind}")
            values = tuple(getattr(obj, k) for k in obj.field_names())
            types = tuple(map(type, values))
            flat = (kind, values, types) if _SCALARS.issuperset(types) else None
            at = self.by_flat.get(flat) if flat else None
            if at is None:
                entry = [kind, dict(zip(obj.field_names(), map(self.value, values), strict=True))]
                text = json.dumps(entry, sort_keys=True)
                at = self.by_value.get(text)
                if at is None:
                    at = self.by_value[text] = len(self.objects)
                    self.objects.append(entry)
                if flat:
                    self.by_flat[flat] = at
            self.by_id[id(obj)] = at
            self.alive.append(obj)
        return at

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, bool | str):
            return v
        if isinstance(v, int | float):
            if not math.isfinite(v):
                raise _Bad("non-finite number")
            return v
        if isinstance(v, ipaddress.IPv4Network | ipaddress.IPv6Network):
            return {"net": str(v)}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, tuple):
            return {"tuple": [self.value(x) for x in v]}
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise _Bad("a mapping key that is not text")
            return {"dict": {k: self.value(x) for k, x in v.items()}}
        return {"@": self.ref(v)}

    def device(self, d: Device, policy: Policy) -> list[Any]:
        """One device as a row in :data:`_ROW` order (the policy is the inventory's)."""
        if d.policy is not policy or not _ROW_IS_DEVICE:
            raise _Bad("device layout")
        texts = (d.name, d.hostname, d.platform, d.mode, d.description, *d.groups, *d.uplinks, *d.sources.values())
        if not _ONLY_STR.issuperset(map(type, texts)):
            raise _Bad("device text")
        # models already encoded (the policy's pools, a shared attachment or flow control) by id, without a call;
        # tuples and the sources mapping as they are (JSON writes a tuple as a list): the same payload
        by_id = self.by_id
        fc = by_id.get(id(d.flow_control))
        return [
            d.name,
            d.hostname,
            d.port,
            d.username,
            d.platform,
            d.groups,
            [at if (at := by_id.get(id(p))) is not None else self.ref(p) for p in d.pools],
            [at if (at := by_id.get(id(a))) is not None else self.ref(a) for a in d.attach],
            d.mode,
            d.log,
            d.counters,
            fc if fc is not None else self.ref(d.flow_control),
            d.description,
            d.sources,
            {k: self.ref(v) for k, v in d.connection_options.items()} if d.connection_options else {},
            d.uplinks,
        ]


_ROW = (
    "name",
    "hostname",
    "port",
    "username",
    "platform",
    "groups",
    "pools",
    "attach",
    "mode",
    "log",
    "counters",
    "flow_control",
    "description",
    "sources",
    "connection_options",
    "uplinks",
)
"""A device row's columns: every :class:`Device` field but ``policy``."""
_ROW_IS_DEVICE = set(_DEVICE_FIELDS) == {*_ROW, "policy"}
_ONLY_STR = frozenset({str})

_BUILDING = object()
_SCALARS = frozenset({str, int, bool, float, type(None)})
"""Field value types a model is looked up by directly when it has no other (:meth:`_Encoder.ref`)."""


class _Decoder:
    def __init__(self, objects: list[Any]) -> None:
        self.objects = objects
        self.built: list[Any] = [None] * len(objects)

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, bool | str | int | float):
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict) or len(v) != 1:
            raise _Bad("malformed value")
        ((tag, body),) = v.items()
        if tag == "net" and isinstance(body, str):
            return ipaddress.ip_network(body)
        if tag == "tuple" and isinstance(body, list):
            return tuple(self.value(x) for x in body)
        if tag == "dict" and isinstance(body, dict):
            return {k: self.value(x) for k, x in body.items()}
        if tag == "@":
            return self.obj(body)
        raise _Bad("malformed value")

    def obj(self, at: Any, kind: type | None = None) -> Any:
        """Object ``at`` (of class ``kind`` when given), built on first use."""
        if type(at) is not int or not 0 <= at < len(self.objects):
            raise _Bad("dangling reference")
        built = self.built[at]
        if built is _BUILDING:
            raise _Bad("reference cycle")
        if built is None:
            self.built[at] = _BUILDING
            name, fields = self.objects[at]
            cls = _MODELS.get(name) if isinstance(name, str) else None
            if cls is None or not isinstance(fields, dict) or set(fields) != set(cls.field_names()):
                raise _Bad(f"object of kind {name!r}")
            built = self.built[at] = cls.trusted(**{k: self.value(x) for k, x in fields.items()})
        if kind is not None and type(built) is not kind:
            raise _Bad(f"a {type(built).__name__} where a {kind.__name__} belongs")
        return built

    def device(self, row: list[Any], policy: Policy) -> Device:
        (name, hostname, port, username, platform, groups, pools, attach, mode, log, counters, fc, descr, sources,
         conn, uplinks) = row  # fmt: skip
        texts = (name, hostname, platform, mode, descr, *groups, *uplinks, *sources.values())
        if not all(type(t) is str for t in texts) or not {type(port), type(username)} <= {int, str, type(None)}:
            raise _Bad("device row")
        return Device(
            name=name,
            hostname=hostname,
            port=port,
            username=username,
            platform=platform,
            groups=tuple(groups),
            pools=tuple(self.obj(i, Pool) for i in pools),
            attach=tuple(self.obj(i, Attachment) for i in attach),
            mode=mode,
            log=log is True,
            counters=counters is True,
            flow_control=self.obj(fc, FlowControl),
            description=descr,
            policy=policy,
            sources=dict(sources),
            connection_options={str(k): self.obj(i, PluginOptions) for k, i in conn.items()},
            uplinks=tuple(uplinks),
        )


# ---------------------------------------------------------------- entries


def store(root: Path, inventory: Inventory, key: str) -> None:
    """Write ``inventory`` (just validated from ``root``, whose files had ``key``) as the entry of ``root``;
    silently nothing when it cannot be cached or written."""
    from op25b_cfg.platforms import BUILTIN_NAMES

    builtin = set(BUILTIN_NAMES)
    if any(d.platform not in builtin for d in inventory.devices.values()):
        return
    enc = _Encoder()
    try:
        top = {
            "policy": enc.ref(inventory.policy),
            "devices": [enc.device(d, inventory.policy) for d in inventory.devices.values()],
        }
    except _Bad as exc:
        log.debug("inventory not cached: %s", exc)
        return
    payload = json.dumps({"top": top, "objects": enc.objects}, separators=(",", ":"))
    doc = json.dumps(
        {"schema": SCHEMA, "key": key, "digest": hashlib.sha256(payload.encode()).hexdigest()},
        separators=(",", ":"),
    )
    where = cache_dir()
    if not safe_dir(where, create=True):
        log.debug("inventory not cached: %s is not a private directory of this user", where)
        return
    try:
        atomic_write(_entry_path(root), doc + "\n" + payload, 0o600, durable=False)
    except OSError as exc:
        log.debug("inventory not cached: %s", exc)


def read_entry(path: str | Path, schema: str, key: str) -> bytes | None:
    """The payload of the cache entry file ``path`` (a JSON header line, then the payload) when the file is a
    regular file of this user's, 0600 or stricter, not reached through a link, and its header names ``schema``,
    ``key`` and the payload's SHA-256; else None. A header that is not JSON raises ``ValueError``.

    Read with one ``os.read`` on the descriptor: a file object around it (``os.fdopen``) took about twice as
    long for a 4.6 kB entry (39-61 us against 19-30 us, loaded machine)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            return None
        raw = os.read(fd, st.st_size + 1)  # a regular file: a short read is its end
        while len(raw) > st.st_size:  # it grew since the fstat (the digest decides whether it is whole)
            more = os.read(fd, 1 << 16)
            if not more:
                break
            raw += more
    finally:
        os.close(fd)
    head, sep, payload = raw.partition(b"\n")
    meta = json.loads(head)
    if (
        not sep
        or not isinstance(meta, dict)
        or meta.get("schema") != schema
        or meta.get("key") != key
        or meta.get("digest") != hashlib.sha256(payload).hexdigest()
    ):
        return None
    return payload


def load(root: Path, key: str) -> Inventory | None:
    """The cached inventory of ``root`` if its entry passes every check and has ``key``; else None."""
    where = cache_dir()
    if not safe_dir(where, create=False):
        return None
    path = _entry_path(root)
    try:
        payload = read_entry(path, SCHEMA, key)
        if payload is None:
            return None
        doc = json.loads(payload)
        dec = _Decoder(doc["objects"])
        policy = dec.obj(doc["top"]["policy"], Policy)
        devices = {}
        for row in doc["top"]["devices"]:
            dev = dec.device(row, policy)
            devices[dev.name] = dev
        return Inventory(path=root, policy=policy, devices=devices)
    except (_Bad, OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        log.debug("inventory cache entry %s ignored: %s", path, exc)
        return None
