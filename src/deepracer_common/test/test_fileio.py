"""The one atomic write: content, durability steps, no partial file after a crash, stale-temp cleanup."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from deepracer_common import fileio
from deepracer_common.fileio import (
    atomic_open,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    atomic_write_yaml,
    clean_stale_temps,
    is_temp_name,
    temp_path_for,
)


def test_writes_replace_the_file_and_leave_no_temp(tmp_path):
    target = tmp_path / "sub" / "state.json"   # missing folders are created
    atomic_write_json(target, {"a": 1, "b": [1.5, "x"]})
    assert json.loads(target.read_text()) == {"a": 1, "b": [1.5, "x"]}
    assert target.read_text().endswith("\n")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    atomic_write_bytes(target, b"\x00\xff")
    assert target.read_bytes() == b"\x00\xff"
    atomic_write_yaml(tmp_path / "c.yaml", {"lr": 0.3, "z": 1, "a": 2})
    assert (tmp_path / "c.yaml").read_text() == "lr: 0.3\nz: 1\na: 2\n"  # key order kept
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_permissions_follow_the_umask_not_mkstemp(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644


def test_nan_is_refused_and_the_old_file_is_kept(tmp_path):
    target = tmp_path / "m.json"
    atomic_write_json(target, {"ok": 1})
    with pytest.raises(ValueError):
        atomic_write_json(target, {"bad": float("nan")})
    assert json.loads(target.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_a_failing_writer_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.zip"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "wb") as fh:
            fh.write(b"half")
            raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old"
    with pytest.raises(FileNotFoundError, match="did not create"):
        with atomic_path(target):
            pass   # a writer that wrote nothing
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]


def test_atomic_path_keeps_the_suffix_for_writers_that_append_one(tmp_path):
    np = pytest.importorskip("numpy")
    target = tmp_path / "track.npy"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".npy" and tmp.parent == tmp_path and is_temp_name(tmp.name)
        np.save(tmp, np.arange(3))   # np.save would append .npy to a name without it
    assert np.load(target).tolist() == [0, 1, 2]


def test_fsync_and_replace_order(tmp_path, monkeypatch):
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(fileio.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(fileio.os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    atomic_write_text(tmp_path / "a.txt", "x")
    # file data flushed before the rename, the folder after it
    assert calls[0] == "fsync" and "replace" in calls and calls[-1] == "fsync"
    assert calls.index("replace") > 0


WRITER = """
import sys, time
from deepracer_common.fileio import atomic_open
with atomic_open(sys.argv[1], "wb") as fh:
    fh.write(b"partial")
    fh.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_kill_9_mid_write_leaves_the_old_file_and_a_temp_that_clean_stale_temps_removes(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        temps = [p for p in tmp_path.iterdir() if is_temp_name(p.name)]
        assert len(temps) == 1
        assert clean_stale_temps(tmp_path) == []          # the writer is alive: left alone
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert target.read_text() == "old"
    assert clean_stale_temps(tmp_path) == temps
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_clean_stale_temps_age_rule_recursion_and_foreign_files(tmp_path):
    mine = temp_path_for(tmp_path / "a.json")
    mine.write_text("x")                                   # this process: alive
    (tmp_path / ".hidden").write_text("not ours")
    (tmp_path / "sub").mkdir()
    dead = (tmp_path / "sub" / ".b.zip.tmp-999999999-0123abcd.zip")
    dead.write_text("x")
    assert clean_stale_temps(tmp_path) == []                # not recursive, own temp alive
    assert clean_stale_temps(tmp_path, recursive=True) == [dead]
    past = time.time() - 7200
    os.utime(mine, (past, past))
    assert clean_stale_temps(tmp_path, older_than_s=3600) == [mine]
    assert (tmp_path / ".hidden").exists()
    assert clean_stale_temps(tmp_path / "missing") == []
