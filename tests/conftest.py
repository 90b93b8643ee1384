from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests are reproducible by default (and in CI): a derandomized profile draws the same examples on
# every run, so a failure cannot pass on a retry. `--hypothesis-profile=long` (or OP25B_HYPOTHESIS_PROFILE=long)
# runs a longer random search, seeded anew each time, to look for new counterexamples.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("long", max_examples=2000, derandomize=False, print_blob=True)
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
