"""The effect database and report: migrations, reset detection, rollups and every report form, on SQLite
(PostgreSQL: tests/test_effect_postgres.py runs the same checks against a real server)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from op25b_cfg.cli import app
from op25b_cfg.effect import report as rep
from op25b_cfg.effect.db import SCHEMA_VERSION, DatabaseError, EffectDB
from op25b_cfg.effect.model import Sample
from tests import pgserver
from tests.test_html_report import _Collect

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
H = 3600.0
runner = CliRunner()


@pytest.fixture(scope="module")
def pg_base() -> object:
    with pgserver.server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty effect database: a SQLite file, or a database on a real PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "e.db")
    return pgserver.fresh_database(request.getfixturevalue("pg_base"))


def s(device: str, counter: str, pool: str, purpose: str, packets: int, t: float, version: str = "aaaa0001") -> Sample:
    return Sample(device, version, counter, pool, purpose, packets, packets * 60, t)


def fill(db: EffectDB) -> None:
    """Two devices, two pools, three hourly readings and one reload."""
    db.add([s("r1", "OP25B-BLOCK", "tokyo", "blocked", 10, T0), s("r1", "OP25B-MTA", "tokyo", "mta", 4, T0)])
    db.add([s("r1", "OP25B-BLOCK", "tokyo", "blocked", 25, T0 + H), s("r1", "OP25B-MTA", "tokyo", "mta", 10, T0 + H)])
    # reload: the block counter went down to 5; 5 is the increase (not -20)
    db.add(
        [
            s("r1", "OP25B-BLOCK", "tokyo", "blocked", 5, T0 + 2 * H),
            s("r1", "OP25B-MTA", "tokyo", "mta", 10, T0 + 2 * H),
        ]
    )
    # a device whose block never matches
    for i in range(3):
        db.add(
            [
                s("r2", "OP25B-BLOCK", "osaka", "blocked", 0, T0 + i * H),
                s("r2", "OP25B-SUBMISSION", "osaka", "submission", 7 * i, T0 + i * H),
            ]
        )


def test_migrates_an_empty_database_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    with EffectDB.open(str(path)) as db:
        assert db.schema_version() == SCHEMA_VERSION
    with EffectDB.open(str(path)) as db:  # second open: nothing to do
        assert db.schema_version() == SCHEMA_VERSION
    tables = {r[0] for r in sqlite3.connect(path).execute("select name from sqlite_master where type='table'")}
    assert {"op25b_meta", "counter", "sample", "latest", "hourly", "daily"} <= tables


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    EffectDB.open(str(path)).close()
    con = sqlite3.connect(path)
    con.execute("update op25b_meta set value='99' where key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(DatabaseError, match="schema version 99, newer than this op25b"):
        EffectDB.open(str(path))


def test_resets_are_detected_not_subtracted(tmp_path: Path, target: str) -> None:
    with EffectDB.open(target) as db:
        fill(db)
        rows = [r for r in db.samples("r1") if r.purpose == "blocked"]
        assert [(r.packets, r.delta_packets, r.reset) for r in rows] == [(10, 10, True), (25, 15, False), (5, 5, True)]
        # a new filter version starts the counter again, though its value is higher
        inc = db.add([s("r1", "OP25B-BLOCK", "tokyo", "blocked", 9, T0 + 3 * H, version="bbbb0002")])
        assert (inc[0].packets, inc[0].reset) == (9, True)


def test_report_figures(tmp_path: Path, target: str) -> None:
    with EffectDB.open(target) as db:
        fill(db)
        r = rep.build(db, T0, T0 + 3 * H, "hour")
    pools = {p.pool: p.as_dict() for p in r.pools}
    assert pools["tokyo"]["blocked"] == 30 and pools["tokyo"]["mta"] == 10
    assert pools["tokyo"]["blocked_per_hour"] == 10.0 and pools["tokyo"]["blocked_share"] == 0.75
    assert pools["osaka"]["submission"] == 14 and pools["osaka"]["blocked"] == 0
    assert [c["blocked"] for _, c in r.series["tokyo"]] == [10, 15, 5]
    assert [(g.device, g.pool) for g in r.gaps] == [("r2", "osaka")]
    with EffectDB.open(target) as db:
        one = rep.build(db, T0 + H, T0 + 2 * H, "hour")
    assert {p.pool: p.counts["blocked"] for p in one.pools} == {"tokyo": 15, "osaka": 0}


def test_before_after_a_change_from_the_change_log(tmp_path: Path, target: str) -> None:
    log = tmp_path / "changes.jsonl"
    log.write_text(
        json.dumps(
            {
                "ts": rep.iso(T0 + 2 * H).replace("Z", "+00:00"),
                "run_id": "run-1",
                "result": "committed",
                "device": "r1",
                "version": "bbbb0002",
            }
        )
        + "\n"
        + json.dumps(
            {"ts": rep.iso(T0 + 2.5 * H).replace("Z", "+00:00"), "run_id": "run-2", "result": "failed", "device": "r1"}
        )
        + "\n",
        encoding="utf-8",
    )
    db_path = target
    with EffectDB.open(target) as db:
        fill(db)
    res = runner.invoke(
        app,
        [
            "effect",
            "report",
            "--db",
            str(db_path),
            "--since",
            rep.iso(T0),
            "--until",
            rep.iso(T0 + 4 * H),
            "--compare",
            "--window",
            "2h",
            "--changelog",
            str(log),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 1, res.output  # the deployment gap of r2
    doc = json.loads(res.stdout)
    assert doc["schema"] == "op25b.effect/1"
    ch = doc["change"]
    assert ch["run_id"] == "run-1" and ch["window_hours"] == 2.0
    assert ch["per_hour_before"]["tokyo"]["blocked"] == 12.5  # 10 + 15 over two hours
    assert ch["per_hour_after"]["tokyo"]["blocked"] == 2.5  # 5 over two hours
    bad = runner.invoke(app, ["effect", "report", "--db", str(db_path), "--change", "nope", "--changelog", str(log)])
    assert bad.exit_code == 2 and "no committed push with that run_id" in bad.output


def test_csv_and_table(tmp_path: Path, target: str) -> None:
    db_path = target
    with EffectDB.open(target) as db:
        fill(db)
        r = rep.build(db, T0, T0 + 3 * H, "hour")
    rows = list(csv.DictReader(io.StringIO(rep.to_csv(r))))
    assert {"scope": "pool", "pool": "tokyo", "blocked": "30"}.items() <= rows[0].items() or any(
        x["scope"] == "pool" and x["pool"] == "tokyo" and x["blocked"] == "30" for x in rows
    )
    assert sum(1 for x in rows if x["scope"] == "hour" and x["pool"] == "tokyo") == 3
    res = runner.invoke(
        app, ["effect", "report", "--db", str(db_path), "--since", rep.iso(T0), "--until", rep.iso(T0 + 3 * H)]
    )
    assert res.exit_code == 1
    assert "tokyo" in res.stdout and "deployment gap" in res.stdout


def test_report_without_database_is_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["effect", "report", "--db", str(tmp_path / "missing.db")])
    assert res.exit_code == 2 and "run 'op25b effect collect" in res.output
    res = runner.invoke(app, ["effect", "report", "--db", str(tmp_path / "missing.db"), "--since", "yesterday"])
    assert res.exit_code == 2 and "is not understood" in res.output


def test_html_is_self_contained_with_a_chart_per_pool(tmp_path: Path) -> None:
    with EffectDB.open(str(tmp_path / "e.db")) as db:
        fill(db)
        db.add([s("r3", "OP25B-BLOCK", "<script>x</script>", "blocked", 1, T0)])
        page = rep.to_html(rep.build(db, T0, T0 + 3 * H, "hour"))
    p = _Collect()
    p.feed(page)
    assert "script" not in p.tags and "<script>x" not in page
    assert not [a for a, _ in p.attrs if a.startswith("on")]
    assert not [v for a, v in p.attrs if a in ("href", "src")]
    assert p.tags.count("svg") == 3 and "polyline" in p.tags


def test_html_renders_charts_in_headless_chromium(tmp_path: Path) -> None:
    """Chromium parses the page into the same tables and one SVG per pool, and paints it: the screenshot of
    the report differs from that of the same page without its charts."""
    import shutil

    from tests.labutil import need
    from tests.test_html_report import _chromium, _png_size

    need(
        (shutil.which("chromium") or shutil.which("chromium-browser")) is not None,
        "chromium (Debian package chromium) is not installed",
    )
    with EffectDB.open(str(tmp_path / "e.db")) as db:
        fill(db)
        page = rep.to_html(rep.build(db, T0, T0 + 3 * H, "hour"))
    full, bare = tmp_path / "effect.html", tmp_path / "bare.html"
    full.write_text(page, encoding="utf-8")
    start, end = page.index("<svg"), page.rindex("</svg>") + len("</svg>")
    bare.write_text(page.replace(page[start:end], ""), encoding="utf-8")
    dom = _chromium(["--dump-dom", full.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") == 2 and dom.stdout.count("<polyline") >= 3
    assert 'id="pool-tokyo"' in dom.stdout
    shots = {}
    for name, src in (("full", full), ("bare", bare)):
        png = tmp_path / f"{name}.png"
        res = _chromium([f"--screenshot={png}", "--window-size=900,1400", "--hide-scrollbars", src.as_uri()], tmp_path)
        assert res.returncode == 0 and png.is_file(), res.stderr[-2000:]
        shots[name] = png.read_bytes()
    assert _png_size(shots["full"]) == (900, 1400)
    assert shots["full"] != shots["bare"] and len(shots["full"]) > len(shots["bare"])


def test_table_above_50_devices_lists_only_the_gaps(tmp_path: Path) -> None:
    db_path = str(tmp_path / "e.db")
    with EffectDB.open(db_path) as db:
        db.add([s(f"r{i:02d}", "OP25B-BLOCK", "tokyo", "blocked", 0 if i == 7 else 5, T0) for i in range(60)])
    args = ["effect", "report", "--db", db_path, "--since", rep.iso(T0), "--until", rep.iso(T0 + H)]
    res = runner.invoke(app, args)
    assert res.exit_code == 1 and "60 device(s), 1 deployment gap(s)" in res.stdout
    assert "r07" in res.stdout and "r08" not in res.stdout
    every = runner.invoke(app, [*args, "--all-rows"])
    assert "r08" in every.stdout and "r59" in every.stdout
