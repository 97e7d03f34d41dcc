"""sdformat's own checker (``gz sdf -k`` / ``ign sdf -k``) for the Gazebo files the workspace writes.

Gazebo itself is not needed: on Debian 12 ``apt-get install libsdformat-dev ignition-tools`` gives
``ign sdf -k`` (sdformat 12, SDF up to 1.9; neither package alone does); a ROS 2 Jazzy + Gazebo
Harmonic machine has ``gz sdf -k`` (sdformat 14). The tool is found by RUNNING it on a known-good
file: ``ign sdf -h`` exits 255 even where ``-k`` works, so a help probe says nothing.

``check_sdf(path, resource_dirs)`` checks one SDF world/model or URDF file; ``model://NAME`` includes
resolve under ``resource_dirs`` (passed as SDF_PATH and GZ_SIM_RESOURCE_PATH), and an included URDF
(a model.config pointing at a .urdf) is converted and checked too. sdformat does not open mesh
files: callers check that mesh URIs exist. No rclpy.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["INSTALL_HINT", "SdfResult", "find_sdf_checker", "check_sdf"]

INSTALL_HINT = ("no working 'gz sdf -k' / 'ign sdf -k' here (Debian 12: apt-get install -y libsdformat-dev "
                "ignition-tools, as scripts/install_system_deps.sh does; Ubuntu with Gazebo Harmonic: gz sdf)")

_KNOWN_GOOD = """<?xml version="1.0"?>
<sdf version="1.6">
  <model name="probe">
    <static>true</static>
    <link name="link"/>
  </model>
</sdf>
"""
_KNOWN_BAD = """<?xml version="1.0"?>
<sdf version="1.6">
  <model name="probe">
    <link name="link"/>
    <link name="link"/>
  </model>
</sdf>
"""
_TIMEOUT_S = 60


@dataclass(frozen=True)
class SdfResult:
    """The checker's verdict on one file: ok, and its output (stdout + stderr, noise lines dropped)."""

    ok: bool
    output: str


def _run(cmd: list[str], path: Path, env: dict[str, str] | None = None) -> SdfResult:
    try:
        proc = subprocess.run([*cmd, "-k", str(path)], capture_output=True, text=True, timeout=_TIMEOUT_S, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SdfResult(False, f"{' '.join(cmd)} -k {path}: {exc}")
    # ignition-tools on Debian prints a harmless 'libignition-tools-backward.so not found' line
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "tools-backward" not in ln]
    text = "\n".join(lines).strip()
    return SdfResult(proc.returncode == 0 and "Valid" in proc.stdout and "Error" not in proc.stderr, text)


@functools.lru_cache(maxsize=1)
def find_sdf_checker() -> tuple[str, ...] | None:
    """``("gz", "sdf")`` or ``("ign", "sdf")`` if it accepts a known-good file AND rejects a bad one, else None."""
    with tempfile.TemporaryDirectory(prefix="sdf_probe_") as tmp:
        good, bad = Path(tmp) / "good.sdf", Path(tmp) / "bad.sdf"
        good.write_text(_KNOWN_GOOD)
        bad.write_text(_KNOWN_BAD)
        for cmd in (["gz", "sdf"], ["ign", "sdf"]):
            if shutil.which(cmd[0]) is None:
                continue
            if _run(cmd, good).ok and not _run(cmd, bad).ok:
                return tuple(cmd)
    return None


def check_sdf(path: str | os.PathLike[str], resource_dirs: Sequence[str | os.PathLike[str]] = ()) -> SdfResult:
    """Check ``path`` (SDF or URDF) with sdformat; raises RuntimeError(INSTALL_HINT) if no checker is here."""
    cmd = find_sdf_checker()
    if cmd is None:
        raise RuntimeError(INSTALL_HINT)
    path = Path(path)
    if not path.is_file():
        return SdfResult(False, f"{path}: no such file")
    search = os.pathsep.join(str(Path(d).resolve()) for d in resource_dirs)
    env = {**os.environ, "SDF_PATH": search, "GZ_SIM_RESOURCE_PATH": search, "IGN_GAZEBO_RESOURCE_PATH": search}
    return _run(list(cmd), path, env)
