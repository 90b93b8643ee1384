"""The README's two set-up commands stay true: the main job runs on the bundled sample inventory, and the
test command is exactly what .ci/run runs."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

from tests.labutil import REPO
from tests.platform_data import sample_files

README = REPO / "README.md"


def setup_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", section, flags=re.S)
    return [b.strip() for b in blocks]


def test_readme_has_exactly_two_setup_commands() -> None:
    cmds = setup_commands()
    assert len(cmds) == 2, cmds
    assert all("\n" not in c for c in cmds), "each set-up command is one line a newcomer can copy"
    assert "op25b generate" in cmds[0] and "inventory" in cmds[0]
    assert "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert setup_commands()[1] in [line.strip() for line in ci]


def test_readme_main_job_runs_on_the_sample_inventory(tmp_path: Path) -> None:
    main = setup_commands()[0]
    job = main.split("&&")[-1].strip()  # the op25b part; the pip install part is what .ci/run already did
    argv = shlex.split(job)
    assert argv[0] == "op25b"
    shutil.copytree(REPO / "inventory", tmp_path / "inventory")
    exe = shutil.which("op25b")
    assert exe is not None, "op25b console script is not installed"
    proc = subprocess.run([exe, *argv[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out_flag = argv.index("-o") if "-o" in argv else argv.index("--out")
    rendered = sorted(p.name for p in (tmp_path / argv[out_flag + 1]).iterdir())
    assert rendered == sorted(sample_files().values())
