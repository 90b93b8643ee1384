"""Every file op25b writes or reads on a device's behalf goes through here.

* :func:`device_file_name` checks that a device name is one safe path component;
* :func:`under` joins a base directory and names and proves the result stays inside the base (``..``,
  absolute parts and symbolic links leading out are refused);
* :func:`atomic_write` writes a whole file or nothing: a temporary file in the same directory, ``fsync``,
  then a rename (or a hard link when an existing file must never be replaced); the temporary file is removed
  on any failure, so a full disk never leaves a 0-byte config or backup behind.

Both raise :class:`PathError` (an :class:`~op25b_cfg.errors.Op25bError`) with the path and a fix.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from op25b_cfg.errors import Op25bError, cut

DEVICE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A device name: 1-64 letters, digits, ``_ . -``, starting with a letter or digit (so never ``.`` or ``..``)."""


class PathError(Op25bError):
    """A path would leave the directory op25b owns, or a file could not be written whole."""


def device_file_name(name: object) -> str:
    """``name`` if it can be used as one file or directory name; ValueError (with a Fix) otherwise.

    >>> device_file_name("bras-tokyo-01.example")
    'bras-tokyo-01.example'
    >>> device_file_name("a/../../victim")
    Traceback (most recent call last):
    ...
    ValueError: 'a/../../victim' is not a valid device name. Fix: use 1-64 letters, digits and _ . - ...
    """
    if not isinstance(name, str) or not DEVICE_NAME_RE.fullmatch(name):
        raise ValueError(
            f"{cut(name)!r} is not a valid device name. Fix: use 1-64 letters, digits and _ . - starting with a"
            " letter or digit (the name becomes a file name under backups/, --save and generate's output)"
        )
    return name


def plain_part(part: str) -> bool:
    """``part`` names an entry of a directory: not empty, ``.`` or ``..``, without ``/``, ``\\`` or NUL (what
    :func:`under` accepts).

    >>> plain_part("r1.cfg"), plain_part(".."), plain_part("a/b"), plain_part("")
    (True, False, False, False)
    """
    return bool(part) and part not in (".", "..") and "/" not in part and "\\" not in part and "\x00" not in part


def under(base: Path, *parts: str) -> Path:
    """``base / parts...``, refused unless it stays inside ``base`` once symbolic links are resolved.

    >>> under(Path("backups"), "r1", "20240101T000000Z.cfg").as_posix()
    'backups/r1/20240101T000000Z.cfg'
    >>> under(Path("backups"), "../etc")
    Traceback (most recent call last):
    ...
    op25b_cfg.paths.PathError: backups/../etc: leaves backups. Fix: use a device name without / or ..
    """
    path = base.joinpath(*parts)
    for part in parts:
        if not plain_part(part):
            raise PathError(f"{path}: leaves {base}. Fix: use a device name without / or ..")
    # Without "..", "/" or an empty part, only a symbolic link among the parts can lead outside: one lstat per
    # part, and the whole path is resolved only when one is a link (resolving costs ~0.3 ms: 3 s per 10k files)
    step = os.fspath(base)  # text, not Path objects: a generate checks 10,000 paths
    for part in parts:
        step = os.path.join(step, part)
        if os.path.islink(step):
            if not path.resolve().is_relative_to(base.resolve()):
                raise PathError(
                    f"{path}: leads outside {base} (through a symbolic link). Fix: remove the link or choose"
                    " another directory"
                )
            break
    return path


def writable_dir(path: Path, option: str) -> None:
    """Create ``path`` (and parents) for ``option`` (``-o``, ``--save``) or raise :class:`PathError` saying why
    it cannot be used, before any work starts."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise PathError(f"{option} {path}: is a file, not a directory. Fix: pass a directory") from None
    except OSError as exc:
        raise PathError(
            f"{option} {path}: cannot create the directory ({exc.strerror or exc}). Fix: pass a writable directory"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise PathError(f"{option} {path}: the directory is not writable. Fix: pass a writable directory")


def atomic_write(
    path: Path, data: bytes | str, mode: int = 0o644, *, replace: bool = True, durable: bool = True
) -> Path:
    """Write ``data`` to ``path`` whole or not at all, with permissions ``mode`` (whatever the umask).

    ``replace=False`` never replaces an existing file (:class:`FileExistsError`, as ``O_EXCL``).
    ``durable=False`` skips the ``fsync`` of the file and of its directory: still whole or nothing, but a power
    loss right after may lose the write; for files op25b can write again (generated configs), where 10,000
    fsyncs cost seconds. Backups, saved configs and reports stay durable. Raises
    :class:`OSError` on failure, after removing the temporary file; ``path`` is then untouched.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> atomic_write(d / "r1.cfg", "end\\n", 0o600).read_text(), oct((d / "r1.cfg").stat().st_mode & 0o777)
    ('end\\n', '0o600')
    """
    raw = data.encode() if isinstance(data, str) else data
    folder, name = os.path.split(os.fspath(path))  # as text: mkstemp converts a Path dir on every call
    fd, tmp = tempfile.mkstemp(dir=folder or ".", prefix=f".{name}.", suffix=".tmp")
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # FileExistsError when taken: never overwrite
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _sync_dir(path.parent)
    return path


@contextlib.contextmanager
def atomic_open(path: Path, mode: int = 0o644) -> Iterator[IO[str]]:
    """A text file (UTF-8) written as the block runs that becomes ``path`` whole when the block ends, or is
    removed, leaving ``path`` untouched, when it raises: :func:`atomic_write` for output produced piece by piece
    (a streamed report).

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> with atomic_open(d / "report.json") as fh:
    ...     _ = fh.write("{}")
    >>> (d / "report.json").read_text(), [p.name for p in d.iterdir()]
    ('{}', ['report.json'])
    """
    folder, name = os.path.split(os.fspath(path))  # as text: mkstemp converts a Path dir on every call
    fd, tmp = tempfile.mkstemp(dir=folder or ".", prefix=f".{name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_dir(path.parent)


def _sync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (ignored where the file system refuses a directory fsync)."""
    with contextlib.suppress(OSError):
        dfd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
