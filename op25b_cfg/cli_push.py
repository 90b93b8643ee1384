"""`op25b push` commands (thin: logic lives in importable modules). Registered on the main app."""

from __future__ import annotations

from op25b_cfg.cli import app  # noqa: F401
