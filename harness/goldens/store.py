"""A goldens directory: recorded TF results, one JSON file per case file, and a manifest.

Layout of ``DIR``::

    manifest.json          format, the versions that recorded it (TensorFlow, Keras, NumPy,
                           Python, platform), the record command, and per case file its golden
                           file, that file's SHA-256 and its number of expanded cases
    <case file>.json       e.g. cases/nn/softmax.yaml -> cases/nn/softmax.json:
                           {"format", "case_file", "cases": {expanded id: entry}}, one
                           expanded case per line so that a re-recording diffs case by case

An entry is ``{"hash": case hash, "op", "mode", "dtype", "calls": {name: call}}``; a call is
``{"key": content key, "out": tree}`` or ``{"key", "error": {...}}``, a gradient call
``{"key", "grads": {arg: array}}``. Call names: ``tf`` (the case's own op), ``grad``,
``same_as[0]``, ``differs_from[1]`` (see :mod:`harness.goldens.codec` for values and keys).

Every file is written atomically (a temporary file in the same directory, then
``os.replace``; mode 0644). Reading checks each golden file against the SHA-256 in the
manifest: a truncated, unreadable or hand-edited file is a one-line :class:`GoldenError`
naming the file, never a crash and never a silent pass.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
from pathlib import Path
from typing import Any

from harness.sides import SideUnavailable

FORMAT = "tf-parity-goldens/1"
MANIFEST = "manifest.json"


class GoldenError(SideUnavailable):
    """A goldens directory or file that cannot be used; the message is one line naming it."""


def golden_name(case_file: str) -> str:
    """The golden file of a case file (its path as the report shows it), relative to DIR:
    ``cases/nn/x.yaml`` -> ``cases/nn/x.json``; ``..`` and a leading ``/`` become ``_``."""
    parts = [("_" if p in ("..", "") else p) for p in Path(case_file).with_suffix(".json").as_posix().split("/")]
    return "/".join(parts)


def record_command(paths: list[str], directory: str) -> str:
    return "python -m harness record " + " ".join(shlex.quote(p) for p in [*paths, "--goldens", directory])


def write_text(path: Path, text: str) -> None:
    """Atomic write (a temporary file in the same directory, then os.replace; mode 0666
    minus the umask: 0644 under the usual 022) through the harness's one write helper."""
    from harness.atomicio import write_text as atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)


def dump_golden(case_file: str, cases: dict[str, dict]) -> str:
    """A golden file's text: one expanded case per line."""
    lines = [f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'), allow_nan=False)}"
             for k, v in sorted(cases.items())]
    head = json.dumps({"format": FORMAT, "case_file": case_file})[:-1]
    return head + ', "cases": {\n' + ",\n".join(lines) + "\n}}\n"


