"""The libyaml loader gives exactly what the pure-Python loader gives.

For every case file and every bad case (and a few tricky snippets): the same values and
types, the same ``.line``/``.key_lines``/``.duplicates``/``.item_lines``, the same aliased
objects shared, or the same :class:`YamlError` line, problem and hint.
"""
import math
from pathlib import Path

import pytest
import yaml

from harness import yamlio
from harness.loader import CASE_SUFFIXES
from harness.yamlio import LineDict, LineList, YamlError, load_yaml

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted(p for p in (ROOT / "cases").rglob("*") if p.suffix in CASE_SUFFIXES)
BAD = sorted(p for p in (ROOT / "tests/data/bad_cases").rglob("*") if p.suffix in CASE_SUFFIXES)

SNIPPETS = {
    "merge": "a: &a {x: 1, y: [1, 2]}\nb:\n  <<: *a\n  x: 2\nc: {<<: [*a, {z: 3}], =: v}\n",
    "shared": "a: &a [1, {k: v}]\nb: *a\nc: [*a, *a]\n",
    "scalars": "a: 1e-5\nb: .inf\nc: -.nan\nd: 0x1f\ne: 2024-01-02\nf: yes\ng: ~\nh: !!str 3\ni: 1_000\nj: '1e-5'\n",
    "duplicates": "a: 1\nb: 2\na: 3\n1: x\ntrue: y\n",
    "text": "a: |\n  two\n  lines\nb: >-\n  folded\n  text\nc: \"esc\\t\\u00e9\"\n",
    "breaks": "a: 1\r\nb: [1,\r\n  2]\r\nc: \"x\u2028y\"\nd: 2\n",
    "empty": "",
    "comment": "# nothing\n",
    "scalar_root": "just text\n",
    "two_docs": "a: 1\n---\nb: 2\n",
    "undefined_alias": "a: *nope\n",
    "duplicate_anchor": "a: &x 1\nb: &x 2\n",
    "recursive": "a: &r {b: *r}\n",
    "many_aliases": "a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n",
    "bad_merge": "a: {<<: 1}\n",
    "merge_as_value": "a: <<\n",
    "unhashable": "? [a]\n: 1\n",
    "bad_date": "a: 2024-02-30\n",
    "set_tag": "a: !!set {x, y}\n",
    "python_tag": "a: !!python/name:os.system\n",
    "binary": "a: !!binary aGk=\n",
    "deep_ok": "a: " + "[" * 100 + "1" + "]" * 100 + "\n",
    "deep_over": "a: " + "[" * 101 + "1" + "]" * 101 + "\n",
    "too_deep": "a: " + "[" * 400 + "1" + "]" * 400 + "\n",
    "tab": "a:\n\tb: 1\n",
    "control_char": "a: \x07\n",
    "bom": "\ufeffa: 1\n",
    "bom_inside": "# c\n\ufeffa: 1\n",
    "bare_tag": "a: !\nb: ! 1\nc: B != T\n",
    "flow_question": "a: [1?.0]\nb: why? this\n",
    "header_comment": "a: |#c\n  x\n",
    "tab_in_flow": "a: [1,\t2]\n",
}


def outcome(path: Path, fast: bool):
    try:
        return load_yaml(path, fast=fast)
    except YamlError as exc:
        return ("YamlError", exc.line, exc.problem, exc.hint)
    except Exception as exc:  # noqa: BLE001 - whatever escapes must escape from both loaders
        return (type(exc).__name__, str(exc))


def assert_same(a, b, where="doc", seen=None):
    """Equal values of equal types, equal line records, and aliasing shared alike."""
    seen = {} if seen is None else seen
    assert type(a) is type(b), where
    if isinstance(a, (LineDict, LineList)):
        assert seen.setdefault(id(a), id(b)) == id(b), f"{where}: aliasing differs"
        assert a.line == b.line, where
    if isinstance(a, LineDict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b], where
        assert a.key_lines == b.key_lines and a.duplicates == b.duplicates, where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}", seen)
    elif isinstance(a, (LineList, tuple)):
        assert len(a) == len(b), where
        if isinstance(a, LineList):
            assert a.item_lines == b.item_lines, where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]", seen)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


