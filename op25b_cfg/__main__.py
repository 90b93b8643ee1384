from __future__ import annotations

from op25b_cfg.cli import app

if __name__ == "__main__":  # not when a spawned worker process imports this module as __mp_main__
    app()
