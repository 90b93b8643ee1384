"""op25b: generate, push and audit Outbound Port 25 Blocking on ISP routers, BRAS and Linux hosts."""

from __future__ import annotations

__version__ = "0.1.0"
