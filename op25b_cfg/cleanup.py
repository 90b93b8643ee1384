"""Make-before-break clean-up and drift: find op25b's own objects in a running config, decide which old ones nothing
references any more, render their removal, and tell whether the intent is in place.

Everything here reads and writes configs through the platform's :class:`~op25b_cfg.dialects.base.ConfigDialect`;
a platform whose session replaces what op25b owns at once (``Platform.atomic_replace``, the nftables table) has
nothing to clean up object by object.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from op25b_cfg.dialects.base import OBJECT_NAME, ConfigDialect, ConfigLine, Reference
from op25b_cfg.platforms import get_platform

if TYPE_CHECKING:
    from op25b_cfg.inventory import Attachment

# ---------------------------------------------------------------------------------------------------------------
# Old OP25B objects: find them in a running config, decide which are unreferenced, render their removal.


@dataclass(frozen=True)
class OldObject:
    """An OP25B object of another version: its name, kind and the command that removes it."""

    name: str
    kind: str
    version: str
    remove: str
    first: int  # line range [first, last] of its definition in the running config
    last: int


@dataclass(frozen=True)
class StaleReference(Reference):
    """A line inside an intended attachment that still points at an OP25B object of another version, in a
    slot the current intent does not fill: e.g. the flow-control ``service-policy input OP25B-FC-<old>`` left
    on a Virtual-Template after a switch to block mode (a merge adds ``ip access-group`` but never removes
    the policy), or ``ipv6 traffic-filter OP25B-V6-<old>`` after IPv6 left the intent. Fields: ``name`` the
    OP25B object it references, ``text`` the line (stripped), ``parents`` the headers of the enclosing blocks,
    ``index`` its line number in the running config."""


def _slot(text: str, name: str) -> str:
    """The line with the object name replaced by ``*``: two lines with the same slot replace each other."""
    return " ".join("*" if w == name else w for w in text.split())


def _old_name(text: str, keep_version: str) -> str | None:
    """The first OP25B object name of another version than ``keep_version`` on one line (whole words only)."""
    for word in text.split():
        m = OBJECT_NAME.fullmatch(word.strip(";\"'"))
        if m and m["version"] != keep_version:
            return m.group(0)
    return None


def _references(
    dialect: ConfigDialect, lines: list[ConfigLine], keep_version: str, attach: Sequence[Attachment]
) -> list[tuple[int, StaleReference]]:
    """(position in ``lines``, reference) of every old-version OP25B reference inside an intended attachment."""
    out = []
    for pos, ln in enumerate(lines):
        if not ln.parents or "OP25B-" not in ln.text:
            continue
        name = _old_name(ln.text, keep_version)
        if name and dialect.in_attachment(ln.parents, attach):
            out.append((pos, StaleReference(name, ln.text, ln.parents, ln.index)))
    return out


def _unreferenced(
    dialect: ConfigDialect, lines: list[ConfigLine], keep_version: str, gone: set[int]
) -> list[tuple[int, int, str, str]]:
    """Definitions (see :meth:`ConfigDialect.definitions`) of old-version objects that no line outside themselves (and
    outside ``gone``, positions of lines that are going away) references."""
    cands = {
        i: d
        for i, d in enumerate(dialect.definitions(lines))
        if (m := OBJECT_NAME.fullmatch(d[3])) and m["version"] != keep_version
    }
    if not cands:
        return []
    # one scan of the config: the positions of the lines that name each candidate (as a whole word)
    names = sorted({d[3] for d in cands.values()}, key=len, reverse=True)
    word = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    refs: dict[str, list[int]] = {}
    for pos, ln in enumerate(lines):
        for m in word.finditer(ln.text):
            refs.setdefault(m[1], []).append(pos)
    changed = True
    while changed:
        changed = False
        inside = set(gone)
        for first, last, _, _ in cands.values():
            inside.update(range(first, last + 1))
        for i in list(cands):
            if any(pos not in inside for pos in refs.get(cands[i][3], ())):
                del cands[i]
                changed = True
                break
    return list(cands.values())


def cleanup_plan(
    platform: str,
    running: str,
    keep_version: str,
    attach: Sequence[Attachment] = (),
    candidate: str | None = None,
) -> tuple[list[StaleReference], list[OldObject]]:
    """What the make-before-break clean-up removes once the intent of ``keep_version`` is in place:

    - stale references: lines in the intended attachments (``attach``) that point at an OP25B object of
      another version. With ``candidate`` (the dry-run preview, before the merge), a reference whose slot
      the candidate fills (``ip access-group * in`` re-pointed to the new filter) is not stale: the merge
      replaces it. Without it (after the commit), every remaining old-version reference there is stale.
    - old objects: OP25B objects of another version that nothing references once those lines are gone,
      in the order they can be removed (users before the things they use). References from inside other
      removable objects do not count (an old class-map used only by an old policy-map goes with it).

    A platform whose session replaces what op25b owns at once (``atomic_replace``: the nftables table):
    always nothing. Fast when the config holds no other version.

    >>> cfg = "interface Virtual-Template1\\n service-policy input OP25B-FC-0000aaaa\\n"
    >>> from op25b_cfg.inventory import Attachment
    >>> vt = [Attachment(kind="virtual-template", name="Virtual-Template1", direction="in")]
    >>> refs, objs = cleanup_plan("cisco_ios", cfg, "1111bbbb", vt)
    >>> [r.text for r in refs], objs
    (['service-policy input OP25B-FC-0000aaaa'], [])
    """
    dialect = _dialect(platform)
    if dialect is None or not any(m["version"] != keep_version for m in OBJECT_NAME.finditer(running)):
        return [], []
    lines = dialect.lines(running)
    refs = _references(dialect, lines, keep_version, attach)
    gone = {pos for pos, _ in refs}
    if candidate is not None:
        filled = {
            (ln.parents, _slot(ln.text, name))
            for ln in dialect.lines(candidate)
            for name in (m.group(0) for m in OBJECT_NAME.finditer(ln.text))
        }
        refs = [(pos, r) for pos, r in refs if (r.parents, _slot(r.text, r.name)) not in filled]
    kept = {pos for pos, r in refs if not dialect.removable_reference(r)}
    gone -= kept
    refs = [(pos, r) for pos, r in refs if pos not in kept]
    objects = []
    for first, last, kind, name in _unreferenced(dialect, lines, keep_version, gone):
        version = OBJECT_NAME.fullmatch(name)["version"]  # type: ignore[index]
        remove = dialect.remove_object(kind, name, lines[first].parents)
        objects.append(
            OldObject(name, dialect.object_kind(kind), version, remove, lines[first].index, lines[last].index)
        )
    order = dialect.removal_order
    objects.sort(key=lambda o: (order.get(o.kind, 9), o.first))
    return [r for _, r in refs], objects


def _dialect(platform: str) -> ConfigDialect | None:
    """The dialect the clean-up reads; None where the platform's session replaces what op25b owns at once."""
    spec = get_platform(platform)
    return None if spec.atomic_replace else spec.dialect


