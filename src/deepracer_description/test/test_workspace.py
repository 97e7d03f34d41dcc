"""Workspace-level checks: colcon sees the packages, and the house plan's layering holds.

These read the source tree (the description package is the root of the dependency graph, so its
tests are the natural home). The layering rules are checked statically, by parsing every module's
imports with ``ast``:
- core modules (everything outside ``<pkg>/nodes/``) never import rclpy or ROS message packages;
- the car-side packages (description, control, inference) never import torch or stable-baselines3;
- dependencies point one way: no package imports a package above it in the graph.
"""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2]
PACKAGES = ["deepracer_common", "deepracer_description", "deepracer_tracks", "deepracer_sim", "deepracer_inference",
            "deepracer_control", "deepracer_agent"]
# what each package may import from the workspace (the dependency graph of ARCHITECTURE.md)
ALLOWED = {
    "deepracer_common": set(),
    "deepracer_description": set(),
    "deepracer_tracks": {"deepracer_common"},
    "deepracer_sim": {"deepracer_common", "deepracer_description", "deepracer_tracks"},
    "deepracer_inference": {"deepracer_common", "deepracer_description"},
    "deepracer_control": {"deepracer_common", "deepracer_description", "deepracer_inference"},  # console model store
    "deepracer_agent": {"deepracer_common", "deepracer_description", "deepracer_tracks", "deepracer_sim",
                        "deepracer_inference"},
}
ROS_MODULES = {"rclpy", "std_msgs", "sensor_msgs", "geometry_msgs", "nav_msgs", "visualization_msgs",
               "std_srvs", "rcl_interfaces", "builtin_interfaces"}
TRAINING_ONLY = {"torch", "stable_baselines3", "gymnasium"}
CAR_SIDE = {"deepracer_common", "deepracer_description", "deepracer_control", "deepracer_inference"}


def _imports(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (at any depth, lazy imports included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules(pkg: str) -> list[Path]:
    return sorted((SRC / pkg / pkg).rglob("*.py"))


def test_every_package_is_an_ament_python_package():
    for pkg in PACKAGES:
        root = SRC / pkg
        manifest = ET.parse(root / "package.xml").getroot()
        assert manifest.get("format") == "3", pkg
        assert manifest.findtext("name") == pkg
        assert manifest.find("export/build_type").text == "ament_python", pkg
        assert (root / "resource" / pkg).is_file(), f"{pkg}: resource marker missing"
        assert (root / "setup.cfg").is_file() and (root / "setup.py").is_file(), pkg
        assert (root / "test").is_dir(), pkg
        # workspace dependencies declared in package.xml = what the code may import
        declared = {d.text for tag in ("depend", "build_depend", "exec_depend")
                    for d in manifest.findall(tag) if d.text in PACKAGES}
        assert declared == ALLOWED[pkg], f"{pkg}: package.xml declares {declared}, plan says {ALLOWED[pkg]}"


@pytest.mark.skipif(shutil.which("colcon") is None, reason="colcon is not installed (make setup installs it)")
def test_colcon_discovers_every_package_in_dependency_order():
    out = subprocess.run(["colcon", "list", "--base-paths", str(SRC), "--topological-order", "--names-only"],
                         capture_output=True, text=True, check=True, timeout=120).stdout.split()
    assert sorted(out) == sorted(PACKAGES)
    for pkg, deps in ALLOWED.items():
        for dep in deps:
            assert out.index(dep) < out.index(pkg), f"{dep} must build before {pkg}"


@pytest.mark.parametrize("pkg", PACKAGES)
def test_core_modules_never_import_ros(pkg):
    offenders = []
    for path in _modules(pkg):
        if "nodes" in path.relative_to(SRC / pkg / pkg).parts:
            continue
        bad = _imports(path) & ROS_MODULES
        if bad:
            offenders.append(f"{path.relative_to(SRC)} imports {sorted(bad)}")
    assert not offenders, "core (non-node) modules must not import ROS:\n" + "\n".join(offenders)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_imports_follow_the_dependency_graph(pkg):
    others = set(PACKAGES) - {pkg} - ALLOWED[pkg]
    offenders = [f"{path.relative_to(SRC)} imports {sorted(_imports(path) & others)}"
                 for path in _modules(pkg) if _imports(path) & others]
    assert not offenders, f"{pkg} may only import {sorted(ALLOWED[pkg])}:\n" + "\n".join(offenders)


@pytest.mark.parametrize("pkg", sorted(CAR_SIDE))
def test_car_side_packages_run_without_torch(pkg):
    offenders = [f"{path.relative_to(SRC)} imports {sorted(_imports(path) & TRAINING_ONLY)}"
                 for path in _modules(pkg) if _imports(path) & TRAINING_ONLY]
    assert not offenders, f"{pkg} is installed on the car without torch/SB3:\n" + "\n".join(offenders)


def test_import_scanner_sees_lazy_imports(tmp_path):
    # the checks above are only as good as the scanner: a function-level import must be found
    module = tmp_path / "m.py"
    module.write_text("import os\n\ndef f():\n    from rclpy.node import Node\n    import torch.nn as nn\n")
    assert _imports(module) == {"os", "rclpy", "torch"}
    assert sys.version_info >= (3, 10)
