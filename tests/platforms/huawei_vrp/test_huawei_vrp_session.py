"""The VRP emulator driven by the real netmiko (``huawei``) through op25b's VRP session, on VRP8 and VRP5:
dry run, commit, post-audit, re-run unchanged, roll-back, refused lines, faults and hard timeouts."""

from __future__ import annotations

import dataclasses
import re

import pytest
from netmiko import ConnectHandler

from op25b_cfg import api
from op25b_cfg.audit.model import Verdict
from op25b_cfg.connection.base import ConnectOptions, Credentials
from op25b_cfg.errors import ConnectionError_, PushError
from op25b_cfg.inventory import Device
from op25b_cfg.platforms.huawei_vrp.emulator import UNRECOGNIZED, VrpEmulator
from op25b_cfg.platforms.huawei_vrp.session import VrpSession
from tests.labutil import REPO

DEVICE = "edge-osa-vrp1"


def _device(emu: VrpEmulator) -> Device:
    dev = api.load(REPO / "inventory").devices[DEVICE]
    return dataclasses.replace(dev, hostname=emu.host, port=emu.port)


def _session(emu: VrpEmulator, timeout: float = 10) -> VrpSession:
    opts = ConnectOptions(timeout=timeout, verify_host_key=False)
    return VrpSession(_device(emu), Credentials(emu.username, emu.password), opts)


def _body(text: str) -> str:
    """A running config without the timestamp line (it changes on every change)."""
    return re.sub(r"(?m)^!Last configuration.*\n", "", text)


def test_dry_run_commit_audit_rerun_rollback(emu: VrpEmulator) -> None:
    dev = _device(emu)
    rendered = api.render(dev)
    before = emu.running_config
    with _session(emu) as s:
        assert s.version == emu.version
        s.load_candidate(rendered)
        diff = s.diff()
        assert "+acl name OP25B-V4-79b17a7e advance" in diff
        assert "+ rule 30 deny tcp source 100.65.0.0 0.0.255.255 destination-port eq smtp logging" in diff
        assert "+interface GigabitEthernet0/1/0.100\n+ traffic-filter inbound acl name OP25B-V4-79b17a7e" in diff
        s.discard()  # the dry run ends here
        assert emu.running_config == before
        s.load_candidate(rendered)
        s.commit(600)  # no timer on VRP: the seconds are ignored
        running = s.get_running()
        assert api.audit_text(dev, running).verdict is Verdict.COMPLIANT
        assert " rule 35 permit ip" in running and " rule 10 permit tcp source 2001:DB8:8000::/33" in running
        s.load_candidate(rendered)
        assert s.diff() == ""  # a re-run changes nothing
        s.discard()
        s.rollback()
        assert emu.running_config == before
        assert _body(s.get_running()).endswith(before)
    if emu.version == 8:
        assert "commit" in emu.commands and "rollback configuration last 1" in emu.commands
    else:
        assert "commit" not in emu.commands and "undo acl name OP25B-V4-79b17a7e" in emu.commands


def test_query_runs_a_display_command(emu: VrpEmulator) -> None:
    with _session(emu) as s:
        out = s.query("display version", lambda run: run("display version"))
    assert "VRP (R) software, Version" in out and "display version" not in out and f"<{DEVICE}>" not in out


def test_refused_line(emu: VrpEmulator) -> None:
    """A line the device refuses stops the commit. VRP8 clears the candidate (nothing applied); VRP5 applied
    the lines before it, and the roll-back takes them back."""
    emu.faults.reject_pattern = r"^traffic-filter inbound ipv6"
    before = emu.running_config
    with _session(emu) as s:
        s.load_candidate(api.render(_device(emu)))
        with pytest.raises(PushError, match="refused `traffic-filter inbound ipv6 acl name OP25B-V6-79b17a7e`"):
            s.commit(None)
        if emu.version == 8:
            assert emu.running_config == before
        else:
            assert "acl name OP25B-V4-79b17a7e advance" in emu.running_config  # applied line by line
            s.rollback()
            assert emu.running_config == before


def test_hung_commit_is_cut_by_the_deadline(emu: VrpEmulator) -> None:
    """The device stops answering at the commit: the call ends at --timeout (netmiko's read timeout or op25b's own
    deadline, whichever comes first) with a clear error."""
    emu.faults.hang_on = {"commit"}
    with _session(emu, timeout=8) as s:
        s.load_candidate(api.render(_device(emu)))
        with pytest.raises(ConnectionError_, match=r"no answer within 8s"):
            s.commit(None)
    emu.faults.release()


def test_wrong_password_is_a_clear_error(emu: VrpEmulator) -> None:
    emu.faults.wrong_password = True
    with pytest.raises(ConnectionError_, match="authentication failed") as err:
        _session(emu).open()
    assert emu.password not in str(err.value)


def test_cli_speaks_vrp(emu: VrpEmulator) -> None:
    """Prompts and errors as VRP prints them, through netmiko's own huawei driver."""
    conn = ConnectHandler(
        device_type="huawei", host=emu.host, port=emu.port, username=emu.username, password=emu.password
    )
    try:
        assert conn.find_prompt() == f"<{DEVICE}>"
        out = conn.send_command("system-view", expect_string=r"\]\s*$")
        mark = "~" if emu.version == 8 else ""
        assert out.rstrip().endswith(f"[{mark}{DEVICE}]") or conn.find_prompt() == f"[{mark}{DEVICE}]"
        conn.send_command("acl number 3001", expect_string=r"\]\s*$")
        assert conn.find_prompt() == f"[{'*' if emu.version == 8 else ''}{DEVICE}-acl-adv-3001]"
        assert UNRECOGNIZED in conn.send_command(
            "rule 5 permit tcp destination-port eq nosuchport", expect_string=r"\]\s*$"
        )
        conn.send_command("rule permit tcp destination-port eq 25", expect_string=r"\]\s*$")
        assert UNRECOGNIZED in conn.send_command("frobnicate", expect_string=r"\]\s*$")
        out = conn.send_command("commit", expect_string=r"\]\s*$")
        assert (UNRECOGNIZED in out) == (emu.version == 5)
        assert " rule 5 permit tcp destination-port eq smtp" in emu.running_config  # id 5: the default step
    finally:
        conn.disconnect()
