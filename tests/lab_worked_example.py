"""The README's worked example of effect verification ("Effect: what the filters did"), run for real.

It builds a namespace lab (:func:`op25b_cfg.lab.netns.running_lab`: real sshd and nftables in the bras, real SMTP
listeners), then runs, each as its own process, exactly the commands the README shows: ``op25b push --commit``,
the SMTP probe from the subscriber namespace (three attempts to a foreign MX over IPv4 and one over IPv6, all
refused; one delivery through the ISP relay; one submission on 587), ``op25b effect collect``, ``op25b effect
report`` (table and HTML), and ``op25b effect offenders`` on the kernel log lines the nft block rule wrote. It
prints every command and its output as the README's block shows them::

    sudo env PYTHONPATH=$PWD python3 -m tests.lab_worked_example            # prints the block
    sudo env PYTHONPATH=$PWD python3 -m tests.lab_worked_example --check    # exit 1 when the README differs

What varies between runs is normalised (:func:`normalise`): the lab's paths are ``$INV`` / ``$KH`` as in the
README, the lab's namespace prefix (unique per run) is ``op25b-lab-`` as ``op25b lab up`` names them, the
Python interpreter is ``python3``, UTC times are ``YYYY-MM-DDTHH:MM:SSZ``, the probe's ``elapsed`` and source
port and the offenders' parse time are ``…``. The commands print for a terminal 200 columns wide. Packets to
the relay and on 587 vary by one between runs (:data:`VARYING`): ``--check`` and the test compare the rest. The kernel
log given to ``effect offenders`` is what ``sudo dmesg`` shows for this run: the records written to
``/dev/kmsg`` during it that carry the lab subscriber's own MAC (so lines of earlier runs or of a concurrent lab
are not counted).
tests/test_effect_worked_example.py runs it and checks the README's block is what the run prints.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from op25b_cfg.lab.netns import EXTERNAL_V4, EXTERNAL_V6, ISP_MTA_V4, Lab, running_lab
from op25b_cfg.lab.target import write_inventory
from tests.lab_fixtures import mac
from tests.labutil import REPO, Kmsg, namespace_kernel_log

README = REPO / "README.md"
BEGIN = "<!-- worked-example: begin (tests/lab_worked_example.py prints this block) -->"
END = "<!-- worked-example: end -->"

PROBE = [EXTERNAL_V4, "25"] * 3 + [EXTERNAL_V6, "25", ISP_MTA_V4, "25", EXTERNAL_V4, "587"]
COMMANDS = [
    "sudo sysctl -w net.netfilter.nf_log_all_netns=1",
    "op25b push -i $INV -d lab-bras --known-hosts $KH --commit",
    "sudo ip netns exec op25b-lab-subscriber python3 -m op25b_cfg.lab.smtp probe " + " ".join(PROBE),
    "op25b effect collect -i $INV -d lab-bras --known-hosts $KH",
    "op25b effect report --since 1h",
    "op25b effect report --since 1h --format html",
    "sudo dmesg > kernel.log",
    "op25b effect offenders kernel.log -i $INV",
]
"""The README's commands, in order, as a newcomer types them after ``sudo op25b lab up``."""

WIDTH = 200
"""The terminal width the commands print for (``COLUMNS``): the report's per-pool table is 185 wide."""

REFUSED = 4
"""Attempts the probe makes that the block rule refuses (and logs: within the log rule's burst of 5)."""


@dataclass(frozen=True)
class Step:
    command: str
    output: str
    code: int


def argv_of(command: str, lab: Lab, inventory: Path) -> list[str]:
    """The process a README command is run as here: ``op25b`` is this checkout's ``python -m op25b_cfg``, the
    probe runs in this lab's subscriber namespace (the script runs as root: no ``sudo``)."""
    words = [
        {"$INV": str(inventory), "$KH": str(lab.known_hosts)}.get(w, w)
        for w in shlex.split(command.replace("op25b-lab-", lab.prefix))
    ]
    if words[0] == "op25b":
        return [sys.executable, "-m", "op25b_cfg", *words[1:]]
    if words[:2] == ["sudo", "ip"]:
        return ["ip", *words[2:5], sys.executable, *words[6:]]
    if words[:2] == ["sudo", "sysctl"]:
        return words[1:]
    raise ValueError(f"not a command this script runs: {command}")


