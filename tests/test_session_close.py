"""A session's close is bounded by ``--timeout`` too (issue 9 item 5): netmiko's clean-up on IOS-XR can read for a
timeout per try, so a driver close may take minutes; op25b returns and lets it finish in the background."""

from __future__ import annotations

import threading
from pathlib import Path

from op25b_cfg import api
from op25b_cfg.connection.base import ConnectOptions, Credentials
from op25b_cfg.connection.factory import make_session

REPO = Path(__file__).resolve().parent.parent


class _StuckDriver:
    """A napalm driver whose close does not return until released (a third-party object, not op25b's)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.closing = threading.Event()
        self.finished = False

    def close(self) -> None:
        self.closing.set()
        self.release.wait(30)  # released by the test once op25b's close has returned
        self.finished = True


def test_close_returns_within_the_timeout_whatever_the_driver_does(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OP25B_LOCK_DIR", str(tmp_path / "locks"))
    device = api.load(REPO / "inventory").devices["bras-osa-xr1"]
    session = make_session(device, Credentials("netops", "pw"), ConnectOptions(timeout=0.3))
    stuck = _StuckDriver()
    session._driver = stuck  # as after a successful open
    try:
        session.close()  # op25b's close returns (after --timeout) while the driver's close is still running
        assert stuck.closing.is_set() and not stuck.finished, "close waited for the driver"
        assert session._driver is None
    finally:
        stuck.release.set()
