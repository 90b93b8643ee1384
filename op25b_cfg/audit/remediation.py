"""Remediation: the change, in the platform's own syntax, that takes a device's running OP25B part to its intent.

Computed once per device from the parsed models, not from text: an intended filter whose rules mean the same as
the running one's (``eq smtp`` / ``eq 25``, address case, ``host X`` / ``X/128``, a Junos prefix-list already
there) is not touched. In order:

1. the OP25B objects that are missing or differ, as rendered by ``op25b generate`` (Cisco-family: the whole block,
   preceded by its removal when a different one of that name runs; Junos: ``delete`` + ``set`` statements of that
   filter, prefix-list or policer; class-maps and policy-maps when the running flow control differs);
2. the intended attachment lines that do not run (an attachment of the same slot is replaced by them);
3. the removal of what the intent no longer uses: the stale attachment lines and old-version objects of the
   push clean-up planner (:func:`op25b_cfg.push.cleanup_plan` / :func:`op25b_cfg.push.removal_config`).

Linux nftables: the op25b table is replaced as a whole (the rendered script) when anything in it differs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from op25b_cfg.audit.engine import _flat_rules
from op25b_cfg.audit.model import Filter, ParsedConfig
from op25b_cfg.inventory import Attachment
from op25b_cfg.push import ConfigLine, _block_end, _config_lines, cleanup_plan, removal_config

log = logging.getLogger(__name__)

_CISCO_OBJECTS = ("ip access-list", "ipv4 access-list", "ipv6 access-list")
_QOS = ("class-map", "policy-map")


def same_filter(want: Filter, have: Filter | None) -> bool:
    """Whether the running filter ``have`` decides every packet as the intended ``want`` does, rule by rule."""
    if have is None or have.default != want.default:
        return False
    return [k for _, k in _flat_rules(want)] == [k for _, k in _flat_rules(have)]


def changed_filters(intended: ParsedConfig, running: ParsedConfig) -> set[str]:
    """Names of the intended filters that are missing in ``running`` or decide differently there."""
    return {name for (fam, name), want in intended.filters.items() if not same_filter(want, running.filter(fam, name))}


def missing_bindings(intended: ParsedConfig, running: ParsedConfig) -> set[tuple[str, str]]:
    """(attachment name, filter name) of every intended binding that does not run as intended."""
    have = {(b.kind, b.name, b.direction, b.family, b.filters) for b in running.bindings}
    return {
        (b.name, f)
        for b in intended.bindings
        if (b.kind, b.name, b.direction, b.family, b.filters) not in have
        for f in b.filters
    }


def _flow_differs(intended: ParsedConfig, running: ParsedConfig) -> bool:
    def key(p: ParsedConfig) -> set[tuple[object, ...]]:
        return {
            (f.binding_kind, f.binding_name, f.direction, f.family, f.max_sessions, f.new_per_second, f.burst)
            for f in p.flow
        }

    return not key(intended) <= key(running)


def _cisco_change(rendered: str, platform: str, intended: ParsedConfig, running: ParsedConfig) -> list[str]:
    """Objects and attachment lines (Cisco-family text) that the running config lacks, in rendered order."""
    lines = _config_lines(platform, rendered)
    changed = changed_filters(intended, running)
    attach = missing_bindings(intended, running)
    flow = _flow_differs(intended, running)
    objects: list[str] = []
    attachments: list[str] = []
    pos = 0
    while pos < len(lines):
        head = lines[pos]
        end = _block_end(lines, pos)
        block = lines[pos : end + 1]
        pos = end + 1
        words = head.text.split()
        name = words[-1] if words else ""
        if head.text.startswith(_CISCO_OBJECTS):
            if name in changed:
                if running.filter(4, name) is not None or running.filter(6, name) is not None:
                    objects.append(f"no {head.text}")
                objects.extend(_indented(block))
        elif head.text.startswith(_QOS):
            if flow:
                objects.extend(_indented(block))
        else:  # an attachment block: only its lines that bind a filter the running config does not bind there
            want = [
                ln
                for ln in block[1:]
                if any(f in ln.text.split() for a, f in attach if _names(head, ln, a))
                or (flow and ln.text.startswith("service-policy "))
            ]
            if want:
                attachments.extend(_with_parents(want))
    return objects + attachments


def _names(head: ConfigLine, ln: ConfigLine, attachment: str) -> bool:
    """Whether ``ln`` (inside the block headed ``head``) sits in the attachment called ``attachment``."""
    headers = [head.text, *ln.parents]
    return any(h.split()[-1] == attachment for h in headers if h)


def _indented(block: Sequence[ConfigLine]) -> list[str]:
    base = len(block[0].parents)
    return [" " * (len(ln.parents) - base) + ln.text for ln in block]


def _with_parents(lines: Sequence[ConfigLine]) -> list[str]:
    out: list[str] = []
    opened: tuple[str, ...] = ()
    for ln in lines:
        if ln.parents != opened:
            common = 0
            while common < min(len(opened), len(ln.parents)) and opened[common] == ln.parents[common]:
                common += 1
            out.extend(" " * d + h for d, h in enumerate(ln.parents) if d >= common)
            opened = ln.parents
        out.append(" " * len(ln.parents) + ln.text)
    return out


def _junos_change(rendered: str, running_text: str, intended: ParsedConfig, running: ParsedConfig) -> list[str]:
    """``delete`` / ``set`` statements for the OP25B objects and attachments that differ."""
    from op25b_cfg.dialects.junos import read

    want = [p for s in read(rendered).stmts if not s.inactive for p in _one_value(s.path)]
    have = {p for s in read(_object_sections(running_text)).stmts if not s.inactive for p in _one_value(s.path)}
    changed = changed_filters(intended, running)
    missing = missing_bindings(intended, running)
    objects: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    leaves: list[tuple[str, ...]] = []
    for path in want:
        obj = _junos_object(path)
        if obj is not None:
            objects.setdefault(obj, []).append(path)
        else:
            leaves.append(path)
    out: list[str] = []
    for obj, paths in objects.items():
        kind, name = obj[-2], obj[-1]
        present = [p for p in have if p[: len(obj)] == obj]
        # a filter by its meaning; a prefix-list or policer by its statements (a set: their order is free)
        differs = name in changed if kind == "filter" else set(paths) != set(present)
        if differs:
            if present:
                out.append("delete " + _set_path(obj))
            out.extend("set " + _set_path(p) for p in paths)
    out.extend("set " + _set_path(p) for p in leaves if _binds(p, missing))
    return out


def _binds(path: tuple[str, ...], missing: set[tuple[str, str]]) -> bool:
    """Whether the attachment statement ``path`` (``interfaces IFD unit N ... filter input F``, ``dynamic-profiles
    P ... filter input F``) binds a filter the running config does not bind there (from the parsed bindings)."""
    where = {path[1], f"{path[1]}.{path[3]}" if len(path) > 3 else path[1]}
    return any(f == path[-1] and a in where for a, f in missing)


def _object_sections(text: str) -> str:
    """The ``policy-options`` and ``firewall`` parts of a Junos config (brace blocks and set/delete/deactivate
    commands): all the remediation compares statement by statement. One pass over the lines, so a large BNG
    config is not read a second time (its bindings come from the parsed model)."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if inside:
            out.append(line)
            inside = line != "}"
        elif line.startswith(("policy-options {", "firewall {")):
            out.append(line)
            inside = True
        elif line.split(" ", 2)[1:2] in (["policy-options"], ["firewall"]):
            out.append(line)
    return "\n".join(out) + "\n"


