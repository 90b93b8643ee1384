"""Fixtures of the huawei_vrp tests: the VRP emulator, once as VRP8 and once as VRP5."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from op25b_cfg.platforms.huawei_vrp.emulator import VrpEmulator

DEVICE = "edge-osa-vrp1"


@pytest.fixture(params=[8, 5], ids=["vrp8", "vrp5"])
def emu(request: pytest.FixtureRequest) -> Iterator[VrpEmulator]:
    with VrpEmulator(hostname=DEVICE, version=request.param) as e:
        try:
            yield e
        finally:
            e.faults.release()
