"""The effect database: SQLite in a file by default, PostgreSQL when given a URL (SQLAlchemy Core).

Tables (schema version in ``op25b_meta``; :data:`MIGRATIONS` brings any older database up to date, each
step in its own transaction, and a database newer than this op25b is refused):

``op25b_meta``   key/value; ``schema_version``
``counter``      one row per (device, filter version, counter, pool, purpose): the counter's id
``sample``       each reading: counter id, time (UTC epoch seconds), the device's packets/bytes, and the
                 increase since the previous reading of that counter (``delta_*``), ``reset`` when the
                 counter started again (see :meth:`EffectDB.add`)
``latest``       the last reading per (device, counter, pool, purpose), across filter versions
``hourly``       per (pool, purpose, hour): the summed increases (the report's series)
``daily``        per (device, pool, purpose, day): the summed increases and the number of readings

Counter resets are detected, never subtracted: a reading below the previous one (a reload, ``clear
access-list counters``) or of another filter version (a new filter) starts the counter again, and its
whole value is the increase since then. The first reading of a counter counts its whole value too (the
counter has counted since its filter was installed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from op25b_cfg.effect.model import Sample
from op25b_cfg.errors import Op25bError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

DEFAULT_DB = "op25b.db"
HOUR, DAY = 3600, 86400

meta = sa.MetaData()
op25b_meta = sa.Table(
    "op25b_meta", meta, sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.Text, nullable=False)
)
counter = sa.Table(
    "counter",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device", sa.String(255), nullable=False),
    sa.Column("filter_version", sa.String(64), nullable=False),
    sa.Column("counter", sa.String(255), nullable=False),
    sa.Column("pool", sa.String(255), nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.UniqueConstraint("device", "filter_version", "counter", "pool", "purpose", name="counter_key"),
)
sample = sa.Table(
    "sample",
    meta,
    sa.Column("counter_id", sa.Integer, sa.ForeignKey("counter.id"), nullable=False),
    sa.Column("time", sa.Float, nullable=False),
    sa.Column("packets", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("delta_packets", sa.BigInteger, nullable=False),
    sa.Column("delta_bytes", sa.BigInteger, nullable=False),
    sa.Column("reset", sa.Boolean, nullable=False),
    sa.Index("sample_counter_time", "counter_id", "time"),
)
latest = sa.Table(
    "latest",
    meta,
    sa.Column("device", sa.String(255), primary_key=True),
    sa.Column("counter", sa.String(255), primary_key=True),
    sa.Column("pool", sa.String(255), primary_key=True),
    sa.Column("purpose", sa.String(32), primary_key=True),
    sa.Column("filter_version", sa.String(64), nullable=False),
    sa.Column("time", sa.Float, nullable=False),
    sa.Column("packets", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
)
hourly = sa.Table(
    "hourly",
    meta,
    sa.Column("pool", sa.String(255), primary_key=True),
    sa.Column("purpose", sa.String(32), primary_key=True),
    sa.Column("hour", sa.BigInteger, primary_key=True),
    sa.Column("packets", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
)
daily = sa.Table(
    "daily",
    meta,
    sa.Column("device", sa.String(255), primary_key=True),
    sa.Column("pool", sa.String(255), primary_key=True),
    sa.Column("purpose", sa.String(32), primary_key=True),
    sa.Column("day", sa.BigInteger, primary_key=True),
    sa.Column("packets", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("samples", sa.Integer, nullable=False),
)


def _v1(conn: Connection) -> None:
    """Schema 1: every table above."""
    meta.create_all(conn, tables=[op25b_meta, counter, sample, latest, hourly, daily])


MIGRATIONS = (_v1,)
"""Step ``i`` takes schema version ``i`` to ``i + 1``. A new schema is a new step at the end; never edit one
that has shipped."""
SCHEMA_VERSION = len(MIGRATIONS)


class DatabaseError(Op25bError):
    """The effect database cannot be opened, migrated or written."""


def _url(target: str) -> str:
    """A SQLAlchemy URL for ``--db``: a URL as given, a path as a SQLite file.

    >>> _url("op25b.db"), _url("postgresql://u@db/op25b")
    ('sqlite:///op25b.db', 'postgresql+psycopg://u@db/op25b')
    """
    if "://" not in target:
        return f"sqlite:///{target}"
    scheme, _, rest = target.partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return target


def redacted(target: str) -> str:
    """``--db`` as it may be shown: a URL's password replaced.

    >>> redacted("postgresql://op25b:s3cret@db:5432/op25b")
    'postgresql://op25b:***@db:5432/op25b'
    """
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", target)


@dataclass
class Increase:
    """The increase one reading adds (see the module doc)."""

    packets: int
    bytes: int
    reset: bool


def increase(prev: tuple[str, int, int] | None, s: Sample) -> Increase:
    """The increase of ``s`` over the previous reading ``(filter_version, packets, bytes)`` of its counter.

    >>> increase(("aa", 10, 1000), Sample("d", "aa", "c", "p", "blocked", 15, 1500, 0.0))
    Increase(packets=5, bytes=500, reset=False)
    >>> increase(("aa", 10, 1000), Sample("d", "aa", "c", "p", "blocked", 3, 300, 0.0))  # reloaded
    Increase(packets=3, bytes=300, reset=True)
    >>> increase(("aa", 10, 1000), Sample("d", "bb", "c", "p", "blocked", 12, 1200, 0.0))  # new filter
    Increase(packets=12, bytes=1200, reset=True)
    """
    if prev is None or prev[0] != s.filter_version or s.packets < prev[1] or s.bytes < prev[2]:
        return Increase(s.packets, s.bytes, True)
    return Increase(s.packets - prev[1], s.bytes - prev[2], False)


class EffectDB:
    """One effect database. ``EffectDB.open(target)`` connects and migrates; use as a context manager."""

    def __init__(self, engine: Engine, target: str) -> None:
        self.engine = engine
        self.target = target
        self._statements: dict[object, sa.Executable] = {}
        self._ids: dict[tuple[str, str, str, str, str], int] = {}

    @classmethod
    def open(cls, target: str = DEFAULT_DB, migrate: bool = True) -> EffectDB:
        """Connect to ``target`` (a SQLite file path or a database URL) and bring its schema up to date.

        Raises :class:`DatabaseError` (no password in the message) when it cannot."""
        url = _url(target)
        if url.startswith("sqlite:///"):
            parent = Path(url.removeprefix("sqlite:///")).parent
            if not parent.is_dir():
                raise DatabaseError(f"database {target}: directory {parent} does not exist. Fix: create it")
        try:
            engine = sa.create_engine(url, future=True)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise DatabaseError(
                f"database {redacted(target)}: not a usable URL ({exc}). Fix: give a file path (SQLite) or"
                " postgresql://user@host/dbname"
            ) from None
        if url.startswith("sqlite"):
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        db = cls(engine, target)
        if migrate:
            db.migrate()
        return db

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> EffectDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, exc: BaseException) -> DatabaseError:
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return DatabaseError(f"database {redacted(self.target)}: {redacted(text[0] if text else type(exc).__name__)}")

    def schema_version(self) -> int:
        """The database's schema version (0: empty)."""
        try:
            with self.engine.connect() as conn:
                if not sa.inspect(conn).has_table("op25b_meta"):
                    return 0
                value = conn.execute(sa.select(op25b_meta.c.value).where(op25b_meta.c.key == "schema_version")).scalar()
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc) from None
        return int(value or 0)

    def migrate(self) -> int:
        """Apply every missing migration, each in one transaction; returns the schema version."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise DatabaseError(
                f"database {redacted(self.target)} has schema version {current}, newer than this op25b"
                f" ({SCHEMA_VERSION}). Fix: upgrade op25b"
            )
        try:
            for version in range(current, SCHEMA_VERSION):
                with self.engine.begin() as conn:
                    MIGRATIONS[version](conn)
                    conn.execute(sa.delete(op25b_meta).where(op25b_meta.c.key == "schema_version"))
                    conn.execute(sa.insert(op25b_meta).values(key="schema_version", value=str(version + 1)))
                log.info("database %s: migrated to schema %d", redacted(self.target), version + 1)
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc) from None
        return SCHEMA_VERSION

    # ------------------------------------------------------------------ writing

    def _upsert(self, table: sa.Table, keys: tuple[str, ...], add: tuple[str, ...] = ()) -> sa.Executable:
        """One ``INSERT ... ON CONFLICT (keys) DO UPDATE`` statement for ``table`` (SQLite and PostgreSQL spell
        it alike): the columns in ``add`` are added to the stored values, the others replaced; built once per
        database and run with a list of rows (``executemany``)."""
        name = (table.name, keys, add)
        stmt = self._statements.get(name)
        if stmt is None:
            if self.engine.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
            ins = insert(table)
            cols = [c.name for c in table.columns if c.name not in keys and not c.primary_key]
            new = {c: (table.c[c] + ins.excluded[c]) if c in add else ins.excluded[c] for c in cols}
            stmt = self._statements[name] = (
                ins.on_conflict_do_update(index_elements=list(keys), set_=new)
                if new
                else ins.on_conflict_do_nothing(index_elements=list(keys))
            )
        return stmt

    def add(self, samples: Sequence[Sample]) -> list[Increase]:
        """Store ``samples`` (one transaction) with their increases; returns the increases in order.

        A handful of statements per call whatever the number of samples (each run over its rows at once), so
        one device's readings cost about a millisecond of database work."""
        out: list[Increase] = []
        if not samples:
            return out
        try:
            with self.engine.begin() as conn:
                ids = self._counter_ids(conn, samples)
                prev = self._latest(conn, samples)
                hours: dict[tuple[str, str, int], list[int]] = {}
                days: dict[tuple[str, str, str, int], list[int]] = {}
                rows = []
                last: dict[tuple[str, str, str, str], Sample] = {}
                for s in samples:
                    key = (s.device, s.counter, s.pool, s.purpose)
                    inc = increase(prev.get(key), s)
                    prev[key] = (s.filter_version, s.packets, s.bytes)
                    last[key] = s
                    out.append(inc)
                    rows.append(
                        {
                            "counter_id": ids[(s.device, s.filter_version, s.counter, s.pool, s.purpose)],
                            "time": s.time,
                            "packets": s.packets,
                            "bytes": s.bytes,
                            "delta_packets": inc.packets,
                            "delta_bytes": inc.bytes,
                            "reset": inc.reset,
                        }
                    )
                    h = hours.setdefault((s.pool, s.purpose, int(s.time // HOUR) * HOUR), [0, 0])
                    h[0] += inc.packets
                    h[1] += inc.bytes
                    d = days.setdefault((s.device, s.pool, s.purpose, int(s.time // DAY) * DAY), [0, 0, 0])
                    d[0] += inc.packets
                    d[1] += inc.bytes
                    d[2] += 1
                conn.execute(sa.insert(sample), rows)
                conn.execute(
                    self._upsert(latest, ("device", "counter", "pool", "purpose")),
                    [
                        {"device": k[0], "counter": k[1], "pool": k[2], "purpose": k[3], "filter_version":
                         s.filter_version, "time": s.time, "packets": s.packets, "bytes": s.bytes}
                        for k, s in last.items()
                    ],
                )  # fmt: skip
                conn.execute(
                    self._upsert(hourly, ("pool", "purpose", "hour"), ("packets", "bytes")),
                    [
                        {"pool": k[0], "purpose": k[1], "hour": k[2], "packets": v[0], "bytes": v[1]}
                        for k, v in hours.items()
                    ],
                )
                conn.execute(
                    self._upsert(daily, ("device", "pool", "purpose", "day"), ("packets", "bytes", "samples")),
                    [
                        {"device": k[0], "pool": k[1], "purpose": k[2], "day": k[3], "packets": v[0], "bytes": v[1],
                         "samples": v[2]}
                        for k, v in days.items()
                    ],
                )  # fmt: skip
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc) from None
        if ids is not self._ids:
            self._ids.update(ids)  # committed: the rows exist
        return out

    def _counter_ids(self, conn: Connection, samples: Sequence[Sample]) -> dict[tuple[str, str, str, str, str], int]:
        """The id of every sample's counter row (created when new), by (device, version, counter, pool, purpose)."""
        keys = {(s.device, s.filter_version, s.counter, s.pool, s.purpose) for s in samples}
        known = self._ids  # a counter's id never changes once its row exists
        if keys <= known.keys():
            return known
        devices = sorted({k[0] for k in keys})
        query = self._by_device(counter, ("id", "device", "filter_version", "counter", "pool", "purpose"))
        ids = {tuple(r[1:]): int(r[0]) for r in conn.execute(query, {"devices": devices})}
        missing = [k for k in keys if k not in ids]
        if missing:
            names = ("device", "filter_version", "counter", "pool", "purpose")
            conn.execute(self._upsert(counter, names), [dict(zip(names, k, strict=True)) for k in missing])
            ids = {tuple(r[1:]): int(r[0]) for r in conn.execute(query, {"devices": devices})}
        return ids

    def _by_device(self, table: sa.Table, columns: tuple[str, ...]) -> sa.Executable:
        """``SELECT columns FROM table WHERE device IN :devices``, built once per database."""
        name = ("select", table.name, columns)
        stmt = self._statements.get(name)
        if stmt is None:
            stmt = self._statements[name] = sa.select(*(table.c[col] for col in columns)).where(
                table.c.device.in_(sa.bindparam("devices", expanding=True))
            )
        return stmt

    def _latest(
        self, conn: Connection, samples: Sequence[Sample]
    ) -> dict[tuple[str, str, str, str], tuple[str, int, int]]:
        query = self._by_device(latest, ("device", "counter", "pool", "purpose", "filter_version", "packets", "bytes"))
        rows = conn.execute(query, {"devices": sorted({s.device for s in samples})})
        return {(r.device, r.counter, r.pool, r.purpose): (r.filter_version, r.packets, r.bytes) for r in rows}

    # ------------------------------------------------------------------ reading

    def execute(self, query: sa.Executable) -> list[sa.Row[Any]]:
        """Rows of one read query (DatabaseError on failure)."""
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(query))
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc) from None

    def samples(self, device: str | None = None) -> list[sa.Row[Any]]:
        """Every stored reading with its counter's key, oldest first (tests and exports)."""
        c, s = counter.c, sample.c
        query = (
            sa.select(c.device, c.filter_version, c.counter, c.pool, c.purpose, s.time, s.packets, s.bytes)
            .add_columns(s.delta_packets, s.delta_bytes, s.reset)
            .join_from(sample, counter, s.counter_id == c.id)
            .order_by(s.time, c.id)
        )
        if device is not None:
            query = query.where(c.device == device)
        return self.execute(query)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL (readers do not wait for the writer), ``synchronous=NORMAL`` (a commit does not wait for the disk;
    with WAL a crash can lose the last commits, never corrupt the file), a busy timeout for concurrent op25b
    runs, and foreign keys enforced."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
