from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests are reproducible by default (and in CI): a derandomized profile draws the same examples on
# every run, so a failure cannot pass on a retry. `--hypothesis-profile=long` (or OP25B_HYPOTHESIS_PROFILE=long)
# runs a longer random search, seeded anew each time, to look for new counterexamples.
# No per-example deadline (hypothesis's default is 200 ms): that is a timing assertion, and on a loaded 2-core
# machine a correct example took 336 ms. Timings belong in bench/; tests that guard against a hang (a regex that
# backtracks for ever) set their own generous deadline.
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
settings.register_profile("long", max_examples=2000, derandomize=False, print_blob=True, deadline=None)
settings.load_profile(os.environ.get("OP25B_HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/platforms/<platform>/golden/ reference outputs from the current renderer (no compare)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Device locks of this test (push, live audit) in its own directory, removed with tmp_path."""
    path = tmp_path / "locks"
    monkeypatch.setenv("OP25B_LOCK_DIR", str(path))
    return path


FIGURE = "op25b-figure"
"""``request.node.user_properties`` entries under this name are measured figures (lab timings, counts): shown
in a "measured figures" section after every run (also ``pytest -q``) and kept in JUnit XML as properties."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        f"{rep.nodeid}: {value}"
        for reports in terminalreporter.stats.values()
        for rep in reports
        if isinstance(rep, pytest.TestReport) and rep.when == "call"
        for name, value in rep.user_properties
        if name == FIGURE
    ]
    if lines:
        terminalreporter.write_sep("-", "measured figures")
        for line in lines:
            terminalreporter.write_line(line)


# The validated-inventory cache (op25b_cfg/inventory_cache.py) is off for the suite: tests exercise the real
# validation on every load (some patch what it checks), and leave nothing in the user's cache directory.
# tests/test_inventory_cache.py switches it on, in a temporary directory, where it is what is tested.
os.environ["OP25B_NO_CACHE"] = "1"
# Tests see the CLI as a script does (stdout piped, no terminal size): pytest-xdist workers inherit COLUMNS=80 and
# LINES=24 from their launcher, which would wrap and cut the tables the tests read.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
