"""Validation of an inventory beyond the field types: pydantic errors in op25b's words (file, field, what is wrong,
how to fix it), and the checks across fields and files (unique pool names, overlaps, exemption scopes)."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from op25b_cfg.connection.credentials import is_secret_key
from op25b_cfg.errors import Problem, cut
from op25b_cfg.inventory_model import Policy, Scoped
from op25b_cfg.inventory_values import GROUPS_FILE, HOSTS_FILE, not_text
from op25b_cfg.netaddr import overlaps

log = logging.getLogger(__name__)


def _fmt_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _in_our_words(err: Any) -> tuple[str, str]:
    """``(message, fix)`` for one pydantic error, in op25b's words, with the bad value (cut) and a fix.

    >>> _in_our_words({"type": "literal_error", "input": "blok", "ctx": {"expected": "'block' or 'targeted'"}})
    ("'blok' is not allowed here.", "use one of: 'block' or 'targeted'")
    >>> _in_our_words({"type": "greater_than_equal", "input": 0, "ctx": {"ge": 1}})
    ('0 is too small (the minimum is 1).', 'use 1 or more')
    """
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    shown = cut(value, 60)
    if kind == "literal_error":
        return f"{shown!r} is not allowed here.", f"use one of: {ctx.get('expected', '')}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return "the list is empty." if not value else f"the list has too few entries ({len(value)}).", (
            f"list at least {n} entr{'y' if n == 1 else 'ies'}"
        )
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return f"{shown} is too small (the minimum is {bound}).", f"use {bound} or more"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        return f"{shown} is too large (the maximum is {bound}).", f"use {bound} or less"
    if kind == "string_type":
        what, _, fix = not_text("text", value).partition(". Fix: ")
        return what + ".", fix
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {shown!r}.", "write a whole number such as 587"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {shown!r}.", "write true or false"
    if kind == "list_type":
        return f"expected a list, got {shown!r}.", "write a YAML list, e.g. [587, 465]"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping, got {shown!r}.", "write a YAML mapping (key: value lines)"
    if kind == "missing":
        return "is required.", "add it"
    if kind == "extra_forbidden":
        return "is not a known key.", "remove it or check its spelling (see README: inventory schema)"
    return str(err.get("msg", kind)) + ".", ""


def problems_from(exc: ValidationError, file: str, prefix: str = "") -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = _fmt_loc(tuple(err["loc"]))
        where = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        msg = str(err["msg"])
        if msg.startswith("Value error, "):  # our own validators: already "what. Fix: how"
            msg, _, fix = msg[len("Value error, ") :].partition(". Fix: ")
            msg = cut(msg, 300) + ("" if msg.endswith(".") else ".")
        elif err["type"] == "extra_forbidden" and is_secret_key(loc.split(".")[-1]):
            msg = "credentials never live in inventory files."
            fix = "remove it; push reads OP25B_PASSWORD from the environment or prompts for it"
        else:
            msg, fix = _in_our_words(err)
        problems.append(Problem(file, where, msg, fix))
    return problems


def check_policy(policy: Policy, file: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, pool in enumerate(policy.pools):
        if pool.name in seen:
            problems.append(
                Problem(
                    file, f"pools[{i}].name", f"pool name '{pool.name}' is used twice.", "give each pool a unique name"
                )
            )
        seen[pool.name] = i
        if not pool.all():
            problems.append(
                Problem(file, f"pools[{i}]", f"pool '{pool.name}' has no prefixes.", "add ipv4 and/or ipv6 prefixes")
            )
    # overlapping pools (and duplicates inside one pool)
    flat = [
        (i, fam, k, net)
        for i, pool in enumerate(policy.pools)
        for fam in ("ipv4", "ipv6")
        for k, net in enumerate(getattr(pool, fam))
    ]
    for a in range(len(flat)):
        for b in range(a + 1, len(flat)):
            ia, _fa, _ka, na = flat[a]
            ib, fb, kb, nb = flat[b]
            if overlaps(na, nb):
                problems.append(
                    Problem(
                        file,
                        f"pools[{ib}].{fb}[{kb}]",
                        f"{nb} overlaps {na} of pool '{policy.pools[ia].name}'.",
                        "pools must not overlap; remove the duplicate or split the prefixes",
                    )
                )
    for fam in ("ipv4", "ipv6"):
        for k, mta in enumerate(getattr(policy.mtas, fam)):
            for pool in policy.pools:
                for net in pool.all():
                    if overlaps(mta, net):
                        problems.append(
                            Problem(
                                file,
                                f"mtas.{fam}[{k}]",
                                f"MTA {mta} lies inside dynamic pool '{pool.name}' ({net}).",
                                "an ISP relay must not sit in a subscriber pool; correct the MTA address or the pool",
                            )
                        )
    for i, port in enumerate(policy.submission_ports):
        if port == 25:
            problems.append(
                Problem(
                    file,
                    f"submission_ports[{i}]",
                    "25 cannot be a submission port (it is the port OP25B blocks).",
                    "use 587 and/or 465",
                )
            )
    if len(set(policy.submission_ports)) != len(policy.submission_ports):
        problems.append(Problem(file, "submission_ports", "a port is listed twice.", "list each port once"))
    names = [s.name for s in policy.exemptions.static]
    for i, name in enumerate(names):
        if names.index(name) != i:
            problems.append(
                Problem(
                    file, f"exemptions.static[{i}].name", f"exemption name '{name}' is used twice.", "use unique names"
                )
            )
    subs = [o.subscriber for o in policy.exemptions.opt_out]
    for i, sub in enumerate(subs):
        if subs.index(sub) != i:
            problems.append(
                Problem(
                    file,
                    f"exemptions.opt_out[{i}].subscriber",
                    f"subscriber '{sub}' is listed twice.",
                    "list each subscriber once, with one prefix",
                )
            )
    exempt = [(f"exemptions.static[{i}].prefix", s.prefix) for i, s in enumerate(policy.exemptions.static)] + [
        (f"exemptions.opt_out[{i}].prefix", o.prefix) for i, o in enumerate(policy.exemptions.opt_out)
    ]
    for where, pfx in exempt:
        for pool in policy.pools:
            for net in pool.all():
                if net.version == pfx.version and net.subnet_of(pfx):  # type: ignore[arg-type]
                    problems.append(
                        Problem(
                            file,
                            where,
                            f"{pfx} exempts all of pool '{pool.name}' ({net}).",
                            "remove that prefix from the pool instead of exempting the whole pool",
                        )
                    )
    if policy.mode == "targeted" and not policy.targeted.all():
        problems.append(
            Problem(
                file,
                "targeted",
                "mode is 'targeted' but no destination prefixes are listed.",
                "add targeted.ipv4 / targeted.ipv6 prefixes, or use mode: block",
            )
        )
    return problems


def check_exemption_scopes(policy: Policy, file: str, hosts: dict[str, Any], groups: dict[str, Any]) -> list[Problem]:
    """Every device and group an exemption names must exist."""
    problems: list[Problem] = []
    entries: list[tuple[str, int, Scoped]] = [("static", i, e) for i, e in enumerate(policy.exemptions.static)]
    entries += [("opt_out", i, e) for i, e in enumerate(policy.exemptions.opt_out)]
    for kind, i, entry in entries:
        for key, known, where in (("devices", hosts, HOSTS_FILE), ("groups", groups, GROUPS_FILE)):
            for k, name in enumerate(getattr(entry, key) or ()):
                if name not in known:
                    problems.append(
                        Problem(
                            file,
                            f"exemptions.{kind}[{i}].{key}[{k}]",
                            f"unknown {key[:-1]} {name!r}.",
                            f"use one defined in {where} ({', '.join(sorted(known)) or 'none defined'}),"
                            f" or remove {key} to apply the exemption on every device",
                        )
                    )
    return problems
