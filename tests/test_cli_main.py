"""The console script's ``main()`` exits without the interpreter's teardown (issue 10), and a user sees no
difference from ``app()``: the same standard output, standard error and exit code, and the ``atexit`` work
(logging's shutdown, pool joins, temporary file finalizers) still runs. Each case runs both entry points in a
fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
INVENTORY = REPO / "inventory"

RUN = """
import sys
sys.argv = ["op25b", *sys.argv[2:]]
from op25b_cfg import cli
sys.exit(getattr(cli, sys.argv_entry)())
"""


def run(entry: str, *args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """``op25b ARGS`` through ``cli.<entry>`` in a fresh interpreter, as the console script calls it."""
    code = prelude + RUN.replace("sys.argv_entry", repr(entry))
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-c", code, "-", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )


def configs(tmp_path: Path, text: str) -> Path:
    """A directory holding one saved running config for ``bras-tyo-ios1``."""
    d = tmp_path / "configs"
    d.mkdir()
    (d / "bras-tyo-ios1.cfg").write_text(text, encoding="utf-8")
    return d


@pytest.mark.parametrize(
    "case",
    ["help", "version", "platforms-json", "audit-findings", "audit-json", "audit-bad-dir", "bad-option", "generate"],
)
def test_main_prints_and_exits_as_app(case: str, tmp_path: Path) -> None:
    saved = configs(tmp_path, "hostname bras-tyo-ios1\n!\ninterface Loopback0\n!\nend\n")
    args = {
        "help": ["--help"],
        "version": ["--version"],
        "platforms-json": ["platforms", "--format", "json"],
        "audit-findings": ["audit", "-i", str(INVENTORY), "-c", str(saved), "-d", "bras-tyo-ios1"],
        "audit-json": ["audit", "-i", str(INVENTORY), "-c", str(saved), "-d", "bras-tyo-ios1", "--format", "json"],
        "audit-bad-dir": ["audit", "-i", str(INVENTORY), "-c", str(tmp_path / "absent"), "-d", "bras-tyo-ios1"],
        "bad-option": ["audit", "--no-such-option"],
        "generate": ["generate", "-i", str(INVENTORY), "-o", str(tmp_path / "out"), "-d", "bras-tyo-ios1"],
    }[case]
    ordinary, fast = run("app", *args), run("main", *args)
    if case == "audit-json":  # the report carries its start time
        ordinary.stdout, fast.stdout = (
            "\n".join(x for x in p.stdout.splitlines() if '"generated' not in x and '_at"' not in x)
            for p in (ordinary, fast)
        )
    assert (fast.returncode, fast.stdout, fast.stderr) == (ordinary.returncode, ordinary.stdout, ordinary.stderr)
    assert fast.stdout or fast.stderr


def test_main_runs_the_atexit_functions(tmp_path: Path) -> None:
    """What ``atexit`` holds runs before the fast exit, after everything the command printed."""
    mark = tmp_path / "mark"
    prelude = f"import atexit\natexit.register(lambda: open({str(mark)!r}, 'w').write('ran'))\n"
    proc = run("main", "--version", prelude=prelude)
    assert proc.returncode == 0 and proc.stdout.strip()
    assert mark.read_text() == "ran"


def test_main_takes_the_ordinary_exit_while_another_thread_runs(tmp_path: Path) -> None:
    """A thread still running at exit is left to the interpreter (which joins a non-daemon thread): its work
    is not cut off."""
    mark = tmp_path / "mark"
    prelude = (
        "import threading, time\n"
        f"threading.Thread(target=lambda: (time.sleep(0.5), open({str(mark)!r}, 'w').write('done'))).start()\n"
    )
    proc = run("main", "--version", prelude=prelude)
    assert proc.returncode == 0
    assert mark.read_text() == "done"


FULL = """
import sys
sys.argv = ["op25b", *sys.argv[2:]]
from op25b_cfg import cli
import typer.main
sys.exit(typer.main.get_command(cli.app)())
"""

BUILT = """
import sys
sys.argv = ["op25b", *sys.argv[2:]]
import typer.main
built = []
params = []
real = typer.main.get_command_from_info
def counting(*a, **kw):
    cmd = real(*a, **kw)
    built.append(cmd.name)
    params.append(len(cmd.params))
    return cmd
typer.main.get_command_from_info = counting
from op25b_cfg import cli
try:
    cli.app()
finally:
    print("PARAMS", sum(params))
    print("BUILT", sorted(built))
"""


@pytest.mark.parametrize(
    "args",
    [
        ("audit", "--help"),
        ("audit", "--no-such-option"),
        ("effect", "collect", "--help"),
        ("inventory", "show", "--help"),
        ("lab", "up", "--help"),
        ("audt",),
        ("--help",),
        ("--version",),
        (),
    ],
)
def test_one_command_built_prints_as_the_whole_group(args: tuple[str, ...]) -> None:
    """``app()`` builds only the named command; what it prints and its exit code are the whole group's."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"}
    lazy, full = (
        subprocess.run([sys.executable, "-c", code, "-", *args], capture_output=True, text=True, env=env, cwd=REPO)
        for code in (RUN.replace("sys.argv_entry", "'app'"), FULL)
    )
    assert (lazy.returncode, lazy.stdout, lazy.stderr) == (full.returncode, full.stdout, full.stderr)


@pytest.mark.parametrize(
    ("args", "built"),
    [
        (("audit", "--help"), ["audit"]),
        (("effect", "collect", "--help"), ["collect", "offenders", "report"]),
        (("generate", "--help"), ["generate"]),
    ],
)
def test_app_builds_only_the_command_it_runs(args: tuple[str, ...], built: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", BUILT, "-", *args], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.splitlines()[-1] == f"BUILT {built}"
    whole = subprocess.run([sys.executable, "-c", BUILT, "-", "--help"], capture_output=True, text=True, cwd=REPO)
    assert len(eval(whole.stdout.splitlines()[-1].removeprefix("BUILT "))) > 10


@pytest.mark.parametrize("args", [("--help",), ("--version",), ()])
def test_listing_converts_no_command_parameters(args: tuple[str, ...]) -> None:
    """``op25b``, ``--help`` and ``--version`` list the commands (their output is the whole group's: above)
    without building any command's parameters; a typo builds them all (its message is click's)."""
    listing, typo = (
        subprocess.run(
            [sys.executable, "-c", BUILT, "-", *a], capture_output=True, text=True, cwd=REPO
        ).stdout.splitlines()[-2:]
        for a in (args, ("audt",))
    )
    assert listing[0] == "PARAMS 0" and listing[1] == typo[1] and len(eval(listing[1].removeprefix("BUILT "))) > 10
    assert int(typo[0].removeprefix("PARAMS ")) > 50
