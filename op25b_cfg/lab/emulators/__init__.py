"""Device emulators that speak the real management protocols, for driving the real napalm drivers.

Start API (every emulator)::

    from op25b_cfg.lab.emulators import Faults
    from op25b_cfg.platforms.arista_eos.emulator import EosEmulator

    with EosEmulator(initial_config=text, hostname="edge-osa-eos1", faults=Faults(), timer_scale=1.0) as emu:
        driver = napalm.get_network_driver("eos")(
            emu.host, emu.username, emu.password, timeout=10, optional_args=emu.napalm_optional_args()
        )
        driver.open(); ...
        emu.running_config      # the device's running config text, read at any time (thread-safe)
        emu.pending_commit()    # True while a commit-confirm / revert timer runs
        emu.commands            # every command / RPC name the client sent, in order
        emu.faults.drop_on = {"commit"}   # faults may change while it runs

- Listens on 127.0.0.1, port chosen at start (``emu.port``); ``emu.username``/``emu.password`` are random
  per instance unless given; ``repr(emu)`` never shows the password. ``stop()`` (or leaving the ``with``)
  closes the listener and every connection and cancels timers.
- ``initial_config``: the running config at start; each module has ``default_config(hostname)`` (used when
  empty) with what the napalm driver needs (ios: ``archive``/``path`` and ``ip scp server enable``).
- ``timer_scale``: multiplies commit-confirm timers so tests can watch an automatic revert (0.01 turns
  5 minutes into 3 s); the device still reports the full time to the client.
- ``Faults`` (see :mod:`.faults`): ``wrong_password``, ``drop_on={phases}`` (+ ``drop_after_apply``),
  ``hang_on={phases}`` (+ ``release()``), ``reject_pattern`` (regex of a config line the device refuses).
  Phases: ``open``, ``load``, ``commit``, ``confirm``.
- SSH emulators (junos, ios, iosxr) share one ECDSA host key per process; ``emu.known_hosts_line()`` and
  ``emu.write_known_hosts(path)`` give a known_hosts that trusts it.

napalm ``optional_args`` (``emu.napalm_optional_args()`` returns the first form):

- eos: ``{"transport": "http", "port": emu.port}`` (eAPI over plain HTTP; no host key exists).
- junos: ``{"port": emu.port}``. napalm's junos driver never checks host keys; to check them set
  ``driver.device._hostkey_verify = True`` before ``open()`` and pass ``ssh_config_file`` naming a file with
  ``Host *`` / ``UserKnownHostsFile <known_hosts>``.
- ios: ``{"port": emu.port, "dest_file_system": "flash:", "ssh_strict": False, "fast_cli": True}``; for
  strict host keys: ``ssh_strict=True, system_host_keys=False, alt_host_keys=True, alt_key_file=<path>``.
  ``read_timeout_override`` (seconds) bounds how long netmiko waits on a dead or silent device
  (napalm's commit waits up to 90 s otherwise).
- iosxr: ``{"port": emu.port, "ssh_strict": False}`` (same netmiko host-key and read-timeout options).

Platform notes: eos has commit timers (``revert_in``), junos ``commit confirmed`` (``revert_in`` a multiple of
60; napalm's ``rollback()`` is Junos ``rollback 1``, so after a *confirmed* commit it re-applies the same
config — roll back before confirming), ios ``configure terminal revert timer`` (archive), iosxr none
(napalm raises NotImplementedError for ``revert_in``: commit, audit, roll back).
"""

from __future__ import annotations

from op25b_cfg.lab.emulators.faults import PHASES, Faults

__all__ = ["PHASES", "Faults"]