def _one_value(path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """A statement whose value is a list (``destination-port [ 587 465 ]``) as one statement per value.

    >>> _one_value(("term", "t", "from", "destination-port", "[ 587 465 ]"))
    [('term', 't', 'from', 'destination-port', '587'), ('term', 't', 'from', 'destination-port', '465')]
    """
    last = path[-1] if path else ""
    if not (last.startswith("[") and last.endswith("]")):
        return [path]
    return [(*path[:-1], v) for v in last[1:-1].split()]


def _set_path(path: tuple[str, ...]) -> str:
    """A statement path in ``set`` syntax (words with ``$``, blanks or quotes quoted).

    >>> _set_path(("interfaces", "pp0", "unit", "$junos-interface-unit", "family", "inet"))
    'interfaces pp0 unit "$junos-interface-unit" family inet'
    """
    return " ".join(w if not any(c in w for c in ' $";{}#') else '"' + w.replace('"', '\\"') + '"' for w in path)


def _junos_object(path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The object a statement belongs to (``... filter NAME``, ``policy-options prefix-list NAME``,
    ``firewall policer NAME``), or None for an attachment statement."""
    if path[:1] == ("interfaces",) or "interfaces" in path[:3]:
        return None
    for kind in ("filter", "prefix-list", "policer"):
        if kind in path:
            i = path.index(kind)
            if i + 1 < len(path):
                return path[: i + 2]
    return None


def plan(
    platform: str,
    rendered: str,
    intended: ParsedConfig,
    running: ParsedConfig,
    running_text: str,
    attach: Sequence[Attachment],
    version: str,
) -> str:
    """The remediation of one device ('' when the running OP25B part already is the intent)."""
    if platform == "linux_nftables":
        same = not changed_filters(intended, running) and not missing_bindings(intended, running)
        return "" if same else rendered
    if platform == "juniper_junos":
        change = _junos_change(rendered, running_text, intended, running)
    else:
        change = _cisco_change(rendered, platform, intended, running)
    refs, objs = cleanup_plan(platform, running_text, version, attach, candidate=rendered)
    removal = removal_config(platform, objs, refs)  # Cisco-family: ends with `end`
    if change and not removal and platform != "juniper_junos":
        change.append("end")
    return "".join(ln + "\n" for ln in change) + removal
