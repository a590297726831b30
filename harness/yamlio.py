"""Safe YAML loading that remembers where every mapping key was written.

Only PyYAML's safe constructors are used, so tags such as ``!!python/object`` are refused.
Every mapping becomes a :class:`LineDict`, a ``dict`` whose ``.line`` is the 1-based
line of the mapping, ``.key_lines[key]`` the line of each key and ``.duplicates`` the
keys written twice (YAML would silently keep the last). Every sequence becomes a
:class:`LineList` with ``.item_lines``.

Aliases are bounded two ways, before anything walks the document: at most
``MAX_ALIASES`` alias uses, and at most ``MAX_NODES`` values once every alias is expanded
(a billion-laughs bomb is nine anchors of ten aliases each: 90 uses, 10^9 values).
An alias inside its own anchor (a recursive structure) is refused too.

Two loaders give the same results. The fast one reads libyaml's events (C) and builds the
values from them in one pass, without nodes, sharing aliased values as it counts them (so
nothing expands); scalars are resolved and built by the same resolver and constructor
functions, mappings and sequences as :class:`_Constructor` builds them. It declines
anything unusual (text libyaml reads differently, any tag, a merge ``<<`` or value ``=``
key, a key that is a list or a mapping, an alias or size over a bound, an error of any kind,
nesting deeper than ``MAX_FAST_DEPTH``); the pure-Python loader then loads the file again
and has the last word, including every error message.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent, StreamEndEvent
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

MAX_ALIASES = 100
MAX_NODES = 1_000_000
MAX_FAST_DEPTH = 100
"""Deeper files go to the pure-Python loader, which gives up near 200 levels ("nested too deeply")."""


class LineDict(dict):
    line: int = 0
    key_lines: dict
    duplicates: list
    """``(key, first_line, repeated_line)`` for each key written more than once."""

    def line_of(self, key: str) -> int:
        return getattr(self, "key_lines", {}).get(key, self.line)


class LineList(list):
    line: int = 0
    item_lines: list


class YamlError(ValueError):
    def __init__(self, line: int, problem: str, hint: str = "") -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem
        self.hint = hint


class _Constructor(SafeConstructor, Resolver):
    """Safe constructors building LineDict/LineList; numbers resolve the YAML 1.2 way."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        mapping = LineDict(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        mapping.duplicates = []
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in mapping.key_lines:
                mapping.duplicates.append((key, mapping.key_lines[key], line))
            mapping.key_lines[key] = line
        return mapping

    def construct_sequence(self, node, deep=False):  # type: ignore[override]
        seq = LineList(super().construct_sequence(node, deep=True))
        seq.line = node.start_mark.line + 1
        seq.item_lines = [child.start_mark.line + 1 for child in node.value]
        return seq


# YAML 1.1 reads ``1e-5`` (no dot) as a string; numbers in case files follow YAML 1.2.
_Constructor.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)
_Constructor.add_constructor("tag:yaml.org,2002:map", _Constructor.construct_mapping)
_Constructor.add_constructor("tag:yaml.org,2002:seq", _Constructor.construct_sequence)


class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _Constructor):
    """Pure-Python loader: counts aliases and values while composing, event by event."""

    def __init__(self, stream) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Constructor.__init__(self)
        self._aliases = 0
        self._nodes = 0
        self._sizes: dict[str, int] = {}
        self._open: set[str] = set()

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if event.anchor in self._open:
                raise YamlError(line, f"alias *{event.anchor} is inside its own anchor &{event.anchor} (a recursive value)",
                                "write the value out instead of referring to itself")
            if self._aliases > MAX_ALIASES:
                raise YamlError(line, f"more than {MAX_ALIASES} YAML aliases (an alias bomb?)",
                                "write the values out instead of repeating anchors")
            self._count(self._sizes.get(event.anchor, 1), line)
            return super().compose_node(parent, index)
        anchor = getattr(event, "anchor", None)
        before = self._nodes
        self._count(1, line)
        if anchor:
            self._open.add(anchor)
        node = super().compose_node(parent, index)
        if anchor:
            self._open.discard(anchor)
            self._sizes[anchor] = self._nodes - before
        return node

    def _count(self, n: int, line: int) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            if self._aliases:
                raise YamlError(line, f"the YAML aliases expand to more than {MAX_NODES:,} values (an alias bomb?)",
                                "write the values out instead of nesting anchors")
            raise YamlError(line, f"more than {MAX_NODES:,} values in one file", "keep large data in a .npy file")


class _Declined(Exception):
    """The fast loader leaves this file to the pure-Python one."""


_LIBYAML_DIFFERS = re.compile(r"[\t?]|(?<!\A)\ufeff|[|>][-+0-9]*#")
"""Text libyaml reads differently: it accepts some tabs, ``?`` inside flow plain scalars, a
byte-order mark starting any line and ``|#`` (a comment touching a block scalar header).
Tags differ too (a bare ``!`` reads as '', not None): the fast loader declines every tag."""
_BLOCK_HEADER_COMMENT = re.compile(r"[|>][-+0-9]*#")


