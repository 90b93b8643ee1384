"""The one YAML reader of op25b's input files: safe, strict and fast.

:func:`load_yaml` builds Python data straight from libyaml's event stream (PyYAML's C parser), skipping
PyYAML's node graph and its Python constructor, which cost about 9 of every 10 seconds of a large inventory.
Scalars resolve exactly as PyYAML's ``SafeLoader`` resolves them (YAML 1.1), so values do not change meaning.
On top of that it refuses, with the line number:

* a key given twice in one mapping (PyYAML silently keeps the last one: a second host entry or ``mtas:``
  block would win);
* a document whose aliases expand to more than :data:`MAX_NODES` values (an "alias bomb" is refused as soon as
  an alias crosses the bound, in milliseconds, instead of being expanded by whatever walks the data later);
* explicit tags other than the YAML core ones (``!!python/...`` and custom tags).

Merge keys (``<<: *anchor``) work as in PyYAML: keys written in the mapping win over merged ones.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml import events as ev
from yaml.events import ScalarEvent

from op25b_cfg.errors import cut

MAX_NODES = 2_000_000
"""Upper bound on the values a document holds once aliases are expanded (a 10,000-host inventory: ~400,000)."""

_PARSER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers
_CORE = "tag:yaml.org,2002:"
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_BOOL = {k: v for k, v in _CONSTRUCTOR.bool_values.items()}
_CONSTRUCT = {
    _CORE + "int": _CONSTRUCTOR.construct_yaml_int,
    _CORE + "float": _CONSTRUCTOR.construct_yaml_float,
    _CORE + "timestamp": _CONSTRUCTOR.construct_yaml_timestamp,
    _CORE + "binary": _CONSTRUCTOR.construct_yaml_binary,
}
_NOKEY = object()
_MERGE = object()  # the merge key ``<<`` (a quoted "<<" is an ordinary key)


class YamlProblem(Exception):
    """The file is not acceptable YAML: ``line`` (1-based, 0 when unknown), ``message`` and ``fix``."""

    def __init__(self, line: int, message: str, fix: str) -> None:
        super().__init__(f"line {line}: {message} Fix: {fix}")
        self.line, self.message, self.fix = line, message, fix


def _scalar(e: ev.ScalarEvent) -> Any:
    """The value of a scalar event, resolved as PyYAML's SafeLoader resolves it."""
    value: str = e.value
    tag = e.tag
    if tag is None or tag == "!":
        if e.style or not e.implicit[0] or tag == "!":
            return value  # quoted or block scalar: always text
        resolvers = _RESOLVERS.get(value[:1] if value else "")
        if resolvers is None:
            return value
        for rtag, regexp in resolvers:
            if regexp.match(value):
                tag = rtag
                break
        else:
            return value
    if tag == _CORE + "str":
        return value
    if tag == _CORE + "null":
        return None
    if tag == _CORE + "bool":
        return _BOOL[value.lower()]
    if tag == _CORE + "merge":
        return _MERGE
    if tag == _CORE + "int" and value.isdigit() and (value[0] != "0" or value == "0"):
        return int(value)
    construct = _CONSTRUCT.get(tag)
    if construct is None:
        raise YamlProblem(
            _line(e),
            f"the tag {cut(tag, 40)!r} is not allowed.",
            "remove the tag; op25b reads plain YAML (text, numbers, true/false, lists, mappings)",
        )
    try:
        return construct(yaml.ScalarNode(tag, value))
    except (yaml.YAMLError, ValueError) as exc:
        raise YamlProblem(
            _line(e), f"{cut(value, 40)!r} is not a valid {tag[len(_CORE) :]} ({exc}).", "quote it"
        ) from None


def _line(e: Any) -> int:
    """The 1-based line an event starts on."""
    return int(e.start_mark.line) + 1


def _mark_line(mark: Any) -> int:
    """The 1-based line of a libyaml mark (kept instead of the line itself until a message needs it)."""
    return int(mark.line) + 1


def _size(value: Any, sizes: dict[int, int]) -> int:
    return sizes.get(id(value), 1)


def load_yaml(text: str) -> Any:
    """The single document in ``text`` as Python data (None for an empty or comment-only file).

    Raises :class:`YamlProblem` (duplicate key, alias bomb, unknown tag) or :class:`yaml.YAMLError` (syntax).

    >>> load_yaml("a: 1\\nb: [x, 'y', no, 1:30, ~]\\n")
    {'a': 1, 'b': ['x', 'y', False, 90, None]}
    >>> load_yaml("a: 1\\nb: 2\\na: 3\\n")
    Traceback (most recent call last):
    ...
    op25b_cfg.yamlload.YamlProblem: line 3: key 'a' is given twice (first on line 1). Fix: ...
    """
    parser = _PARSER(text)
    try:
        return _build(parser.get_event)
    finally:
        parser.dispose()


