"""One-token mutants of a Python source file, made with the standard ``ast`` module, and
applied to the live functions of the imported module.

Operators (each mutant changes one token inside a function body):

* arithmetic ``+ <-> -``, ``* <-> /``, ``// -> /``, ``** -> *``, ``% -> *``, and the
  augmented forms (``+= <-> -=`` ...);
* comparisons ``< <-> <=``, ``> <-> >=``, ``== <-> !=``, ``is <-> is not``, ``in <-> not in``;
* boolean ``and <-> or``, ``not x -> x``, unary ``-x -> x``, ``True <-> False``;
* constant nudges: a number ``n -> n + 1`` (``1.0 -> 2.0``, ``0 -> 1``; ``-1`` is ``-(1)``: ``-2``);
* reductions and extrema by name: ``.sum <-> .mean``, ``.max <-> .min``, ``maximum <-> minimum``,
  ``amax <-> amin``, ``argmax <-> argmin``, and the builtins ``max <-> min``.

A mutant is applied by compiling the whole mutated module and giving every live function
whose code changed (the enclosing function, and closures it made at import time, such as a
factory's loss classes) the mutated code object (``func.__code__``): every reference to the
function (op records, other modules' imports) then runs the mutant, and restoring the old
code objects undoes it. Default values, decorators and module-level statements are not mutated.

A module's memo caches (the module-level dicts it names in ``__memos__``) are emptied when a
mutant is applied and again when it is undone: the mutants run in processes forked after the
baseline, whose memos every case's values already fill, so a mutant of a memo's miss branch
would otherwise never run its miss (and one that fills a memo wrongly would leak into the next).
"""
from __future__ import annotations

import ast
import copy
import gc
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
          ast.Pow: ast.Mult, ast.Mod: ast.Mult}
CMPOPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
          ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
BOOLOPS = {ast.And: ast.Or, ast.Or: ast.And}
NAMES = {"sum": "mean", "mean": "sum", "max": "min", "min": "max", "maximum": "minimum", "minimum": "maximum",
         "amax": "amin", "amin": "amax", "argmax": "argmin", "argmin": "argmax", "nansum": "nanmean"}
SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Pow: "**", ast.Mod: "%",
          ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is",
          ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.And: "and", ast.Or: "or"}


@dataclass
class Mutant:
    """One mutant: where (file, line, enclosing function) and what changed."""

    id: str
    file: str
    line: int
    function: str
    operator: str
    change: str
    source_line: str
    function_lines: tuple = (0, 0)
    # internal: which node (walk order in the function body) and how
    _index: int = field(default=0, repr=False)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 90 else text[:87] + "..."


def _edits(node: ast.AST):
    """(operator, apply) pairs for one node: ``apply(node)`` changes it in place."""
    if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in BINOPS:
        new = BINOPS[type(node.op)]
        yield f"{SYMBOL[type(node.op)]} -> {SYMBOL[new]}", lambda n: setattr(n, "op", new())
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in CMPOPS:
                new = CMPOPS[type(op)]
                yield f"{SYMBOL[type(op)]} -> {SYMBOL[new]}", lambda n, i=i, new=new: n.ops.__setitem__(i, new())
    elif isinstance(node, ast.BoolOp):
        new = BOOLOPS[type(node.op)]
        yield f"{SYMBOL[type(node.op)]} -> {SYMBOL[new]}", lambda n: setattr(n, "op", new())
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        yield ("-x -> x" if isinstance(node.op, ast.USub) else "not x -> x"), lambda n: setattr(n, "op", ast.UAdd())
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield f"{node.value} -> {not node.value}", lambda n: setattr(n, "value", not n.value)
    elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        yield f"{node.value!r} -> {node.value + 1!r}", lambda n: setattr(n, "value", n.value + 1)
    elif isinstance(node, ast.Attribute) and node.attr in NAMES and isinstance(node.ctx, ast.Load):
        yield f"{node.attr} -> {NAMES[node.attr]}", lambda n: setattr(n, "attr", NAMES[n.attr])
    elif isinstance(node, ast.Name) and node.id in ("max", "min") and isinstance(node.ctx, ast.Load):
        new = {"max": "min", "min": "max"}[node.id]
        yield f"{node.id} -> {new}", lambda n: setattr(n, "id", new)