@pytest.mark.parametrize("path", CASES + BAD, ids=lambda p: str(p.relative_to(ROOT)))
def test_fast_loader_matches_pure_python(path):
    assert_same(outcome(path, fast=True), outcome(path, fast=False))


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")
@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(ROOT)))
def test_case_files_take_the_fast_path(path):
    """Good case files never fall back (the fallback would hide a slow path, not a bug)."""
    assert_same(yamlio._load_fast(path.read_text(encoding="utf-8")), load_yaml(path, fast=False))


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_snippets_match(name, tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(SNIPPETS[name], encoding="utf-8", newline="")
    assert_same(outcome(path, fast=True), outcome(path, fast=False))


def test_alias_bomb_declined_before_expanding(tmp_path):
    """Ten nested anchors of ten aliases: the fast loader stops at the count, building nothing."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(yamlio._Declined):
        yamlio._load_fast(path.read_text(encoding="utf-8"))
    assert outcome(path, fast=True) == outcome(path, fast=False)
    assert "alias bomb" in outcome(path, fast=True)[2]


SCALARS = ["a", "b", "x y", "1", "-2", "0", "1.5", "-0.0", "1e-5", "1E+3", ".inf", "-.inf", ".nan", ".NaN", "0x1f", "0o17",
           "017", "0b101", "1_000", "1:30", "+7", "yes", "No", "on", "true", "False", "~", "null", "", "2024-01-02",
           "2001-12-14t21:59:43.10-05:00", "'q: x'", '"dq\\t"', "'1'", '"="', "=", "'<<'", "-", "a-b", "é",
           "1.", ".5", "1.5e3", "1.5E+3", "-1e-5", "+1.5", "1_0.5", "0.0", "-0", "+0", "00", "007", "1__0", "0x_1F",
           "190:20:30", "-190:20:30.15", "1e400", "-1e400", "+.inf", ".Inf", "-.NAN", "1e", "e5", "1.2.3", "٣",
           "Yes", "OFF", "NULL", "Null", "nULL", "2001-12-14 21:59:43.10 -5", "!", "'1e5'", '"12"']
KEYS = ["a", "b", "c", "1", "1.0", "true", "~", "=", ".nan", "'a'", "2024-01-02"]


class _Doc:
    """A random YAML document in flow style (items on their own lines now and then), with
    anchors, aliases of closed anchors, merges (one mapping, a list of them, inline),
    repeated keys and the scalars YAML 1.1 reads as something else than strings."""

    def __init__(self, rng):
        self.rng, self.n, self.closed = rng, 0, []  # closed: (anchor, kind)

    def anchor(self):
        if self.rng.random() < 0.3:
            self.n += 1
            return f"a{self.n}"
        return None

    def value(self, depth):
        rng = self.rng
        r = rng.random()
        if self.closed and r < 0.15:
            return f"*{rng.choice(self.closed)[0]}"
        if depth > 3 or r < 0.45:
            name = self.anchor()
            text = rng.choice(SCALARS)
            if name and text != "=":
                self.closed.append((name, "scalar"))
                return f"&{name} {text}"
            return text
        return self.mapping(depth) if r < 0.75 else self.sequence(depth)

    def sep(self):
        return ",\n  " if self.rng.random() < 0.3 else ", "

    def sequence(self, depth):
        name = self.anchor()
        items = [self.value(depth + 1) for _ in range(self.rng.randint(0, 4))]
        text = "[" + self.sep().join(items) + "]"
        if name:
            self.closed.append((name, "seq"))
            return f"&{name} {text}"
        return text

    def mapping(self, depth):
        rng = self.rng
        name = self.anchor()
        pairs = []
        for _ in range(rng.randint(0, 4)):
            maps = [a for a, kind in self.closed if kind == "map"]
            r = rng.random()
            if maps and r < 0.25:
                merge = f"*{rng.choice(maps)}" if rng.random() < 0.6 else "[" + ", ".join(
                    f"*{rng.choice(maps)}" for _ in range(rng.randint(1, 3))) + "]"
                pairs.append(f"<<: {merge}")
            elif r < 0.3:
                pairs.append(f"<<: {{{rng.choice(KEYS)}: {rng.choice(SCALARS)}}}")
            else:
                pairs.append(f"{rng.choice(KEYS)}: {self.value(depth + 1)}")
        text = "{" + self.sep().join(pairs) + "}"
        if name:
            self.closed.append((name, "map"))
            return f"&{name} {text}"
        return text

    def text(self):
        lines = [f"{key}{i}: {self.value(0)}" for i, key in enumerate(self.rng.sample(KEYS[:3], 3))]
        return "\n".join(lines) + "\n"


def test_drawn_documents_match_and_mostly_take_the_fast_path(tmp_path):
    """Documents drawn with merges, aliases, repeated keys and YAML 1.1 scalars: the fast
    loader gives exactly the pure-Python result, and declines only what it must."""
    import random

    rng, fast = random.Random(13), 0
    path = tmp_path / "d.yaml"
    for i in range(1500):
        text = _Doc(rng).text()
        path.write_text(text, encoding="utf-8")
        pure = outcome(path, fast=False)
        try:
            got = yamlio._load_fast(text)
        except yamlio._Declined:
            continue
        except Exception:  # noqa: BLE001 - an error load_yaml turns into the pure loader's
            continue
        fast += 1
        assert_same(got, pure, f"document {i}:\n{text}")
    assert fast > 900, fast


@pytest.mark.parametrize("text", ["a: 1\n", "a:\t1\n", "a: [1?]\n", "\ufeffa: 1\n", "# c\n\ufeffa: 1\n", "a: |#c\n  x\n",
                                  "a: >-2 #c\n  x\n", "a: |\n  #x\n", "a: '>'  # c\n", "?", "\ufeff", "", "|#", "x\ufeff"])
def test_the_quick_look_for_text_libyaml_reads_differently_is_the_regex(text):
    assert yamlio._libyaml_differs(text) == bool(yamlio._LIBYAML_DIFFERS.search(text))


def test_the_quick_look_agrees_on_every_case_file():
    for path in CASES + BAD:
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert yamlio._libyaml_differs(text) == bool(yamlio._LIBYAML_DIFFERS.search(text)), path
