"""``op25b effect report``: what the OP25B counters say over a period, per pool and per device.

Figures (all counts are packets the counters counted; for a TCP SYN filter one packet is one attempt):

* per pool: blocked attempts (total, per hour, per day), flow-control limit hits, port 25 to the ISP's
  relays, submission (587/465), exempt customers, and the share of counted port-25 attempts
  (blocked + relays + exempt) that were blocked and that went to the relays;
* a series per pool (``hour`` or ``day`` buckets) for the charts;
* per device and pool, summed per UTC day (the days the period touches); a device whose block counters were
  read but never matched in the period is a *deployment gap* (traffic does not pass the filter, or the
  filter is not bound where subscribers are);
* around a change from the push change log (:mod:`op25b_cfg.changelog`): the rates per hour in an equal
  window before and after it, per pool.

Only the rollup tables are read (:mod:`op25b_cfg.effect.db`), so a year of hourly samples of a thousand
devices reports in a fraction of a second.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from op25b_cfg.effect.db import DAY, HOUR, daily, hourly
from op25b_cfg.effect.model import PURPOSES
from op25b_cfg.errors import Op25bError

if TYPE_CHECKING:
    from op25b_cfg.effect.db import EffectDB

SCHEMA = "op25b.effect/1"
BUCKETS = {"hour": HOUR, "day": DAY}


class ReportError(Op25bError):
    """A report option is wrong (period, change id)."""


def parse_time(text: str, now: float) -> float:
    """A ``--since`` / ``--until`` value as UTC epoch seconds: ISO 8601 (a date, or date and time; no zone
    means UTC), ``now``, or an age such as ``90m``, ``24h``, ``7d``, ``2w``.

    >>> parse_time("2026-01-02", 0.0), parse_time("7d", 1_000_000.0), parse_time("2026-01-02T03:00:00+09:00", 0)
    (1767312000.0, 395200.0, 1767290400.0)
    """
    text = text.strip()
    if text == "now":
        return now
    m = re.fullmatch(r"(\d+)([mhdw])", text)
    if m:
        return now - int(m.group(1)) * {"m": 60, "h": HOUR, "d": DAY, "w": 7 * DAY}[m.group(2)]
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(
            f"time {text!r} is not understood. Fix: write an ISO date/time (2026-01-31, 2026-01-31T09:00) or an"
            " age (90m, 24h, 7d, 2w)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def iso(t: float) -> str:
    """UTC ISO 8601 of an epoch time.

    >>> iso(0)
    '1970-01-01T00:00:00Z'
    """
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _figures() -> dict[str, int]:
    return dict.fromkeys(PURPOSES, 0)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class PoolFigures:
    pool: str
    counts: dict[str, int] = field(default_factory=_figures)
    hours: float = 0.0

    @property
    def port25(self) -> int:
        """Counted port-25 attempts: blocked, to the relays, exempt."""
        return self.counts["blocked"] + self.counts["mta"] + self.counts["exempt"]

    def as_dict(self) -> dict[str, Any]:
        c = self.counts
        return {
            "pool": self.pool,
            **c,
            "blocked_per_hour": round(c["blocked"] / self.hours, 3) if self.hours else None,
            "blocked_per_day": round(c["blocked"] * 24 / self.hours, 3) if self.hours else None,
            "blocked_share": _share(c["blocked"], self.port25),
            "relay_share": _share(c["mta"], self.port25),
        }


@dataclass
class DeviceFigures:
    device: str
    pool: str
    counts: dict[str, int] = field(default_factory=_figures)
    block_readings: int = 0

    @property
    def gap(self) -> bool:
        """Block counters were read in the period and never matched."""
        return self.block_readings > 0 and self.counts["blocked"] == 0

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "pool": self.pool, **self.counts, "deployment_gap": self.gap}


@dataclass
class Change:
    """A push from the change log, and the per-hour rates per pool in equal windows before and after it."""

    run_id: str
    time: float
    version: str
    devices: list[str]
    window_hours: float
    before: dict[str, dict[str, float]] = field(default_factory=dict)
    after: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "time": iso(self.time),
            "version": self.version,
            "devices": self.devices,
            "window_hours": self.window_hours,
            "per_hour_before": self.before,
            "per_hour_after": self.after,
        }


@dataclass
class EffectReport:
    start: float
    end: float
    bucket: str
    pools: list[PoolFigures]
    series: dict[str, list[tuple[float, dict[str, int]]]]
    devices: list[DeviceFigures]
    change: Change | None = None

    @property
    def gaps(self) -> list[DeviceFigures]:
        return [d for d in self.devices if d.gap]

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "period": {"start": iso(self.start), "end": iso(self.end), "bucket": self.bucket},
            "pools": [p.as_dict() for p in self.pools],
            "series": {
                pool: [{"time": iso(t), **counts} for t, counts in points] for pool, points in self.series.items()
            },
            "devices": [d.as_dict() for d in self.devices],
            "deployment_gaps": [{"device": d.device, "pool": d.pool} for d in self.gaps],
            "change": self.change.as_dict() if self.change is not None else None,
        }


def _hour_sums(db: EffectDB, start: float, end: float, step: int | None) -> list[sa.Row[Any]]:
    """Summed increases per (pool, purpose) over ``[start, end)``, and per ``step``-second bucket when given
    (summed by the database: a year of hours is 8,760 rows per pool and purpose)."""
    h = hourly.c
    cols: list[Any] = [h.pool, h.purpose]
    if step is not None:
        cols.append((h.hour - h.hour % step).label("bucket"))
    query = (
        sa.select(*cols, sa.func.sum(h.packets).label("packets"))
        .where(h.hour >= math.floor(start / HOUR) * HOUR, h.hour < end)
        .group_by(*cols)
    )
    return db.execute(query)


def _rates(db: EffectDB, start: float, end: float) -> dict[str, dict[str, float]]:
    hours = max((end - start) / HOUR, 1e-9)
    out: dict[str, dict[str, float]] = {}
    for row in _hour_sums(db, start, end, None):
        out.setdefault(row.pool, {p: 0.0 for p in PURPOSES})[row.purpose] = round(int(row.packets) / hours, 3)
    return out


def find_change(records: list[dict[str, Any]], run_id: str | None, start: float, end: float) -> dict[str, Any]:
    """The committed push to compare around: ``run_id``, or the last one inside the period. Returns
    ``{"run_id", "time", "version", "devices"}``; ReportError naming the fix when there is none."""
    runs: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec.get("result") != "committed" or not isinstance(rec.get("run_id"), str):
            continue
        try:
            t = datetime.fromisoformat(str(rec.get("ts"))).timestamp()
        except ValueError:
            continue
        run = runs.setdefault(rec["run_id"], {"run_id": rec["run_id"], "time": t, "version": "", "devices": []})
        run["time"] = min(run["time"], t)
        run["version"] = run["version"] or str(rec.get("version") or "")
        run["devices"].append(str(rec.get("device")))
    if run_id is not None:
        if run_id not in runs:
            raise ReportError(f"change {run_id!r}: no committed push with that run_id in the change log")
        return runs[run_id]
    inside = [r for r in runs.values() if start <= r["time"] < end]
    if not inside:
        raise ReportError(
            "no committed push in the change log inside the period. Fix: widen --since/--until, or name one"
            " with --change RUN_ID"
        )
    return max(inside, key=lambda r: r["time"])


def build(
    db: EffectDB,
    start: float,
    end: float,
    bucket: str = "hour",
    change: dict[str, Any] | None = None,
    window: float | None = None,
) -> EffectReport:
    """The report over ``[start, end)``; ``change`` (:func:`find_change`) adds the before/after comparison
    over ``window`` seconds each side (default: as long as the period, at most 7 days) of the start of the
    hour the change was made in (that hour counts as after it)."""
    if end <= start:
        raise ReportError(f"the period is empty ({iso(start)} to {iso(end)}). Fix: --since before --until")
    if bucket not in BUCKETS:
        raise ReportError(f"bucket {bucket!r}: use hour or day")
    step = BUCKETS[bucket]
    hours = (end - start) / HOUR
    pools: dict[str, PoolFigures] = {}
    series: dict[str, dict[float, dict[str, int]]] = {}
    for row in _hour_sums(db, start, end, step):
        packets = int(row.packets)
        pools.setdefault(row.pool, PoolFigures(row.pool, hours=hours)).counts[row.purpose] += packets
        series.setdefault(row.pool, {}).setdefault(int(row.bucket), _figures())[row.purpose] += packets
    d = daily.c
    device_rows = db.execute(
        sa.select(
            d.device,
            d.pool,
            d.purpose,
            sa.func.sum(d.packets).label("packets"),
            sa.func.sum(d.samples).label("readings"),
        )
        .where(d.day >= math.floor(start / DAY) * DAY, d.day < end)
        .group_by(d.device, d.pool, d.purpose)
    )
    devices: dict[tuple[str, str], DeviceFigures] = {}
    for row in device_rows:
        fig = devices.setdefault((row.device, row.pool), DeviceFigures(row.device, row.pool))
        fig.counts[row.purpose] += int(row.packets)
        if row.purpose in ("blocked", "limited"):
            fig.block_readings += int(row.readings)
    report = EffectReport(
        start,
        end,
        bucket,
        [pools[k] for k in sorted(pools)],
        {pool: sorted(points.items()) for pool, points in sorted(series.items())},
        [devices[k] for k in sorted(devices)],
    )
    if change is not None:
        span = window if window is not None else min(end - start, 7 * DAY)
        t = float(change["time"])
        edge = math.floor(t / HOUR) * HOUR  # the samples are summed per hour: the change's hour is "after"
        report.change = Change(
            change["run_id"],
            t,
            change["version"],
            sorted(set(change["devices"])),
            round(span / HOUR, 3),
            _rates(db, edge - span, edge),
            _rates(db, edge, edge + span),
        )
    return report


# ------------------------------------------------------------------ output forms


def to_json(report: EffectReport) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=False) + "\n"


CSV_FIELDS = ("scope", "time", "pool", "device", *PURPOSES, "blocked_share", "relay_share", "deployment_gap")


def to_csv(report: EffectReport) -> str:
    """One row per pool (scope ``pool``), per device and pool (``device``) and per pool and bucket (``hour`` /
    ``day``, with its start time)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for p in report.pools:
        w.writerow({"scope": "pool", **p.as_dict()})
    for d in report.devices:
        w.writerow({"scope": "device", **d.as_dict()})
    for pool, points in report.series.items():
        for t, counts in points:
            w.writerow({"scope": report.bucket, "time": iso(t), "pool": pool, **counts})
    return buf.getvalue()


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def render_table(report: EffectReport, console: Any, summarise: bool = False) -> None:
    """Rich tables: pools, devices (gaps marked), and the change comparison. ``summarise``: the device table
    lists only the deployment gaps, under a count of every device row (large fleets)."""
    from rich.table import Table

    console.print(f"OP25B effect {iso(report.start)} .. {iso(report.end)} ({(report.end - report.start) / HOUR:g} h)")
    pools = Table(title="Per pool")
    for col in ("pool", "blocked", "blocked/h", "blocked/day", "limited", "to relays", "submission", "exempt"):
        pools.add_column(col, justify="left" if col == "pool" else "right")
    pools.add_column("blocked share", justify="right")
    for p in report.pools:
        d = p.as_dict()
        pools.add_row(
            p.pool,
            _num(d["blocked"]),
            _num(d["blocked_per_hour"]),
            _num(d["blocked_per_day"]),
            _num(d["limited"]),
            _num(d["mta"]),
            _num(d["submission"]),
            _num(d["exempt"]),
            "-" if d["blocked_share"] is None else f"{d['blocked_share']:.1%}",
        )
    console.print(pools)
    devices = Table(title="Per device")
    for col in ("device", "pool", "blocked", "limited", "to relays", "submission", "exempt", "note"):
        devices.add_column(col, justify="left" if col in ("device", "pool", "note") else "right")
    for dv in report.gaps if summarise else report.devices:
        c = dv.counts
        devices.add_row(
            dv.device,
            dv.pool,
            *(_num(c[k]) for k in ("blocked", "limited", "mta", "submission", "exempt")),
            "deployment gap: block never matched" if dv.gap else "",
        )
    if summarise:
        devices.title = (
            f"Per device: {len({d.device for d in report.devices})} device(s), {len(report.gaps)} deployment gap(s)"
            " (only those shown; --all-rows for every device)"
        )
    console.print(devices)
    if report.change is not None:
        ch = report.change
        table = Table(
            title=f"Change {ch.run_id} at {iso(ch.time)} (version {ch.version}), per hour,"
            f" {ch.window_hours:g} h each side"
        )
        for col in (
            "pool",
            "blocked before",
            "blocked after",
            "relays before",
            "relays after",
            "submission before",
            "submission after",
        ):
            table.add_column(col, justify="left" if col == "pool" else "right")
        for pool in sorted(set(ch.before) | set(ch.after)):
            b, a = ch.before.get(pool, {}), ch.after.get(pool, {})
            table.add_row(pool, *(_num(float(x.get(k, 0.0))) for k in ("blocked", "mta", "submission") for x in (b, a)))
        console.print(table)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}.gap{color:#b00;font-weight:bold}
svg{background:#fafafa;border:1px solid #ddd;margin:.5em 0}
.l-blocked{stroke:#c0392b}.l-mta{stroke:#2471a3}.l-submission{stroke:#239b56}.l-limited{stroke:#b9770e}
.k-blocked{fill:#c0392b}.k-mta{fill:#2471a3}.k-submission{fill:#239b56}.k-limited{fill:#b9770e}
"""
CHART_LINES = ("blocked", "limited", "mta", "submission")


def svg_chart(points: list[tuple[float, dict[str, int]]], width: int = 720, height: int = 220) -> str:
    """An inline SVG line chart of the series (one polyline per purpose that has counts), with axes, the
    maximum on the y axis and the first and last bucket on the x axis. No script, no external reference."""
    left, right, top, bottom = 60, 10, 10, 40
    xs = [t for t, _ in points]
    peak = max([c[k] for _, c in points for k in CHART_LINES] + [1])
    span = (xs[-1] - xs[0]) or 1.0

    def x(t: float) -> float:
        return left + (t - xs[0]) / span * (width - left - right) if len(xs) > 1 else left + (width - left - right) / 2

    def y(v: int) -> float:
        return top + (1 - v / peak) * (height - top - bottom)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#888"/>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#888"/>',
        f'<text x="{left - 5}" y="{top + 10}" text-anchor="end" font-size="11">{peak:,}</text>',
        f'<text x="{left - 5}" y="{height - bottom}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{left}" y="{height - 22}" font-size="11">{html.escape(iso(xs[0]))}</text>',
        f'<text x="{width - right}" y="{height - 22}" text-anchor="end" font-size="11">'
        f"{html.escape(iso(xs[-1]))}</text>",
    ]
    legend_x = left
    for key in CHART_LINES:
        if not any(c[key] for _, c in points):
            continue
        coords = " ".join(f"{x(t):.1f},{y(c[key]):.1f}" for t, c in points)
        out.append(f'<polyline class="l-{key}" fill="none" stroke-width="2" points="{coords}"/>')
        if len(points) == 1:
            out.append(f'<circle class="k-{key}" cx="{x(xs[0]):.1f}" cy="{y(points[0][1][key]):.1f}" r="4"/>')
        out.append(f'<rect class="k-{key}" x="{legend_x}" y="{height - 12}" width="10" height="10"/>')
        out.append(f'<text x="{legend_x + 14}" y="{height - 3}" font-size="11">{key}</text>')
        legend_x += 100
    out.append("</svg>")
    return "".join(out)


def to_html(report: EffectReport) -> str:
    """A self-contained page: the tables and one SVG chart per pool (no script, no external resource)."""
    e = html.escape
    d = report.as_dict()
    parts = [
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>OP25B effect</title>',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>OP25B effect {e(d['period']['start'])} .. {e(d['period']['end'])}</h1>",
        "<h2>Per pool</h2><table><thead><tr><th>pool</th><th>blocked</th><th>blocked/h</th><th>blocked/day</th>"
        "<th>limited</th><th>to relays</th><th>submission</th><th>exempt</th><th>blocked share</th></tr></thead>"
        "<tbody>",
    ]
    for p in d["pools"]:
        cells = [
            p[k] for k in ("blocked", "blocked_per_hour", "blocked_per_day", "limited", "mta", "submission", "exempt")
        ]
        share = "-" if p["blocked_share"] is None else f"{p['blocked_share']:.1%}"
        parts.append(
            f"<tr><td>{e(p['pool'])}</td>" + "".join(f"<td>{e(_num(v))}</td>" for v in cells) + f"<td>{share}</td></tr>"
        )
    parts.append("</tbody></table><h2>Series</h2>")
    for pool, points in report.series.items():
        parts.append(f'<section class="chart" id="pool-{e(pool)}"><h3>{e(pool)} (per {report.bucket})</h3>')
        parts.append(svg_chart(points))
        parts.append("</section>")
    parts.append(
        "<h2>Per device</h2><table><thead><tr><th>device</th><th>pool</th><th>blocked</th><th>limited</th>"
        "<th>to relays</th><th>submission</th><th>exempt</th><th>note</th></tr></thead><tbody>"
    )
    for dv in report.devices:
        c = dv.counts
        note = '<span class="gap">deployment gap: block never matched</span>' if dv.gap else ""
        parts.append(
            f"<tr><td>{e(dv.device)}</td><td>{e(dv.pool)}</td>"
            + "".join(f"<td>{_num(c[k])}</td>" for k in ("blocked", "limited", "mta", "submission", "exempt"))
            + f"<td>{note}</td></tr>"
        )
    parts.append("</tbody></table>")
    if report.change is not None:
        ch = report.change
        parts.append(
            f"<h2>Change {e(ch.run_id)} at {e(iso(ch.time))} (version {e(ch.version)})</h2>"
            f"<p>Per hour, {ch.window_hours:g} h before and after.</p><table><thead><tr><th>pool</th>"
            "<th>blocked before</th><th>blocked after</th><th>relays before</th><th>relays after</th>"
            "<th>submission before</th><th>submission after</th></tr></thead><tbody>"
        )
        for pool in sorted(set(ch.before) | set(ch.after)):
            b, a = ch.before.get(pool, {}), ch.after.get(pool, {})
            cells = [float(x.get(k, 0.0)) for k in ("blocked", "mta", "submission") for x in (b, a)]
            parts.append(f"<tr><td>{e(pool)}</td>" + "".join(f"<td>{_num(v)}</td>" for v in cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def default_since(now: float) -> float:
    """The default start of the period: 7 days ago."""
    return (datetime.fromtimestamp(now, UTC) - timedelta(days=7)).timestamp()
