from __future__ import annotations

from op25b_cfg.cli import app

app()