def sha256(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


class GoldenStore:
    """A goldens directory, read lazily: the manifest on first use, each golden file when a
    case of its case file is first looked up."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.dir = Path(directory)
        self._manifest: dict | None = None
        self._files: dict[str, dict] = {}

    # -- reading ------------------------------------------------------------------------
    @property
    def manifest(self) -> dict:
        if self._manifest is None:
            path = self.dir / MANIFEST
            if not path.is_file():
                raise GoldenError(f"{path}: no goldens manifest (record them first: "
                                  f"{record_command(['cases/'], str(self.dir))})")
            data = self._parse(path, path.read_bytes())
            if data.get("format") != FORMAT or not isinstance(data.get("files"), dict):
                raise GoldenError(f"{path}: not a {FORMAT} manifest (format {data.get('format')!r})")
            self._manifest = data
        return self._manifest

    @property
    def versions(self) -> dict:
        return self.manifest.get("versions", {})

    def describe(self) -> str:
        """``TF 2.21.0 (Keras 3.15.1, NumPy 2.4.6, Python 3.11.7), recorded 2026-12-06``."""
        v = self.versions
        keras2 = f", tf_keras {v['tf_keras']}" if v.get("tf_keras") else ""
        return (f"TF {v.get('tensorflow')} (Keras {v.get('keras')}{keras2}, NumPy {v.get('numpy')}, "
                f"Python {v.get('python')}), "
                f"recorded {self.manifest.get('recorded', '?')[:10]}")

    @staticmethod
    def _parse(path: Path, raw: bytes) -> dict:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GoldenError(f"{path}: unreadable goldens file ({exc}); truncated or edited? re-record it") from None
        if not isinstance(data, dict):
            raise GoldenError(f"{path}: unreadable goldens file (expected a JSON object); re-record it")
        return data

    def case_files(self) -> list[str]:
        return sorted(self.manifest["files"])

    def cases_of(self, case_file: str) -> dict[str, dict] | None:
        """Entries of one case file by expanded id, or None when it was never recorded."""
        if case_file in self._files:
            return self._files[case_file]
        meta = self.manifest["files"].get(case_file)
        if meta is None:
            return None
        path = self.dir / meta["golden"]
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise GoldenError(f"{path}: cannot read golden file ({exc.strerror}); re-record: "
                              f"{record_command([case_file], str(self.dir))}") from None
        if sha256(raw) != meta.get("sha256"):
            raise GoldenError(f"{path}: contents differ from the SHA-256 in {self.dir / MANIFEST} (truncated or edited "
                              f"after recording); re-record: {record_command([case_file], str(self.dir))}")
        data = self._parse(path, raw)
        if not isinstance(data.get("cases"), dict):
            raise GoldenError(f"{path}: no 'cases' object; re-record: {record_command([case_file], str(self.dir))}")
        self._files[case_file] = data["cases"]
        return data["cases"]

    def entries(self) -> dict[str, dict]:
        """Every recorded expanded case, by id (drift reads them all)."""
        out: dict[str, dict] = {}
        for case_file in self.case_files():
            for case_id, entry in (self.cases_of(case_file) or {}).items():
                out[case_id] = {**entry, "file": case_file}
        return out

    # -- writing ------------------------------------------------------------------------
    def write(self, recorded: dict[str, dict[str, dict]], versions: dict, command: str, when: str) -> list[Path]:
        """Write the golden files of ``recorded`` (case file -> entries) and the manifest,
        keeping other case files' goldens when the versions match; goldens of case files that
        no longer exist (relative to the working directory) are removed."""
        old = {}
        if (self.dir / MANIFEST).is_file():
            old = self.manifest
            mine = {k: versions.get(k) for k in ("tensorflow", "keras")}
            theirs = {k: old.get("versions", {}).get(k) for k in ("tensorflow", "keras")}
            if mine != theirs:
                raise GoldenError(f"{self.dir}: holds goldens of TF {theirs['tensorflow']} / Keras {theirs['keras']}, "
                                  f"this is TF {mine['tensorflow']} / Keras {mine['keras']}: record into another "
                                  "directory, or remove this one first")
        files = dict(old.get("files", {}))
        for gone in [f for f in files if f not in recorded and not Path(f).exists()]:
            (self.dir / files.pop(gone)["golden"]).unlink(missing_ok=True)
        written = []
        for case_file, cases in sorted(recorded.items()):
            text = dump_golden(case_file, cases)
            name = golden_name(case_file)
            write_text(self.dir / name, text)
            written.append(self.dir / name)
            files[case_file] = {"golden": name, "sha256": sha256(text.encode()), "cases": len(cases)}
        manifest = {"format": FORMAT, "recorded": when, "command": command, "versions": versions, "files": files}
        write_text(self.dir / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        self._manifest, self._files = manifest, {}
        return written


    def size_bytes(self) -> int:
        """Bytes of the manifest and the golden files it lists (not other directories inside)."""
        names = [MANIFEST] + [meta["golden"] for meta in self.manifest["files"].values()]
        return sum((self.dir / n).stat().st_size for n in names if (self.dir / n).is_file())