def _build(get_event: Any) -> Any:
    anchors: dict[str, Any] = {}
    sizes: dict[int, int] = {}  # id(container) -> values inside it, aliases expanded
    # plain (unquoted, untagged) scalar text -> its value: the resolution (a regular expression per candidate
    # type) depends on the text alone, and an inventory repeats its keys and most of its values
    plain: dict[str, Any] = {}
    # frames: [container, pending key, key mark, anchor, size, first marks of keys, merged mappings]; marks
    # (libyaml's, of the events) become line numbers only in a message
    stack: list[list[Any]] = []
    root: Any = None
    documents = 0

    def add(value: Any, size: int, mark: Any) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        frame = stack[-1]
        frame[4] += size
        if frame[4] > MAX_NODES:
            raise YamlProblem(
                _mark_line(mark),
                f"the document expands to more than {MAX_NODES:,} values (aliases nested inside aliases).",
                "write the data out instead of nesting aliases (&anchor / *alias)",
            )
        container = frame[0]
        if isinstance(container, list):
            container.append(value)
            return
        key = frame[1]
        if key is _NOKEY:
            if isinstance(value, dict | list):
                raise YamlProblem(_mark_line(mark), "a mapping or list is used as a key.", "use text as the key")
            frame[1], frame[2] = value, mark
            return
        frame[1] = _NOKEY
        if key is _MERGE:
            merged = value if isinstance(value, list) else [value]
            if not all(isinstance(m, dict) for m in merged):
                raise YamlProblem(
                    _mark_line(frame[2]), "'<<' merges only mappings.", "merge a mapping anchor: <<: *defaults"
                )
            frame[6].extend(merged)
            return
        first = frame[5].get(key)
        if first is not None:
            raise YamlProblem(
                _mark_line(frame[2]),
                f"key {cut(key, 60)!r} is given twice (first on line {_mark_line(first)}).",
                "keep one of them (YAML would silently use the last)",
            )
        frame[5][key] = frame[2]
        container[key] = value

    while True:
        e = get_event()
        cls = type(e)
        if cls is ScalarEvent:
            if e.tag is not None:
                value = _scalar(e)
            elif e.style:
                value = e.value  # quoted or block scalar: always text
            else:
                value = plain.get(e.value, _NOKEY)
                if value is _NOKEY:
                    value = plain[e.value] = _scalar(e)
            if e.anchor is not None:
                anchors[e.anchor] = value
            if stack:  # the common cases inline: a key, a scalar value under a new key, a list item
                frame = stack[-1]
                container = frame[0]
                key = frame[1]
                if type(container) is dict and value is not _MERGE:
                    frame[4] += 1
                    if key is _NOKEY:
                        frame[1] = value
                        frame[2] = e.start_mark
                        continue
                    if key not in frame[5] and key is not _MERGE:
                        frame[1] = _NOKEY
                        frame[5][key] = frame[2]
                        container[key] = value
                        continue
                    frame[4] -= 1
                elif type(container) is list and frame[4] < MAX_NODES:  # a list item below the bound
                    frame[4] += 1
                    container.append(value)
                    continue
            add(value, 1, e.start_mark)
        elif cls is ev.MappingStartEvent or cls is ev.SequenceStartEvent:
            new: Any = {} if cls is ev.MappingStartEvent else []
            if e.tag not in (None, "!", _CORE + "map", _CORE + "seq"):
                raise YamlProblem(_line(e), f"the tag {cut(e.tag, 40)!r} is not allowed.", "remove the tag")
            if e.anchor is not None:
                anchors[e.anchor] = new
            stack.append([new, _NOKEY, None, e.anchor, 1, {}, []])
        elif cls is ev.MappingEndEvent or cls is ev.SequenceEndEvent:
            container, _, _, _, size, _, merges = stack.pop()
            if merges:
                explicit = dict(container)
                container.clear()
                for m in reversed(merges):
                    container.update(m)
                container.update(explicit)
                size += sum(_size(m, sizes) for m in merges)
            sizes[id(container)] = size
            add(container, size, e.start_mark)
        elif cls is ev.AliasEvent:
            if e.anchor not in anchors:
                raise YamlProblem(_line(e), f"unknown alias *{cut(e.anchor, 40)}.", "define the anchor first")
            value = anchors[e.anchor]
            if any(frame[0] is value for frame in stack):
                raise YamlProblem(_line(e), f"alias *{cut(e.anchor, 40)} refers to itself.", "remove the loop")
            add(value, _size(value, sizes), e.start_mark)
        elif cls is ev.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise YamlProblem(_line(e), "a second YAML document ('---').", "keep one document per file")
            anchors.clear()
        elif cls is ev.StreamEndEvent or e is None:
            return root