def removal_config(platform: str, objects: Sequence[OldObject], references: Sequence[StaleReference] = ()) -> str:
    """The merge candidate that removes ``references`` (first: they use the objects) and then ``objects``
    ('' for none), in the platform's dialect."""
    if not objects and not references:
        return ""
    dialect = get_platform(platform).dialect
    assert dialect is not None, f"{platform} has objects to remove but no dialect"
    lines = dialect.remove_references(references)
    lines.extend(o.remove for o in objects)
    lines.extend(dialect.epilogue)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Is the intent in place? Drift of OP25B-owned objects, and the fresh names a repair uses.

MAX_REPAIRS = 16
_PORT_OPS = frozenset({"eq", "neq", "lt", "gt", "range"})
_HEXCOLON = re.compile(r"[0-9a-fA-F:.]*:[0-9a-fA-F:.]*(?:/\d+)?")


def _canon_address(word: str) -> str:
    addr, slash, length = word.partition("/")
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return word
    return f"{ip.compressed}/{length}" if slash else ip.compressed


def canonical_line(text: str) -> str:
    """One config line in a form that does not depend on how a device prints it, so what op25b renders and
    what the device shows compare equal: sequence numbers dropped, port names as numbers (``eq smtp`` is
    ``eq 25``), ``host X`` and ``X 0.0.0.0`` as ``X/32`` (``/128``), IPv6 addresses lower-case and compressed.

    >>> canonical_line("30 permit tcp 2001:DB8:8000::/33 host 2001:DB8:25::25 eq smtp log sequence 30")
    'permit tcp 2001:db8:8000::/33 2001:db8:25::25/128 eq 25 log'
    >>> canonical_line("permit tcp 100.64.0.0 0.0.255.255 192.0.2.25 0.0.0.0 eq smtp")
    'permit tcp 100.64.0.0 0.0.255.255 192.0.2.25/32 eq 25'
    >>> canonical_line("permit tcp 100.64.0.0 0.0.255.255 host 192.0.2.25 range smtp 26") == canonical_line(
    ...     "permit tcp 100.64.0.0 0.0.255.255 192.0.2.25/32 range 25 26")
    True
    >>> canonical_line("interface Virtual-Template1")
    'interface Virtual-Template1'
    """
    from op25b_cfg.dialects.cisco import PORT_NAMES  # the one list of port keywords (IOS, XR, EOS)

    words = text.split()
    if words and words[0].isdigit():
        words = words[1:]
    if len(words) >= 2 and words[-2] == "sequence" and words[-1].isdigit():
        words = words[:-2]
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w == "host" and i + 1 < len(words):
            addr = _canon_address(words[i + 1])
            out.append(f"{addr}/128" if ":" in addr else f"{addr}/32")
            i += 2
            continue
        if i + 1 < len(words) and words[i + 1] == "0.0.0.0" and w.count(".") == 3 and w.replace(".", "").isdigit():
            out.append(f"{w}/32")
            i += 2
            continue
        if (i and words[i - 1] in _PORT_OPS) or (i > 1 and words[i - 2] == "range"):
            w = str(PORT_NAMES.get(w, w))
        elif ":" in w and _HEXCOLON.fullmatch(w):
            w = _canon_address(w)
        out.append(w)
        i += 1
    return " ".join(out)


