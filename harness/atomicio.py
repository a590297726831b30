"""Every file the harness writes goes through here: whole or not at all, never over a user's file.

* :func:`write_text` replaces ``path`` atomically: the text goes to a hidden temporary file
  in the same directory (``.NAME.<random>.tmp``, so the rename stays on one file system),
  is flushed and ``fsync``'d, then ``os.replace``'d over ``path``. Ctrl-C or a kill before
  the rename leaves ``path`` as it was (at worst a stray hidden ``.tmp`` file); after it,
  ``path`` is the whole new file. ``keep_mode=True`` keeps an existing file's permission bits
  (for files a user wrote, such as ``new --append``).
* :func:`create_new` writes a file that must not exist yet, atomically, and never replaces
  one: the finished temporary file is hard-linked to ``path`` (``os.link`` fails with
  ``FileExistsError`` when ``path`` exists, however it got there). :func:`create_unique`
  picks the first free name of ``stem``, ``stem-2``, ``stem-3``, ... (fuzz write-back).
* :func:`stage` and :func:`publish` write several files now and rename them into place
  together later, under :func:`locked` (an exclusive ``flock`` on ``DIR/.tf-parity.lock``):
  two runs sharing a report directory leave one run's complete set, never a mix.

New files get mode ``0o666`` minus the process umask, as files any program creates
(``0644`` under the usual umask 022), not ``mkstemp``'s ``0600``: the kernel applies the
umask when the temporary file is opened, so nothing reads or changes the umask.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import Callable, Iterable, Iterator

LOCK_NAME = ".tf-parity.lock"
MAX_UNIQUE = 1000
"""``create_unique`` gives up after this many taken names."""


def temp_path(path: str | os.PathLike) -> Path:
    """A fresh hidden name next to ``path`` (not created): ``.NAME.<16 hex>.tmp``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")


def _write_temp(path: Path, data: bytes) -> Path:
    """``data`` in a new temporary file next to ``path``, on disk (``fsync``) before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = temp_path(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:  # 64 random bits: only a pathological collision gets here
            continue
        break
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _encode(text: str) -> bytes:
    return text.encode("utf-8")


def _fsync(path: Path) -> None:
    """Flush a file (or, on POSIX, a directory's entries) to disk; best effort for directories."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


def stage(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to a temporary file next to ``path`` and return it; :func:`publish` renames it."""
    return _write_temp(Path(path), _encode(text))


def discard(staged: Iterable[str | os.PathLike]) -> None:
    """Remove temporary files that will not be published."""
    for tmp in staged:
        Path(tmp).unlink(missing_ok=True)


def publish(pairs: Iterable[tuple[str | os.PathLike, str | os.PathLike]]) -> None:
    """Rename each finished ``(temporary, final)`` pair into place, each file ``fsync``'d first.

    Files another program wrote (pytest's JUnit XML) are synced here too. Hold
    :func:`locked` around the call when the set must not mix with another writer's."""
    pairs = [(Path(t), Path(f)) for t, f in pairs]
    for tmp, _ in pairs:
        _fsync(tmp)
    for tmp, final in pairs:
        os.replace(tmp, final)
    for parent in {final.parent for _, final in pairs}:
        _fsync(parent)


def write_text(path: str | os.PathLike, text: str, *, keep_mode: bool = False) -> Path:
    """Replace ``path`` with ``text`` atomically (see the module docstring); returns ``path``."""
    path = Path(path)
    tmp = stage(path, text)
    try:
        if keep_mode and path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        publish([(tmp, path)])
    except BaseException:
        discard([tmp])
        raise
    return path


def create_new(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as the new file ``path``; ``FileExistsError`` if it exists (nothing is replaced).

    The whole file appears at once (a hard link to the finished temporary file). On a file
    system without hard links it is created with ``O_EXCL`` and written in place instead: it
    still never replaces a file, but a kill mid-write can leave it short."""
    path = Path(path)
    tmp = stage(path, text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some FUSE, SMB or FAT file systems)
        _create_exclusive(path, _encode(text))
    finally:
        discard([tmp])
    _fsync(path.parent)
    return path


def _create_exclusive(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def create_unique(directory: str | os.PathLike, stem: str, suffix: str, render: Callable[[str], str]) -> Path:
    """Create ``DIR/STEM.SUFFIX``, or ``STEM-2``, ``STEM-3``, ... if taken, with ``render(chosen stem)``
    as its text (so a case id inside can follow the file name); never replaces a file."""
    directory = Path(directory)
    for n in range(1, MAX_UNIQUE + 1):
        name = stem if n == 1 else f"{stem}-{n}"
        try:
            return create_new(directory / f"{name}{suffix}", render(name))
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory / (stem + suffix)}: {MAX_UNIQUE} names {stem}-N{suffix} are taken")


@contextlib.contextmanager
def locked(directory: str | os.PathLike) -> Iterator[None]:
    """An exclusive lock on ``DIR/.tf-parity.lock``, held for the ``with`` block (blocks until free).

    ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows; the kernel drops it if the
    process dies, so a killed run never leaves the directory locked. The lock file stays."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _lock(fd)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:  # LK_LOCK gives up after 10 s: keep waiting
                continue
    fcntl.flock(fd, fcntl.LOCK_EX)
