"""``op25b generate``: render every selected device to ``<out>/<device>.<ext>``."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from op25b_cfg.errors import Op25bError
from op25b_cfg.inventory import Device
from op25b_cfg.paths import PathError, atomic_write, under, writable_dir
from op25b_cfg.platforms import get_platform
from op25b_cfg.rules import build_plan

log = logging.getLogger(__name__)


@dataclass
class Rendered:
    """The result for one device: where the config went, or why it failed."""

    device: str
    platform: str
    mode: str
    version: str = ""
    filters: str = ""
    rules: int = 0
    lines: int = 0
    path: str = ""
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def render_device(device: Device) -> tuple[str, Rendered]:
    """Render one device's OP25B config. Returns the text and the summary (error set on failure)."""
    res = Rendered(device=device.name, platform=device.platform, mode=device.mode)
    try:
        plan = build_plan(device)
        text = get_platform(device.platform).render(device, plan)
    except Op25bError as exc:
        res.error = str(exc)
        return "", res
    res.version = plan.version
    res.filters = ", ".join(plan.filter_name(f) for f in plan.families)
    res.rules = len(plan.rules)
    res.lines = text.count("\n")
    return text, res


def generate(devices: list[Device], out_dir: Path | None) -> list[Rendered]:
    """Render ``devices``; write each to ``out_dir/<device>.<ext>`` when ``out_dir`` is given.

    Each file is written atomically (:func:`op25b_cfg.paths.atomic_write`): a write that fails (a full disk)
    leaves no partial file and is reported as that device's error. Raises :class:`PathError` when
    ``out_dir`` cannot be used at all.
    """
    if out_dir is not None:
        writable_dir(out_dir, "-o")
    results = []
    for dev in devices:
        text, res = render_device(dev)
        if not res.failed and out_dir is not None:
            try:
                path = atomic_write(under(out_dir, f"{dev.name}.{get_platform(dev.platform).file_extension}"), text)
            except PathError as exc:
                res.error = str(exc)
            except OSError as exc:
                res.error = f"cannot write {out_dir}/{dev.name}: {exc.strerror or exc}; no file was left"
            else:
                res.path = str(path)
        if res.failed:
            log.error("%s: %s", dev.name, res.error)
        results.append(res)
    return results