def _functions(tree: ast.Module):
    """(qualname, def node) of top-level functions and methods of top-level classes."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{node.name}.{sub.name}", sub


def _body_nodes(fn: ast.FunctionDef):
    """Nodes of a function's body in walk order, skipping docstrings and annotations."""
    body = fn.body[1:] if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant) \
        and isinstance(fn.body[0].value.value, str) else fn.body
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.arg) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            yield node


def _skip(node: ast.AST, parents: dict) -> bool:
    """Nodes whose mutation is not a behaviour change worth counting: annotations, f-string
    and error-message text, ``raise`` arguments (the error's class is what cases check)."""
    p = parents.get(node)
    while p is not None:
        if isinstance(p, (ast.JoinedStr, ast.Raise, ast.AnnAssign)):
            return True
        p = parents.get(p)
    return False


def generate(path: Path, display: str) -> list[Mutant]:
    """Every mutant of ``path`` (ids ``display:line:n``)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    out: list[Mutant] = []
    for qualname, fn in _functions(tree):
        parents = {child: node for node in ast.walk(fn) for child in ast.iter_child_nodes(node)}
        for index, node in enumerate(_body_nodes(fn)):
            if _skip(node, parents):
                continue
            for k, (operator, _) in enumerate(_edits(node)):
                line = node.lineno
                mutated = copy.deepcopy(node)
                list(_edits(mutated))[k][1](mutated)
                change = f"{_short(node)}  ->  {_short(mutated)}"
                out.append(Mutant(id=f"{display}:{line}:{len(out)}", file=display, line=line, function=qualname,
                                  operator=operator, change=change, source_line=lines[line - 1].strip(),
                                  function_lines=(fn.lineno, fn.end_lineno), _index=index * 16 + k))
    return out


def _mutated_module(path: Path, mutant: Mutant) -> types.CodeType:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    fn = dict(_functions(tree))[mutant.function]
    index, k = divmod(mutant._index, 16)
    node = list(_body_nodes(fn))[index]
    list(_edits(node))[k][1](node)
    return compile(tree, str(path), "exec", dont_inherit=True)


def _code_pairs(old: types.CodeType, new: types.CodeType):
    """(original, mutated) code objects that differ, walking both modules' nested code in step."""
    if old != new:
        yield old, new
    olds = [c for c in old.co_consts if isinstance(c, types.CodeType)]
    news = [c for c in new.co_consts if isinstance(c, types.CodeType)]
    for a, b in zip(olds, news):
        yield from _code_pairs(a, b)


_LIVE: dict[str, dict] = {}


def _live_functions(filename: str) -> dict[tuple[str, int], list]:
    """Every function object alive in this process whose code comes from ``filename``, by
    (qualname, first line): top-level functions, methods, and closures made at import time
    (a loss class built by a factory), found once per process through the garbage collector."""
    if filename not in _LIVE:
        table: dict[tuple[str, int], list] = {}
        with warnings.catch_warnings():  # isinstance() on some frameworks' deprecated module proxies warns
            warnings.simplefilter("ignore")
            objects = gc.get_objects()
            functions = [obj for obj in objects if isinstance(obj, types.FunctionType)]
        for obj in functions:
            if obj.__code__.co_filename == filename:
                table.setdefault((obj.__code__.co_qualname, obj.__code__.co_firstlineno), []).append(obj)
        _LIVE[filename] = table
    return _LIVE[filename]


class applied:
    """Context manager: every live function of the mutated code runs the mutant (its
    ``__code__`` swapped), the originals restored on exit."""

    def __init__(self, module: types.ModuleType, path: Path, mutant: Mutant) -> None:
        filename = module.__file__
        original = compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
        live = _live_functions(filename)
        self.swaps = [(fn, new) for old, new in _code_pairs(original, _mutated_module(path, mutant))
                      for fn in live.get((old.co_qualname, old.co_firstlineno), []) if fn.__code__ == old]

        self.module = module

    def _clear_memos(self) -> None:
        for name in getattr(self.module, "__memos__", ()):
            getattr(self.module, name).clear()

    def __enter__(self):
        self.saved = [(fn, fn.__code__) for fn, _ in self.swaps]
        for fn, new in self.swaps:
            fn.__code__ = new
        self._clear_memos()
        return self

    def __exit__(self, *exc):
        for fn, code in self.saved:
            fn.__code__ = code
        self._clear_memos()
        return False
