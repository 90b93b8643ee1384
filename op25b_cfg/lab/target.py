"""Lab targets: an inventory whose devices are the namespace lab's bras, and ready-made push arguments.

:func:`write_inventory` writes an inventory (the bundled policy, one device per mode) pointing at a running
:class:`~op25b_cfg.lab.netns.Lab`; :func:`push_target` returns the ``(device, credentials, options)`` a push
or a live audit needs, with the host key verified against the lab's known_hosts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from op25b_cfg.connection.base import ConnectOptions, Credentials
from op25b_cfg.inventory import Device, load_inventory
from op25b_cfg.lab.netns import SUBSCRIBER_IFACES, Lab
from op25b_cfg.platforms.linux_nftables import LinuxNftables

__all__ = ["lab_hosts", "push_target", "write_inventory"]

BUNDLED_POLICY = Path(__file__).resolve().parent.parent.parent / "inventory" / "policy.yaml"

LAB_POLICY = """\
# The bundled example policy (inventory/policy.yaml); the lab's addresses are chosen to match it.
name: example-isp-op25b
description: Example ISP outbound port 25 blocking
mode: block
submission_ports: [587, 465]
log: true
counters: true
flow_control: {max_sessions: 10, new_per_second: 1, burst: 5, ipv6_subscriber_length: 64}
pools:
  - {name: DYN-TOKYO, description: PPPoE dynamic pool Tokyo, ipv4: [100.64.0.0/16]}
  - {name: DYN-OSAKA, description: IPoE dynamic pool Osaka, ipv4: [100.65.0.0/16]}
  - {name: DYN-V6, description: IPv6 subscriber delegations, ipv6: ["2001:db8:8000::/33"]}
mtas: {ipv4: [192.0.2.25, 192.0.2.26], ipv6: ["2001:db8:25::25"]}
exemptions:
  static:
    - {name: ACME-STATIC, prefix: 100.64.200.0/24, description: ACME Corp static block inside the Tokyo pool}
  opt_out:
    - {subscriber: cust-4711, prefix: 100.65.3.7}
    - {subscriber: cust-4711-v6, prefix: "2001:db8:8000:4711::/64"}
targeted: {ipv4: [198.51.100.0/24], ipv6: ["2001:db8:ffff::/48"]}
"""


def lab_hosts(lab: Lab, extra: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """hosts.yaml content: one device per mode (``lab-bras`` block, ``lab-bras-targeted``,
    ``lab-bras-flow``), all pointing at the lab's bras, plus ``extra`` devices (``data`` overrides)."""
    modes = {"lab-bras": {"mode": "block"}, "lab-bras-targeted": {"mode": "targeted"}}
    modes["lab-bras-flow"] = {"mode": "flow-control"}
    modes.update(extra or {})
    hosts: dict[str, Any] = {}
    for name, data in modes.items():
        hosts[name] = {
            "hostname": lab.mgmt_bras_ip,
            "port": lab.ssh_port,
            "platform": LinuxNftables.name,
            "data": {
                "description": "op25b namespace lab bras",
                "pools": ["DYN-TOKYO", "DYN-V6"],
                "attach": [{"kind": "nft-forward", "name": SUBSCRIBER_IFACES, "direction": "in"}],
                **data,
            },
        }
    return hosts


def write_inventory(
    lab: Lab, dest: Path | None = None, extra: dict[str, dict[str, Any]] | None = None, policy: Path | None = None
) -> Path:
    """Write an inventory for the lab (policy: ``policy`` or the bundled one) to ``dest``
    (default ``<workdir>/inventory``); returns the directory."""
    dest = dest or lab.inventory_dir
    dest.mkdir(parents=True, exist_ok=True)
    src = policy or BUNDLED_POLICY
    text = src.read_text(encoding="utf-8") if src.is_file() else LAB_POLICY
    (dest / "policy.yaml").write_text(text, encoding="utf-8")
    header = "# op25b lab devices: every one is the lab's bras; no credentials here (OP25B_USERNAME/PASSWORD).\n"
    (dest / "hosts.yaml").write_text(header + yaml.safe_dump(lab_hosts(lab, extra), sort_keys=False), encoding="utf-8")
    return dest


def push_target(
    lab: Lab, device: str = "lab-bras", extra: dict[str, dict[str, Any]] | None = None, timeout: float = 20.0
) -> tuple[Device, Credentials, ConnectOptions]:
    """``(device, credentials, options)`` for a push or live audit against the lab's bras, host key verified
    against the lab's known_hosts. ``device`` is one of :func:`lab_hosts` (or of ``extra``)."""
    inv = load_inventory(write_inventory(lab, extra=extra))
    creds = Credentials(username=lab.username, password=lab.password())
    opts = ConnectOptions(timeout=timeout, verify_host_key=True, known_hosts=str(lab.known_hosts))
    return inv.devices[device], creds, opts
