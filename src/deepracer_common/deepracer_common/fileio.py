"""THE atomic file write of the workspace: a reader sees the old file or the new one, never half.

Every write goes to a temp file in the destination's folder (same filesystem, so ``os.replace`` is
atomic), is flushed and ``fsync``-ed, replaces the destination with ``os.replace``, and then the
folder itself is ``fsync``-ed so the rename survives a power cut. On any error the temp file is
removed and the destination is untouched.

Temp files are named ``.<name>.tmp-<pid>-<token><suffix>`` (the destination's suffix is kept at the
end, so writers that append one, such as ``numpy.save`` or SB3's ``model.save``, are not confused).
A process killed with SIGKILL leaves its temp file behind; :func:`clean_stale_temps` removes the
ones whose writer process is gone.

Usage::

    atomic_write_json(run_dir / "state.json", state)
    with atomic_path(run_dir / "iter_000001.zip") as tmp:   # for writers that want a path
        model.save(str(tmp))
    with atomic_open(path, "w") as fh:                     # for writers that want a file object
        yaml.safe_dump(data, fh)
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "atomic_write_yaml",
           "atomic_open", "atomic_path", "commit_temp", "make_temp_dir", "replace_directory", "fsync_dir",
           "temp_path_for", "is_temp_name", "clean_stale_temps"]

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})(?P<suffix>\.[^.]*)?$")


def temp_path_for(path: str | os.PathLike[str]) -> Path:
    """A fresh temp path beside ``path`` (same folder), recognised by :func:`clean_stale_temps`."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def is_temp_name(name: str) -> bool:
    """True for a file name made by :func:`temp_path_for`."""
    return _TEMP_RE.match(name) is not None


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """``fsync`` a folder so a rename inside it is durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems (e.g. some network mounts) refuse fsync on a folder
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, mkdir: bool = True) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on a clean exit it is fsync-ed and replaces ``path``.

    For writers that take a file name (``fig.savefig``, ``np.save``, ``model.save``). The writer must
    create exactly the yielded path. On an exception the temp file is removed and ``path`` is untouched.
    """
    path = Path(path)
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{path}: the writer did not create {tmp.name}")
        commit_temp(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def commit_temp(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Make a finished temp file (from :func:`temp_path_for`) the file ``path``: fsync it,
    ``os.replace`` it over ``path``, fsync the folder. For writers that manage the temp name themselves."""
    _fsync_file(Path(tmp))
    os.replace(tmp, path)
    fsync_dir(Path(path).parent)


def make_temp_dir(path: str | os.PathLike[str]) -> Path:
    """A fresh empty temp folder beside ``path`` (to build a folder, then :func:`replace_directory`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    tmp.mkdir()
    return tmp


def replace_directory(new_dir: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Rename the finished folder ``new_dir`` to ``dest``. An existing ``dest`` is renamed aside first
    and deleted after, so ``dest`` is always either the old or the new folder, never a mix
    (there is a moment with no ``dest`` at all: folders cannot be swapped atomically on Linux)."""
    new_dir, dest = Path(new_dir), Path(dest)
    for entry in new_dir.rglob("*"):
        if entry.is_file() and not entry.is_symlink():
            _fsync_file(entry)
    fsync_dir(new_dir)
    if not dest.exists():
        os.replace(new_dir, dest)
        fsync_dir(dest.parent)
        return
    old = temp_path_for(dest)
    os.replace(dest, old)
    try:
        os.replace(new_dir, dest)
    except BaseException:
        os.replace(old, dest)
        raise
    fsync_dir(dest.parent)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", *, encoding: str | None = "utf-8",
                newline: str | None = None, mkdir: bool = True) -> Iterator[IO[Any]]:
    """Open a temp file beside ``path`` for writing (``"w"`` or ``"wb"``); replace ``path`` on a clean exit."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path, mkdir=mkdir) as tmp:
        # O_EXCL: never write through someone else's file; 0o666 & umask: normal permissions
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        text = "b" not in mode
        with open(fd, mode, encoding=encoding if text else None, newline=newline if text else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mkdir: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically and durably; returns ``path``."""
    with atomic_open(path, "wb", mkdir=mkdir) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8",
                      mkdir: bool = True) -> Path:
    """Write ``text`` to ``path`` atomically and durably; returns ``path``."""
    return atomic_write_bytes(path, text.encode(encoding), mkdir=mkdir)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2,
                      sort_keys: bool = False, mkdir: bool = True) -> Path:
    """``obj`` as JSON (plus a final newline) to ``path`` atomically; NaN/inf are refused (not JSON)."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, allow_nan=False) + "\n"
    return atomic_write_text(path, text, mkdir=mkdir)


def atomic_write_yaml(path: str | os.PathLike[str], obj: Any, *, default_flow_style: bool | None = False,
                      mkdir: bool = True) -> Path:
    """``obj`` as YAML (``yaml.safe_dump``, key order kept) to ``path`` atomically."""
    import yaml

    text = yaml.safe_dump(obj, sort_keys=False, default_flow_style=default_flow_style)
    return atomic_write_text(path, text, mkdir=mkdir)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale_temps(folder: str | os.PathLike[str], *, recursive: bool = False,
                      older_than_s: float | None = None) -> list[Path]:
    """Remove temp files (and temp folders) left in ``folder`` by writers that were killed.

    A temp entry is stale when the process that made it (the pid in its name) no longer runs, or,
    with ``older_than_s``, when it was last modified more than that many seconds ago (guards
    against a reused pid). Entries of live writers are left alone. Returns what was removed.
    A missing folder is not an error.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed: list[Path] = []
    entries = folder.rglob(".*") if recursive else folder.glob(".*")
    now = time.time()
    for entry in sorted(entries):
        m = _TEMP_RE.match(entry.name)
        if m is None:
            continue
        try:
            age_s = now - entry.lstat().st_mtime
        except FileNotFoundError:
            continue
        stale = not _pid_alive(int(m["pid"])) or (older_than_s is not None and age_s > older_than_s)
        if not stale:
            continue
        with contextlib.suppress(FileNotFoundError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed
