"""A per-user cache of each device's rendered intent, so ``op25b audit`` on an unchanged inventory checks the
drift without Jinja (issue 10: importing Jinja and rendering cost 79 M of the 1,393 M instructions of a 60k-line
audit).

Only devices of an inventory that :func:`~op25b_cfg.inventory.load_inventory` loaded with a cache key
(:func:`remember`) are looked up; anything else (a :class:`Device` an API caller built, ``OP25B_NO_CACHE=1``, an
inventory edited while it was read) renders as before. The rendered text depends on the device's intent and on
the code that renders it, so the key of an entry is a SHA-256 over: the schema below, the inventory's cache key
(:func:`~op25b_cfg.inventory_cache.entry_key`: op25b's version, its validating modules, the inventory path and
every inventory file's bytes), size and modification time of every module and template of op25b (any of them
may take part in rendering: the plan, the platform, its template), and size and modification time of Jinja's
and MarkupSafe's ``__init__.py`` (which a new version rewrites), found without importing them. The device name
picks the file. A second digest over the text detects a cut or damaged file.

Where: the inventory cache's directory (same checks: our own, private, no symbolic link), one file per inventory
directory and device (0600, written atomically when the device is first rendered). An entry that fails any check
is rendered again and overwritten: a bad entry costs a render, never a wrong drift verdict. Files of devices
renamed or removed stay until the directory is cleared (one small file per device name ever audited).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from op25b_cfg import caches, inventory_cache
from op25b_cfg.paths import atomic_write

if TYPE_CHECKING:
    from op25b_cfg.inventory_model import Device, Inventory

log = logging.getLogger(__name__)

SCHEMA = "op25b.rendered-cache/1"

Origin = tuple[str, str]
"""Where a device was loaded from: its inventory root as an absolute path, and the inventory key."""

_ORIGIN: dict[int, tuple[Device, Origin]] = {}
"""``id(device)`` -> (that device, kept alive so the id is not reused; its :data:`Origin`, one object per
inventory)."""

_TEXT: dict[int, str] = {}
"""``id(device)`` -> its rendered intent once read or stored (a device of :data:`_ORIGIN`): many audits of one
device in a process (``audit -c`` over many saved configs) read its file once."""


def remember(inventory: Inventory, root: Path, key: str) -> None:
    """The devices of ``inventory`` were loaded from the files at ``root`` whose cache key is ``key``. Devices
    of a plugin's platform are left out: its code may change without the key changing."""
    from op25b_cfg.platforms import BUILTIN_NAMES

    builtin = set(BUILTIN_NAMES)
    origin = (str(root.absolute()), key)
    for device in inventory.devices.values():
        if device.platform in builtin:
            _ORIGIN[id(device)] = (device, origin)


def origin_of(device: Device) -> Origin | None:
    """Where ``device`` (this very object) was loaded from, for a worker process's copy of it (:func:`adopted`);
    None when it is not looked up."""
    hit = _ORIGIN.get(id(device))
    return hit[1] if hit is not None and hit[0] is device else None


@contextmanager
def adopted(devices: Sequence[Device], origins: Sequence[Origin | None]) -> Iterator[None]:
    """While the block runs, look ``devices`` up as the devices they are copies of, whose :func:`origin_of`
    was ``origins`` (None: not looked up). A worker process of ``op25b audit`` receives its devices pickled:
    equal in every field to the devices the inventory's cache key was computed for, so they render the same
    intent, but new objects that :func:`remember` never saw (each worker rendered every intent with Jinja, 114
    against 35-48 us per device from the cache). Forgotten (with their texts) when the block ends."""
    added = []
    for device, origin in zip(devices, origins, strict=True):
        if origin is not None and id(device) not in _ORIGIN:
            _ORIGIN[id(device)] = (device, origin)
            added.append(id(device))
    try:
        yield
    finally:
        for at in added:
            _ORIGIN.pop(at, None)
            _TEXT.pop(at, None)


_SAFE: set[str] = set()
"""Entry directories found to be private directories of this user (:func:`_folder`), checked once per process
(and again after :func:`forget`): each entry file is checked when it is read."""


def forget() -> None:
    """Look nothing up for the devices loaded so far, and check the entry directory again
    (:func:`op25b_cfg.caches.clear` calls it)."""
    _ORIGIN.clear()
    _TEXT.clear()
    _SAFE.clear()


caches.on_clear(forget)


def get(device: Device) -> str | None:
    """The cached rendered intent of ``device``, or None (not cached, or any check fails)."""
    origin = _origin(device)
    if origin is None:
        return None
    known = _TEXT.get(id(device))
    if known is not None:
        return known
    folder = _folder(create=False)
    if folder is None:
        return None
    path = os.path.join(folder, _file_name(origin[0], device.name))
    try:
        body = inventory_cache.read_entry(path, SCHEMA, _key(origin[1]))
        if body is None:
            return None
        text = _TEXT[id(device)] = body.decode("utf-8")
        return text
    except (OSError, ValueError) as exc:
        log.debug("rendered intent cache entry %s ignored: %s", path, exc)
        return None


def put(device: Device, text: str) -> None:
    """Keep ``text``, just rendered for ``device``; silently nothing when it cannot be cached or written."""
    origin = _origin(device)
    if origin is None:
        return
    _TEXT[id(device)] = text
    folder = _folder(create=True)
    if folder is None:
        return
    body = text.encode("utf-8")
    head = json.dumps({"schema": SCHEMA, "key": _key(origin[1]), "digest": hashlib.sha256(body).hexdigest()})
    try:
        atomic_write(
            Path(folder, _file_name(origin[0], device.name)), head.encode() + b"\n" + body, 0o600, durable=False
        )
    except OSError as exc:
        log.debug("rendered intent not cached: %s", exc)


def _origin(device: Device) -> Origin | None:
    """:func:`origin_of` while caching is on."""
    origin = origin_of(device)
    return None if origin is None or inventory_cache.disabled() else origin


def _folder(create: bool) -> str | None:
    """The entry directory (``rendered`` in the inventory cache's directory) when it is a private directory of
    this user (:func:`~op25b_cfg.inventory_cache.safe_dir`, created when asked); None otherwise."""
    folder = os.path.join(inventory_cache.cache_dir(), "rendered")
    if folder not in _SAFE:
        if not inventory_cache.safe_dir(Path(folder), create=create):
            return None
        _SAFE.add(folder)
    return folder


def _file_name(root: str, device: str) -> str:
    """The entry file of ``device`` of the inventory at (absolute) ``root``."""
    return hashlib.sha256(f"{root}\0{device}".encode()).hexdigest()[:40] + ".txt"


@lru_cache(maxsize=8)
def _key(inventory_key: str) -> str:
    return hashlib.sha256(json.dumps([SCHEMA, inventory_key, _code_stamp()]).encode()).hexdigest()


def _code_stamp() -> list[tuple[str, int, int]]:
    """Size and mtime of every op25b module and template, and of Jinja's and MarkupSafe's ``__init__.py``."""
    pkg = Path(__file__).resolve().parent
    out: list[tuple[str, int, int]] = []
    for dirpath, dirnames, filenames in os.walk(pkg):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for f in sorted(filenames):
            if f.endswith((".py", ".j2")):
                st = os.stat(os.path.join(dirpath, f))
                out.append((os.path.relpath(os.path.join(dirpath, f), pkg), st.st_size, st.st_mtime_ns))
    for lib in ("jinja2", "markupsafe"):
        spec = importlib.util.find_spec(lib)
        origin = spec.origin if spec is not None else None
        lib_st = os.stat(origin) if origin else None
        out.append((origin or lib, lib_st.st_size if lib_st else -1, lib_st.st_mtime_ns if lib_st else -1))
    return out
