"""Safe YAML loading that remembers where every mapping key was written.

Only PyYAML's ``SafeLoader`` is used, so tags such as ``!!python/object`` are refused.
Every mapping becomes a :class:`LineDict`, a ``dict`` whose ``.line`` is the 1-based
line of the mapping, ``.key_lines[key]`` the line of each key and ``.duplicates`` the
keys written twice (YAML would silently keep the last). Every sequence becomes a
:class:`LineList` with ``.item_lines``.

Aliases are bounded two ways, before anything walks the document: at most
``MAX_ALIASES`` alias uses, and at most ``MAX_NODES`` values once every alias is expanded
(a billion-laughs bomb is nine anchors of ten aliases each: 90 uses, 10^9 values).
An alias inside its own anchor (a recursive structure) is refused too.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

MAX_ALIASES = 100
MAX_NODES = 1_000_000


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


class _Loader(yaml.SafeLoader):
    def __init__(self, stream) -> None:
        super().__init__(stream)
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
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_sequence)


def _syntax_hint(problem: str) -> str:
    if "'\\t'" in problem:
        return "indent with spaces: YAML does not allow tabs"
    if "mapping values are not allowed" in problem:
        return "a `key: value` inside a value needs quotes, or the indentation is off"
    return "check indentation, brackets and quoting"


def load_yaml(path: Path):
    """Parse one YAML file safely; raises :class:`YamlError` with a line number."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlError(line, f"not UTF-8 (byte 0x{raw[exc.start]:02x})", "save the file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
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
