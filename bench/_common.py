"""What every bench script shares: whole-process timing, the machine's load, and PASS/FAIL lines.

A bench script times what a user runs: the ``op25b`` console script as a whole process (the one installed next
to this Python, so a version manager's shim is not timed), against its peer in the same run, and prints the
ratio. The load average is printed with the figures because the machine is shared.

op25b's modules are compiled to bytecode before anything is timed (:func:`compile_checkout`), as ``pip install``
does for an installed package and for aerleon: with ``PYTHONDONTWRITEBYTECODE`` set (as on the shared machine) a
checkout would otherwise be compiled from source in every timed process, a cost no installed copy pays.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

_RESULTS: list[bool] = []


def script(name: str) -> str:
    """The console script ``name`` installed with this Python (``op25b``, ``aclgen``)."""
    path = BIN / name
    if not path.exists():
        raise SystemExit(f"{name} is not installed next to {sys.executable}: pip install -e '.[bench]'")
    return str(path)


def env() -> dict[str, str]:
    """The environment of a timed process: this checkout first on PYTHONPATH, no colour, a fixed width."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), e.get("PYTHONPATH", "")) if p)
    e.update({"NO_COLOR": "1", "COLUMNS": "160", "TERM": "dumb"})
    return e


def load() -> str:
    """The machine's load average (1, 5, 15 min) and core count, for the header of every report."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def compile_checkout() -> None:
    """Write the checkout's bytecode (``__pycache__``, git-ignored) so timed processes read it, as an installed
    package's; compiling the sources is not what users pay on each run."""
    if not compileall.compile_dir(REPO / "op25b_cfg", quiet=1):
        raise SystemExit(f"cannot compile {REPO / 'op25b_cfg'}")


def header(what: str) -> None:
    compile_checkout()
    print(f"# {what}; python {sys.version.split()[0]}; {load()}; op25b bytecode compiled before timing")


@dataclass
class Run:
    """Median wall time of a whole process over ``runs``, the largest peak RSS (MiB) of those runs, and the median
    CPU time (user + system, the process and the children it waited for): on a shared machine the wall time
    includes waiting for a core, the CPU time is what the run itself costs."""

    wall: float
    rss_mib: float
    returncode: int
    cpu: float = 0.0


def run_process(argv: Sequence[str], runs: int = 5, ok: Sequence[int] = (0,), cwd: Path | None = None) -> Run:
    """Run ``argv`` ``runs`` times (stdout/stderr discarded); the median wall time and the peak RSS.

    Peak RSS comes from ``wait4`` of that child, so it is the process's own figure, not this script's."""
    times, cpus, peak, code = [], [], 0, 0
    for _ in range(runs):
        t0 = time.perf_counter()
        with tempfile.TemporaryFile() as errfile:
            proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=errfile, env=env(), cwd=cwd)
            _, status, usage = os.wait4(proc.pid, 0)
            times.append(time.perf_counter() - t0)
            cpus.append(usage.ru_utime + usage.ru_stime)
            code = proc.returncode = os.waitstatus_to_exitcode(status)
            if code not in ok:
                errfile.seek(0)
                raise SystemExit(f"{' '.join(argv)} exited {code}:\n{errfile.read().decode(errors='replace')[-2000:]}")
        peak = max(peak, usage.ru_maxrss)
    return Run(statistics.median(times), peak / 1024, code, statistics.median(cpus))


def run_interleaved(
    commands: dict[str, Sequence[str]], runs: int = 5, ok: Sequence[int] = (0,), cwd: Path | None = None
) -> dict[str, Run]:
    """:func:`run_process` for each command, round-robin (one run of each, ``runs`` times), so a change in the
    machine's load during the measurement hits every command alike; the median and peak RSS per command."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    rss: dict[str, float] = dict.fromkeys(commands, 0.0)
    codes: dict[str, int] = dict.fromkeys(commands, 0)
    for _ in range(runs):
        for name, argv in commands.items():
            one = run_process(argv, 1, ok, cwd)
            walls[name].append(one.wall)
            cpus[name].append(one.cpu)
            rss[name] = max(rss[name], one.rss_mib)
            codes[name] = one.returncode
    return {
        name: Run(statistics.median(walls[name]), rss[name], codes[name], statistics.median(cpus[name]))
        for name in commands
    }


def median_call(fn: object, runs: int = 5) -> float:
    """Median wall time of calling ``fn()`` ``runs`` times in this process."""
    assert callable(fn)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def verdict(name: str, passed: bool, detail: str) -> None:
    """Print one target's PASS/FAIL line and remember it for :func:`finish`."""
    _RESULTS.append(passed)
    print(f"{'PASS' if passed else 'FAIL'}  {name}: {detail}")


def finish() -> int:
    """Print the load again (it may have changed during the run); exit status 0 when every target passed."""
    print(f"# {sum(_RESULTS)}/{len(_RESULTS)} targets met; {load()}")
    return 0 if all(_RESULTS) else 1
