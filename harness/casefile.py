"""Adding a case to a case file a user wrote, keeping every byte of what is there.

``python -m harness new OP --append FILE`` inserts the template's case as one more item of
the file's ``cases:`` list, right after the last item's last line, indented as the list's
items are; nothing else changes (comments, blank lines, key order, quoting, line endings).
A file without ``cases:`` gets the key at its end; a missing file is created. The result is
parsed back before anything is written: the old cases and every other key must read exactly
as before, with one more case at the end, or nothing is written. The file is replaced
atomically with its permission bits kept (:func:`harness.atomicio.write_text`).

Positions come from PyYAML's node marks. A block mapping's end mark lies at the next token
(past trailing comments and blank lines), so the end of an item is the furthest end of the
scalars and flow collections inside it.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import yaml

from harness import atomicio

TEMPLATE_INDENT = 2
"""The template writes its case as ``  - id: ...`` (the ``-`` in column 2)."""


class AppendError(ValueError):
    """The file cannot take the case safely; ``str()`` is the one-line ``file:line: field: problem (fix)``."""


def _fail(path: Path, line: int, field: str, problem: str, hint: str) -> AppendError:
    return AppendError(f"{path}:{line}: {field}: {problem} ({hint}; nothing was written)")


def _content_end(node: yaml.Node) -> int:
    """Index just past the last character of ``node``'s own text (not the comments after it)."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False) is True:
        return node.end_mark.index
    children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
    return max((_content_end(c) for c in children), default=node.start_mark.index)


def _line_end(text: str, index: int) -> int:
    """The start of the line after the one holding ``index - 1`` (``index`` if it starts a line)."""
    if index == 0 or text[index - 1] == "\n":
        return index
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _template_id(template: str) -> str:
    return re.search(r"- id: (\S+)", template).group(1)


def _item(template: str, column: int, taken: set[str], nl: str) -> tuple[str, str]:
    """The template's case, re-indented for a list whose ``-`` is in ``column``, with an id not in ``taken``."""
    head, _, body = template.partition("\ncases:\n")
    first = case_id = _template_id(body)
    n = 1
    while case_id in taken:
        n += 1
        case_id = f"{first}-{n}"
    body = body.replace(f"- id: {first}", f"- id: {case_id}", 1)
    lines = [" " * TEMPLATE_INDENT + ln for ln in head.splitlines() if ln.startswith("#")][:1] + body.splitlines()
    shift = column - TEMPLATE_INDENT
    lines = [" " * shift + ln if shift >= 0 else ln[-shift:] for ln in lines]
    return nl.join(lines) + nl, case_id


ID_LINE = re.compile(r"""^[ \t-]*id:[ \t]*["']?([A-Za-z0-9._-]+)""", re.MULTILINE)


def _ids_near(path: Path, text: str) -> set[str]:
    """Case ids that a new case must not take (ids are unique in the suite): those of ``text``,
    of the case files beside ``path`` and under ``cases/``. A quick scan of ``id:`` lines; a
    stray match only makes the new id more unusual."""
    from harness.loader import discover

    ids = set(ID_LINE.findall(text))
    for other in discover([d for d in (path.parent, Path("cases")) if d.is_dir()]):
        try:
            ids.update(ID_LINE.findall(other.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return ids


def _insert(path: Path, text: str, template: str, nl: str) -> tuple[str, str]:
    """``text`` with the template's case added to its ``cases:``; and the case's id."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _fail(path, mark.line + 1 if mark else 1, "(file)", f"not valid YAML: {getattr(exc, 'problem', exc)}",
                    "fix the file first") from None
    if root is None:  # empty, or only comments
        return _join(text, len(text), template.replace("\n", nl), nl), _template_id(template)
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise _fail(path, root.start_mark.line + 1, "(file)", "the top level is not a block mapping",
                    "start the file with `cases:` and put the cases under it")
    cases = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "cases"), None)
    if cases is None:
        item, case_id = _item(template, TEMPLATE_INDENT, _ids_near(path, text), nl)
        return _join(text, len(text), "cases:" + nl + item, nl), case_id
    if isinstance(cases, yaml.ScalarNode) and cases.tag.endswith(":null"):
        item, case_id = _item(template, TEMPLATE_INDENT, _ids_near(path, text), nl)
        return _join(text, _line_end(text, cases.end_mark.index), item, nl), case_id
    if not isinstance(cases, yaml.SequenceNode) or cases.flow_style is True:
        raise _fail(path, cases.start_mark.line + 1, "cases", "not a block list (`- id: ...` items, one per case)",
                    "write the cases as a block list, or add the case by hand")
    item, case_id = _item(template, cases.start_mark.column, _ids_near(path, text), nl)
    return _join(text, _line_end(text, _content_end(cases.value[-1])), item, nl), case_id


def _join(text: str, at: int, block: str, nl: str) -> str:
    """``block`` inserted at ``at`` (a line start, or the end of a file without a final newline)."""
    lead = "" if at == 0 or text[at - 1] == "\n" else nl
    return text[:at] + lead + block + text[at:]


def _check(path: Path, old: str, new: str) -> None:
    """The new text reads as the old one plus one case at the end of ``cases:``."""
    before, after = yaml.safe_load(old) or {}, yaml.safe_load(new)
    if not (isinstance(after, dict) and isinstance(after.get("cases"), list) and after["cases"][-1]
            and after["cases"][:-1] == list(before.get("cases") or [])
            and {k: v for k, v in after.items() if k != "cases"} == {k: v for k, v in before.items() if k != "cases"}):
        raise _fail(path, 1, "cases", "the case could not be added without changing the file's other content",
                    "add it by hand: the output of `python -m harness new OP` shows it")


def append_case(path: Path, template: str) -> str:
    """Add the case of ``template`` (``python -m harness new``'s text) to the case file ``path``,
    creating it when missing; returns the id given to the case (the template's, or ``ID-2``, ...
    when the file already has that id). Raises :class:`AppendError` and writes nothing when
    the case cannot be added safely."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        atomicio.create_new(path, template)
        return _template_id(template)
    except OSError as exc:
        raise _fail(path, 1, "(file)", f"cannot read it: {exc.strerror}", "check the path") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(path, 1, "(file)", "not UTF-8 text", "case files are UTF-8") from None
    new, case_id = _insert(path, text, template, "\r\n" if "\r\n" in text else "\n")
    _check(path, text, new)
    atomicio.write_text(path, new, keep_mode=True)
    return case_id


def stdout_appends_to_a_file() -> bool:
    """``python -m harness new OP >> FILE`` with ``FILE`` not empty: the template's second
    ``cases:`` would break the file (checked where the platform tells: POSIX ``O_APPEND``)."""
    try:
        import fcntl

        fd = sys.stdout.fileno()
        info = os.fstat(fd)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except (ImportError, OSError, ValueError, AttributeError):
        return False
    import stat

    return stat.S_ISREG(info.st_mode) and info.st_size > 0 and bool(flags & os.O_APPEND)
