"""A private PostgreSQL server for tests: ``initdb`` in a temporary directory, ``postgres`` on a Unix socket
there (no TCP port), trust authentication, stopped and removed at the end.

``OP25B_TEST_PG_URL`` names an existing server instead (a URL whose user may ``CREATE DATABASE``). Without
either, the tests skip with the reason, or fail under ``OP25B_REQUIRE_LAB=1`` (.ci/run installs the Debian
``postgresql`` package, so CI always runs them against a real server).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.labutil import have_root, need


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    """Run as the ``postgres`` user when root (the server refuses to run as root)."""
    cmd = ["runuser", "-u", "postgres", "--", *args] if have_root() else args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, **kw)  # type: ignore[call-overload,no-any-return]


@contextlib.contextmanager
def server() -> Iterator[str]:
    """A base URL (``postgresql://user@/?host=SOCKETDIR&port=N``) of a running server; see the module doc."""
    given = os.environ.get("OP25B_TEST_PG_URL")
    if given:
        yield given
        return
    bindir = _bindir()
    need(bindir is not None, "PostgreSQL is not installed (Debian package postgresql)")
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="op25b-pg-"))
    data, sock = root / "data", root
    if have_root():
        shutil.chown(root, "postgres", "postgres")
    port = 20000 + uuid.uuid4().int % 20000
    try:
        init = _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "op25b", "--auth=trust", "-E", "UTF8"])
        need(init.returncode == 0, f"initdb failed: {init.stderr[-500:]}")
        start = _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(root / "log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-c listen_addresses='' -k {sock} -p {port} -c fsync=off",
                "start",
            ]
        )
        need(start.returncode == 0, f"PostgreSQL did not start: {start.stderr[-500:]}")
        yield f"postgresql://op25b@/postgres?host={sock}&port={port}"
    finally:
        if (data / "postmaster.pid").exists():
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        for _ in range(50):
            if not (data / "postmaster.pid").exists():
                break
            time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(base: str) -> str:
    """Create an empty database on the server of ``base`` and return its URL."""
    import sqlalchemy as sa

    name = f"op25b_{uuid.uuid4().hex[:12]}"
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    head, _, query = base.partition("?")
    head = head.rsplit("/", 1)[0]
    return f"{head}/{name}" + (f"?{query}" if query else "")
