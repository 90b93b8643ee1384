"""The semantic engine: does the running config enforce the device's OP25B intent?

Contract (implemented by the engine work of issue 3)::

    audit_parsed(device: Device, parsed: ParsedConfig, running_text: str, source: str = "") -> DeviceReport
    audit_text(device: Device, text: str, source: str = "") -> DeviceReport   # parse + audit_parsed
"""

from __future__ import annotations