def _libyaml_differs(text: str) -> bool:
    """``_LIBYAML_DIFFERS.search(text)``, its single characters looked for first (faster)."""
    return ("\t" in text or "?" in text or text.find("\ufeff", 1) >= 0
            or _BLOCK_HEADER_COMMENT.search(text) is not None)


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    _STR_TAG = "tag:yaml.org,2002:str"
    _FLOAT_TAG, _INT_TAG = "tag:yaml.org,2002:float", "tag:yaml.org,2002:int"
    _NULL_TAG, _BOOL_TAG = "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool"
    _SCALAR_TAGS = frozenset((_NULL_TAG, _BOOL_TAG, _INT_TAG, _FLOAT_TAG, "tag:yaml.org,2002:timestamp"))
    _TAGS: dict = {}
    """Resolved tags of plain scalars by their text: a function of the text alone, and most
    scalars (argument names, dtypes, generator keys, small numbers) repeat. (A quoted
    scalar is a string.)"""
    _TAGS_MAX = 100_000
    _MERGE, _VALUE = object(), object()
    """The keys ``<<`` (merge the mappings it names) and ``=`` (read as the string ``=``)."""
    _SPECIAL_TAGS = {"tag:yaml.org,2002:merge": _MERGE, "tag:yaml.org,2002:value": _VALUE}
    _DECIMAL = "0123456789.eE+-"

    class _FastLoader(CParser, _Constructor):
        """libyaml events, built into values here under the same bounds as :class:`_Loader`."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _Constructor.__init__(self)

        def _scalar(self, event):
            """A scalar's value, as the constructor builds it (a string is the event's own text);
            :data:`_MERGE` or :data:`_VALUE` for the keys ``<<`` and ``=``."""
            value = event.value
            if not event.implicit[0]:  # quoted: resolve() gives the default tag, a string
                return value
            tag = _TAGS.get(value)
            if tag is None:
                tag = self.resolve(ScalarNode, value, event.implicit)
                if len(_TAGS) >= _TAGS_MAX:
                    _TAGS.clear()
                _TAGS[value] = tag
            if tag == _STR_TAG:
                return value
            # the constructor's own result, without its node, for the common forms:
            if tag == _FLOAT_TAG and not value.strip(_DECIMAL):  # no _, :, .inf or .nan: sign*float(rest)
                return float(value)
            if tag == _INT_TAG:  # no 0b, 0x, 0 (octal), _ or :
                digits = value[1:] if value[0] in "+-" else value
                if digits.isdigit() and digits.isascii() and (digits[0] != "0" or digits == "0"):
                    return int(value)
            elif tag == _NULL_TAG:
                return None
            elif tag == _BOOL_TAG:
                return self.bool_values[value.lower()]
            if tag not in _SCALAR_TAGS:
                special = _SPECIAL_TAGS.get(tag)
                if special is None or event.anchor is not None:
                    raise _Declined
                return special
            node = ScalarNode(tag, value, event.start_mark, event.end_mark, style=event.style)
            return self.yaml_constructors[tag](self, node)

        @staticmethod
        def _mapping(values: list, lines: list, line: int, flat: dict) -> LineDict:
            """A mapping from its keys and values in turn, as :meth:`_Constructor.construct_mapping`
            builds it after ``flatten_mapping``: the pairs of ``<<`` merges first (of a list of
            mappings, the last one's first), then its own; the last value of a repeated key, the
            first key object, every repetition listed. ``flat`` keeps each mapping's pairs for
            the merges that name it."""
            pairs: list = []  # (key, its line, value)
            merged: list = []
            for i in range(0, len(values), 2):
                key, value = values[i], values[i + 1]
                if key is _MERGE:
                    if isinstance(value, LineDict):
                        merged += flat[id(value)][1]
                    elif isinstance(value, LineList) and all(isinstance(item, LineDict) for item in value):
                        for item in reversed(value):
                            merged += flat[id(item)][1]
                    else:  # the pure-Python loader words the error
                        raise _Declined
                elif isinstance(key, (list, dict)):  # unhashable: the pure-Python loader words the error
                    raise _Declined
                else:
                    pairs.append((key, lines[i], value))
            if merged:
                pairs = merged + pairs
            plain = {}
            for key, _, value in pairs:
                plain[key] = value
            mapping = LineDict(plain)
            mapping.line = line
            mapping.key_lines = key_lines = {}
            mapping.duplicates = duplicates = []
            for key, key_line, _ in pairs:
                if key in key_lines:
                    duplicates.append((key, key_lines[key], key_line))
                key_lines[key] = key_line
            flat[id(mapping)] = (mapping, pairs)
            return mapping

        def load_bounded(self):
            """The value of the only document (None if there is none): events to values in one
            pass, counting values and aliases as :class:`_Loader` does, sharing aliased values."""
            get = self.get_event
            get()  # StreamStartEvent
            if self.check_event(StreamEndEvent):
                return None
            get()  # DocumentStartEvent
            scalar, known_tag = self._scalar, _TAGS.get
            anchors = {}  # anchor -> (value, line); None while its collection is open
            sizes = {}  # anchor -> values it stands for (set when it closes)
            flat: dict = {}  # id of a mapping -> (mapping, its pairs), for merges
            nodes = aliases = 0
            # the innermost open collection: [is a mapping, values, their lines, line, anchor,
            # values counted before it]; the ones around it on the stack
            frame, stack = None, []
            values = lines = None  # the frame's
            while True:
                event = get()
                kind = event.__class__
                if kind is ScalarEvent:
                    nodes += 1
                    if event.tag is not None:
                        raise _Declined
                    value = event.value
                    if event.implicit[0] and known_tag(value) != _STR_TAG:
                        value = scalar(event)
                        if value is _MERGE or value is _VALUE:  # only a mapping's key may be one
                            if frame is None or not frame[0] or len(values) % 2:
                                raise _Declined
                            if value is _VALUE:  # flatten_mapping makes it a string
                                value = "="
                    line = event.start_mark.line + 1
                    anchor = event.anchor
                    if anchor is not None:
                        if anchor in anchors:
                            raise _Declined
                        anchors[anchor] = (value, line)
                        sizes[anchor] = 1
                elif kind is AliasEvent:
                    aliases += 1
                    if event.anchor not in sizes or aliases > MAX_ALIASES:  # undefined or open (recursive)
                        raise _Declined
                    nodes += sizes[event.anchor]
                    if nodes > MAX_NODES:
                        raise _Declined
                    value, line = anchors[event.anchor]
                elif kind is SequenceStartEvent or kind is MappingStartEvent:
                    nodes += 1
                    if event.tag is not None:
                        raise _Declined
                    anchor = event.anchor
                    if anchor is not None:
                        if anchor in anchors:
                            raise _Declined
                        anchors[anchor] = None
                    if frame is not None:
                        stack.append(frame)
                        if len(stack) >= MAX_FAST_DEPTH:
                            raise _Declined
                    values, lines = [], []
                    frame = [kind is MappingStartEvent, values, lines, event.start_mark.line + 1, anchor, nodes - 1]
                    continue
                else:  # SequenceEndEvent or MappingEndEvent
                    is_mapping, _, _, line, anchor, before = frame
                    if is_mapping:
                        value = self._mapping(values, lines, line, flat)
                    else:
                        value = LineList(values)
                        value.line = line
                        value.item_lines = lines
                    if anchor is not None:
                        anchors[anchor] = (value, line)
                        sizes[anchor] = nodes - before
                    if stack:
                        frame = stack.pop()
                        values, lines = frame[1], frame[2]
                    else:
                        frame = None
                if frame is None:
                    break
                values.append(value)
                lines.append(line)
            get()  # DocumentEndEvent
            if nodes > MAX_NODES or not self.check_event(StreamEndEvent):
                raise _Declined
            return value

    def _load_fast(text: str):
        if _libyaml_differs(text):
            raise _Declined
        loader = _FastLoader(text)
        try:
            return loader.load_bounded()
        finally:
            loader.dispose()
else:  # PyYAML built without libyaml
    def _load_fast(text: str):
        raise _Declined


def _syntax_hint(problem: str) -> str:
    if "'\\t'" in problem:
        return "indent with spaces: YAML does not allow tabs"
    if "mapping values are not allowed" in problem:
        return "a `key: value` inside a value needs quotes, or the indentation is off"
    return "check indentation, brackets and quoting"


def load_yaml(path: Path, fast: bool = True):
    """Parse one YAML file safely; raises :class:`YamlError` with a line number.

    ``fast=False`` skips libyaml and loads with the pure-Python loader only.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlError(line, f"not UTF-8 (byte 0x{raw[exc.start]:02x})", "save the file as UTF-8") from None
    if fast:
        try:
            return _load_fast(text)
        except Exception:  # noqa: BLE001 - declined, or an error the pure-Python loader words
            pass
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader only has safe constructors
    except YamlError:
        raise
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1) if mark else 1
        problem = str(exc.problem or "")
        tag = re.search(r"tag '([^']*)'", problem)
        if tag:
            name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
            raise YamlError(line, f"YAML tag {name} refused: case files are loaded safely",
                            "remove the tag and write a plain value") from None
        if "unhashable" in problem:
            raise YamlError(line, "a mapping key is a list or a mapping", "keys are plain names, e.g. logits:") from None
        raise YamlError(line, f"invalid YAML value: {problem}", "write plain YAML values") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError((mark.line + 1) if mark else 1, f"YAML syntax error: {problem}", _syntax_hint(problem)) from None
    except yaml.YAMLError as exc:
        raise YamlError(1, f"YAML error: {exc}", "check the file is plain YAML") from None
    except RecursionError:
        raise YamlError(1, "YAML nested too deeply", "flatten the structure") from None
