"""Defaults that a command's options show and the logic uses, in a module that imports nothing, so declaring
the option (``op25b push --help``) does not load the logic (:mod:`op25b_cfg.push`)."""

from __future__ import annotations

from pathlib import Path

DEFAULT_BACKUP_DIR = Path("backups")
DEFAULT_CHANGELOG = Path("logs/changes.jsonl")
"""The append-only JSON-lines change log of push."""
DEFAULT_CONFIRM_TIMEOUT = 300
"""Seconds of the device revert timer."""
DEFAULT_TIME_BUDGET = 30.0
"""Seconds one device's audit (parse and proof) may take unless told otherwise (``op25b audit --time-budget``)."""