def normalise(text: str, lab: Lab, inventory: Path, work: Path) -> str:
    """What varies between runs made constant (see the module doc)."""
    for path, name in ((inventory, "$INV"), (lab.known_hosts, "$KH"), (work, ".")):
        text = text.replace(f"{path}/", f"{name}/" if name != "." else "").replace(str(path), name)
    text = text.replace(lab.prefix, "op25b-lab-").replace(sys.executable, "python3")
    text = re.sub(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "YYYY-MM-DDTHH:MM:SSZ", text)
    text = re.sub(r'"elapsed": [0-9.]+, "sport": \d+', '"elapsed": …, "sport": …', text)
    return re.sub(r" lines in [0-9.]+s:", " lines in …s:", text)


def run(lab: Lab, work: Path) -> list[Step]:
    """Run the README's commands against ``lab`` in the directory ``work``; each command with its output."""
    inventory = write_inventory(lab)
    env = {k: v for k, v in os.environ.items() if k != "LINES"}
    env.update(
        COLUMNS=str(WIDTH),
        PYTHONPATH=str(REPO),
        OP25B_USERNAME=lab.username,
        OP25B_PASSWORD=lab.password(),
        OP25B_LOCK_DIR=str(work / "locks"),
    )
    steps: list[Step] = []
    with namespace_kernel_log():
        kmsg = Kmsg()
        try:
            for command in COMMANDS:
                if command.startswith("sudo dmesg"):
                    lines = kmsg.wait_for(f":{mac(lab, 'subscriber')}:", REFUSED)
                    (work / "kernel.log").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
                    steps.append(Step(command, "", 0))
                    continue
                proc = subprocess.run(
                    argv_of(command, lab, inventory),
                    cwd=work,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                output = normalise(proc.stdout + proc.stderr, lab, inventory, work)
                steps.append(Step(command, output, proc.returncode))
        finally:
            kmsg.close()
    return steps


def block(steps: list[Step]) -> str:
    """The README's block: each command after ``$``, then its output (and its exit code when not 0)."""
    out = []
    for s in steps:
        out.append(f"$ {s.command}\n{s.output}")
        if s.output and not s.output.endswith("\n"):
            out.append("\n")
        if s.code:
            out.append(f"[exit code {s.code}]\n")
    return "".join(out)


VARYING = {11: (6, 7, 9, 10), 9: (5, 6)}
"""Per table (by its number of columns): the cells that vary by a packet between runs: the packets to the relays
and on 587 (and the shares made from them). Those count every packet the subscriber sends in its SMTP session,
and whether an ACK goes alone or rides on the next command depends on the timing of TCP's delayed ACKs."""


def mask_varying(text: str) -> str:
    """``text`` with the digits of the :data:`VARYING` cells of the report's table rows made ``#``.

    >>> mask_varying("│ lab-bras │ DYN-TOKYO │ 3 │ 0 │ 0 │ 10 │ 11 │ 0 │  │")
    '│ lab-bras │ DYN-TOKYO │ 3 │ 0 │ 0 │ ## │ ## │ 0 │  │'
    """
    out = []
    for line in text.splitlines(keepends=True):
        cells = line.split("│")
        cols = VARYING.get(len(cells) - 2, ()) if line.startswith("│ ") else ()
        for i in cols:
            cells[i + 1] = re.sub(r"[0-9]", "#", cells[i + 1])
        out.append("│".join(cells))
    return "".join(out)


def readme_block(text: str | None = None) -> str:
    """The block between the README's markers (without the code fence)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    inner = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return inner.split("```console\n", 1)[1].rsplit("```", 1)[0]


def main(argv: list[str]) -> int:
    if os.geteuid() != 0:
        print("the namespace lab needs root: sudo env PYTHONPATH=$PWD python3 -m tests.lab_worked_example")
        return 2
    with running_lab() as lab, tempfile.TemporaryDirectory(prefix="op25b-worked-") as tmp:
        got = block(run(lab, Path(tmp)))
    if "--check" in argv:
        want = readme_block()
        if mask_varying(got) != mask_varying(want):
            print("README's worked example differs from this run:\n" + got)
            return 1
        print("README's worked example is what this run printed")
        return 0
    print(got, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
