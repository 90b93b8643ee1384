"""A per-user cache of validated inventories, so a command on an unchanged inventory skips YAML and validation.

After :func:`~op25b_cfg.inventory.load_inventory` validated an inventory, :func:`store` writes the resolved
result as plain JSON (never pickle): every model and device once, in an object table that keeps the sharing of
the loaded objects (devices share their policy, pools and group attachments, which the plan and render caches
key on). :func:`load` rebuilds the same objects with ``model_construct`` (no validation, no pydantic schema
build) when the cache entry matches.

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

from op25b_cfg import __version__
from op25b_cfg.inventory import (
    DEFAULTS_FILE,
    GROUPS_FILE,
    HOSTS_FILE,
    POLICY_FILE,
    Attachment,
    ConnectionOptions,
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
from op25b_cfg.paths import atomic_write

log = logging.getLogger(__name__)

SCHEMA = "op25b.inventory-cache/1"
_FILES = (POLICY_FILE, HOSTS_FILE, GROUPS_FILE, DEFAULTS_FILE)
_MODELS: dict[str, Any] = {
    cls.__name__: cls
    for cls in (
        Attachment,
        ConnectionOptions,
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
_CODE = ("inventory.py", "inventory_cache.py", "netaddr.py", "yamlload.py", "platforms")
"""op25b's modules whose change can change a load's result (size and mtime enter the key)."""


class _Bad(Exception):
    """This data cannot be cached, or this entry cannot be used."""


def disabled() -> bool:
    """``OP25B_NO_CACHE`` set to anything but ``""``/``0``."""
    return os.environ.get("OP25B_NO_CACHE", "") not in ("", "0")


def cache_dir() -> Path:
    """Where entries live (see the module doc)."""
    env = os.environ.get("OP25B_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "op25b" / "inventory"


def _code_stamp() -> list[tuple[str, int, int]]:
    pkg = Path(__file__).resolve().parent
    out = []
    for name in _CODE:
        path = pkg / name
        paths = sorted(path.glob("*/__init__.py")) + [path / "__init__.py"] if path.is_dir() else [path]
        for p in paths:
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


def _safe_dir(path: Path, create: bool) -> bool:
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
    """Values to JSON, every model and device once in ``objects`` (references ``{"@": index}``)."""

    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = []
        self.index: dict[int, int] = {}
        self.alive: list[object] = []  # keeps ids unique while encoding

    def ref(self, obj: Any, kind: str, fields: dict[str, Any]) -> dict[str, int]:
        at = self.index.get(id(obj))
        if at is None:
            body = {k: self.value(v) for k, v in fields.items()}
            at = self.index[id(obj)] = len(self.objects)
            self.objects.append({"kind": kind, "fields": body})
            self.alive.append(obj)
        return {"@": at}

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
        name = type(v).__name__
        if _MODELS.get(name) is type(v):
            return self.ref(v, name, {k: getattr(v, k) for k in type(v).model_fields})
        if type(v) is Device:
            return self.ref(v, "Device", {k: getattr(v, k) for k in _DEVICE_FIELDS})
        raise _Bad(f"a value of type {name}")


_BUILDING = object()


class _Decoder:
    def __init__(self, objects: list[Any]) -> None:
        self.objects = objects
        self.built: dict[int, Any] = {}

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
        if tag == "@" and type(body) is int:
            return self.obj(body)
        raise _Bad("malformed value")

    def obj(self, at: int) -> Any:
        hit = self.built.get(at)
        if hit is _BUILDING:
            raise _Bad("reference cycle")
        if hit is not None:
            return hit
        if not 0 <= at < len(self.objects):
            raise _Bad("dangling reference")
        entry = self.objects[at]
        kind, fields = entry.get("kind"), entry.get("fields")
        if not isinstance(fields, dict):
            raise _Bad("malformed object")
        self.built[at] = _BUILDING
        values = {k: self.value(x) for k, x in fields.items()}
        if kind == "Device":
            if set(values) != set(_DEVICE_FIELDS):
                raise _Bad("device fields")
            built: Any = Device(**values)
        else:
            cls = _MODELS.get(str(kind))
            if cls is None or set(values) != set(cls.model_fields):
                raise _Bad(f"object of kind {kind!r}")
            built = cls.model_construct(**values)
        self.built[at] = built
        return built


# ---------------------------------------------------------------- entries


def store(root: Path, inventory: Inventory, key: str) -> None:
    """Write ``inventory`` (just validated from ``root``, whose files had ``key``) as the entry of ``root``;
    silently nothing when it cannot be cached or written."""
    from op25b_cfg.platforms import BUILTIN

    builtin = {cls.name for cls in BUILTIN}
    if any(d.platform not in builtin for d in inventory.devices.values()):
        return
    enc = _Encoder()
    try:
        top = {
            "policy": enc.value(inventory.policy),
            "devices": [[name, enc.value(d)] for name, d in inventory.devices.items()],
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
    if not _safe_dir(where, create=True):
        log.debug("inventory not cached: %s is not a private directory of this user", where)
        return
    try:
        atomic_write(_entry_path(root), doc + "\n" + payload, 0o600, durable=False)
    except OSError as exc:
        log.debug("inventory not cached: %s", exc)


def load(root: Path, key: str) -> Inventory | None:
    """The cached inventory of ``root`` if its entry passes every check and has ``key``; else None."""
    where = cache_dir()
    if not _safe_dir(where, create=False):
        return None
    path = _entry_path(root)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
                return None
            raw = fh.read()
        head, sep, payload = raw.partition(b"\n")
        meta = json.loads(head)
        if (
            not sep
            or not isinstance(meta, dict)
            or meta.get("schema") != SCHEMA
            or meta.get("key") != key
            or meta.get("digest") != hashlib.sha256(payload).hexdigest()
        ):
            return None
        doc = json.loads(payload)
        dec = _Decoder(doc["objects"])
        policy = dec.value(doc["top"]["policy"])
        devices = {}
        for name, ref in doc["top"]["devices"]:
            dev = dec.value(ref)
            if type(dev) is not Device or dev.name != name or dev.policy is not policy:
                raise _Bad("device entry")
            devices[name] = dev
        if type(policy) is not Policy or not isinstance(dec.objects, list):
            raise _Bad("policy entry")
        return Inventory(path=root, policy=policy, devices=devices)
    except (_Bad, OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        log.debug("inventory cache entry %s ignored: %s", path, exc)
        return None