def _body(lines: list[ConfigLine], first: int, last: int) -> list[tuple[int, str]]:
    return [(len(ln.parents), canonical_line(ln.text)) for ln in lines[first + 1 : last + 1]]


def drifted_objects(platform: str, running: str, candidate: str) -> list[str]:
    """Names of the OP25B objects ``candidate`` defines that ``running`` holds with other contents (an extra
    ``permit tcp any any eq 25`` inside the filter, an entry missing or moved). A merge never removes such an
    entry and the name is fixed by the intent's version, so these need a repair under a fresh name.

    >>> cand = "ip access-list extended OP25B-V4-0000aaaa\\n deny tcp 10.0.0.0 0.255.255.255 any eq 25\\n"
    >>> cand += " permit ip any any\\n"
    >>> drifted_objects("cisco_ios", cand.replace("eq 25", "eq smtp"), cand)
    []
    >>> drifted_objects("cisco_ios", cand.replace(" deny", " permit tcp any any eq smtp\\n deny"), cand)
    ['OP25B-V4-0000aaaa']
    >>> pl = "policy-options {\\n prefix-list OP25B-POOL-V4-0000aaaa {\\n 10.0.0.0/8;\\n 100.64.0.0/10;\\n }\\n}\\n"
    >>> swapped = pl.replace("10.0.0.0/8;\\n 100", "100").replace("/10;", "/10;\\n 10.0.0.0/8;")
    >>> drifted_objects("juniper_junos", swapped, pl)  # a prefix list is a set
    []
    """
    dialect = _dialect(platform)
    if dialect is None or "OP25B-" not in running:
        return []
    cand = dialect.lines(candidate)
    wanted = dialect.definitions(cand)
    names = {d[3] for d in wanted}
    if not any(m.group(0) in names for m in OBJECT_NAME.finditer(running)):
        return []
    run = dialect.lines(running)
    have = {name: (first, last) for first, last, _, name in dialect.definitions(run)}
    out = []
    for first, last, kind, name in wanted:
        at = have.get(name)
        if at is None:
            continue
        ours, theirs = _body(cand, first, last), _body(run, *at)
        if kind in dialect.set_kinds:  # a set: a device may print it in its own order
            ours, theirs = sorted(ours), sorted(theirs)
        if ours != theirs:
            out.append(name)
    return out


def in_place(platform: str, running: str, candidate: str) -> bool:
    """True when every line of ``candidate`` is in ``running`` under the same block headers, compared in
    :func:`canonical_line` form: the intent is in place even where the device's own diff is textual (IOS
    ``show archive config incremental-diffs`` lists ``eq 25`` against a running ``eq smtp``).

    >>> cand = "ipv6 access-list OP25B-V6-0000aaaa\\n permit tcp any 2001:db8::25/128 eq 25\\n"
    >>> in_place("cisco_ios", "ipv6 access-list OP25B-V6-0000aaaa\\n permit tcp any host 2001:DB8::25 eq smtp\\n", cand)
    True
    >>> in_place("cisco_ios", "ipv6 access-list OP25B-V6-0000aaaa\\n permit tcp any any eq smtp\\n", cand)
    False
    """
    dialect = _dialect(platform)
    if dialect is None:  # its session diffs what op25b owns itself
        return False
    cand = dialect.lines(candidate)
    tops = {ln.parents[0] if ln.parents else ln.text for ln in cand}

    def key(ln: ConfigLine) -> tuple[tuple[str, ...], str]:
        return tuple(canonical_line(p) for p in ln.parents), canonical_line(ln.text)

    have = {key(ln) for ln in dialect.lines(running) if (ln.parents[0] if ln.parents else ln.text) in tops}
    return all(key(ln) in have for ln in cand)


def repair_versions(version: str) -> list[str]:
    """The versions a repair of ``version``'s objects takes, in order: fresh object names derived
    deterministically from the intent's version (so a re-run recognises a repaired device as in place).

    >>> v = repair_versions("b1a88b08")
    >>> len(v), v == repair_versions("b1a88b08"), all(len(x) == 8 and x != "b1a88b08" for x in v)
    (16, True, True)
    """
    return [hashlib.sha256(f"{version}:repair:{k}".encode()).hexdigest()[:8] for k in range(1, MAX_REPAIRS + 1)]


def active_version(running: str, version: str) -> tuple[str, str | None]:
    """(the version of ``version``'s repair chain the device uses, the next fresh one or None when used up).

    >>> v, r = "0000aaaa", repair_versions("0000aaaa")
    >>> active_version("ip access-list extended OP25B-V4-0000aaaa", v) == (v, r[0])
    True
    >>> active_version(f"ip access-list extended OP25B-V4-{r[0]}", v) == (r[0], r[1])
    True
    """
    chain = [version, *repair_versions(version)]
    present = {m["version"] for m in OBJECT_NAME.finditer(running)}
    used = max((k for k, x in enumerate(chain) if x in present), default=0)
    return chain[used], chain[used + 1] if used + 1 < len(chain) else None
