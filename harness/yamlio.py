"""Safe YAML loading that remembers where every mapping key was written.

Only PyYAML's ``SafeLoader`` is used, so tags such as ``!!python/object`` are refused.
Every mapping becomes a :class:`LineDict`, a ``dict`` whose ``.line`` is the 1-based
line of the mapping and ``.key_lines[key]`` the line of each key, so errors can say
``path:line: field: problem``. Aliases are counted: a document with more than
``MAX_ALIASES`` alias uses (a billion-laughs bomb) is refused before it is expanded.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

MAX_ALIASES = 100


class LineDict(dict):
    line: int = 0
    key_lines: dict

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


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

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise YamlError(
                    mark.line + 1,
                    f"more than {MAX_ALIASES} YAML aliases (an alias bomb?)",
                    "write the values out instead of repeating anchors",
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        mapping = LineDict(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                mapping.key_lines[key] = key_node.start_mark.line + 1
            except TypeError:  # unhashable key: the schema check reports it
                pass
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
        mark = exc.problem_mark
        raise YamlError(
            (mark.line + 1) if mark else 1,
            f"unsafe or unknown YAML tag: {exc.problem}",
            "only plain YAML values are allowed",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError((mark.line + 1) if mark else 1, f"YAML syntax error: {problem}", "check indentation and quoting") from None
