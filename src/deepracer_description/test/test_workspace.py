"""Workspace-level checks: colcon sees the packages, and the house plan's layering holds.

These read the source tree (the description package is the root of the dependency graph, so its
tests are the natural home). The layering rules are checked statically, by parsing every module's
imports with ``ast``:
- core modules (everything outside ``<pkg>/nodes/``) never import rclpy or ROS message packages;
- the car-side packages (description, control, inference) never import torch or stable-baselines3;
- dependencies point one way: no package imports a package above it in the graph;
- no import cycle between modules, anywhere in the workspace (function-level imports included:
  a lazy import only hides a circle until the function runs).
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2]
PACKAGES = ["deepracer_common", "deepracer_description", "deepracer_tracks", "deepracer_sim", "deepracer_inference",
            "deepracer_control", "deepracer_agent", "deepracer_bringup"]
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
    # launch files only (+ a path helper); exec_depends are the car's nodes, the rest test_depends
    "deepracer_bringup": {"deepracer_common", "deepracer_description", "deepracer_control", "deepracer_inference"},
}
ROS_MODULES = {"rclpy", "std_msgs", "sensor_msgs", "geometry_msgs", "nav_msgs", "visualization_msgs",
               "std_srvs", "rcl_interfaces", "builtin_interfaces", "rosgraph_msgs", "diagnostic_msgs", "tf2_msgs",
               "ackermann_msgs"}
# Every third-party import -> the package.xml key that provides it: a rosdep key (ROS packages and
# python3-* system packages), or "pip:NAME" for a PyPI-only package (no rosdep key), which the
# package.xml names in a comment <!-- pip: NAME, ... --> (installed from requirements/requirements.txt).
IMPORT_KEYS = {
    **{m: m for m in ROS_MODULES}, "ament_index_python": "ament_index_python",
    "numpy": "python3-numpy", "scipy": "python3-scipy", "yaml": "python3-yaml", "matplotlib": "python3-matplotlib",
    "PIL": "python3-pil", "cv2": "python3-opencv", "numba": "python3-numba", "flask": "python3-flask",
    "werkzeug": "python3-flask",          # Flask's own dependency, used for its exceptions
    "redis": "python3-redis", "boto3": "python3-boto3", "botocore": "python3-boto3", "tqdm": "python3-tqdm",
    "shapely": "python3-shapely",
    "torch": "pip:torch", "stable_baselines3": "pip:stable-baselines3", "gymnasium": "pip:gymnasium",
    "openvino": "pip:openvino", "onnxruntime": "pip:onnxruntime", "onnx": "pip:onnx", "lz4": "pip:lz4",
    "tensorboard": "pip:tensorboard",
}
# the standard message packages no PyPI wheel carries, built in the workspace from their definitions
INTERFACE_PACKAGES = ["ackermann_msgs", "tf2_msgs"]
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
    assert sorted(out) == sorted(PACKAGES + INTERFACE_PACKAGES)
    for pkg, deps in ALLOWED.items():
        for dep in deps:
            assert out.index(dep) < out.index(pkg), f"{dep} must build before {pkg}"
    for pkg in PACKAGES:        # a Python package using a built message package builds after it
        for dep in _declared_keys(pkg) & set(INTERFACE_PACKAGES):
            assert out.index(dep) < out.index(pkg), f"{dep} must build before {pkg}"


@pytest.mark.parametrize("pkg", INTERFACE_PACKAGES)
def test_interface_packages_are_rosidl_packages_with_their_license(pkg):
    root = SRC / pkg
    manifest = ET.parse(root / "package.xml").getroot()
    assert manifest.get("format") == "3" and manifest.findtext("name") == pkg
    assert manifest.find("export/build_type").text == "ament_cmake", pkg
    assert manifest.findtext("member_of_group") == "rosidl_interface_packages", pkg
    assert {"ament_cmake", "rosidl_default_generators"} <= {d.text for d in manifest.findall("buildtool_depend")}
    assert manifest.findtext("license") == "BSD-3-Clause" and "BSD 3-Clause" in (root / "LICENSE").read_text()
    cmake = (root / "CMakeLists.txt").read_text()
    listed = set(re.findall(r'"((?:msg|srv|action)/\w+\.(?:msg|srv|action))"', cmake))
    on_disk = {str(p.relative_to(root)) for kind in ("msg", "srv", "action") for p in (root / kind).glob("*.*")}
    assert listed == on_disk and listed, f"{pkg}: CMakeLists lists {sorted(listed)}, the folders hold {sorted(on_disk)}"
    # one build fix for the PyPI wheels, the same text in every interface package
    assert "pypi_ros_wheels_prefix_path()" in cmake and "pypi_ros_wheels_drop_missing_includes()" in cmake
    texts = {(SRC / p / "cmake" / "pypi_ros_wheels.cmake").read_text() for p in INTERFACE_PACKAGES}
    assert len(texts) == 1, "cmake/pypi_ros_wheels.cmake differs between " + ", ".join(INTERFACE_PACKAGES)


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


def _declared_keys(pkg: str) -> set[str]:
    """Dependency keys of a package.xml (depend / exec_depend / build_depend) and its pip notes."""
    text = (SRC / pkg / "package.xml").read_text()
    manifest = ET.fromstring(text)
    keys = {d.text.strip() for tag in ("depend", "build_depend", "exec_depend") for d in manifest.findall(tag) if d.text}
    for note in re.findall(r"<!--\s*pip:(.*?)-->", text, flags=re.S):
        keys |= {f"pip:{name}" for name in re.split(r"[,\s]+", note.split("(")[0]) if name}
    return keys


@pytest.mark.parametrize("pkg", PACKAGES)
def test_every_import_is_declared_in_package_xml(pkg):
    """rosdep (or pip, from the notes) installs what the code imports: numba, PIL, yaml, openvino..."""
    third_party: set[str] = set()
    for path in _modules(pkg):
        third_party |= _imports(path) - set(sys.stdlib_module_names) - set(PACKAGES) - {"__future__"}
    unknown = sorted(third_party - set(IMPORT_KEYS))
    assert not unknown, f"{pkg} imports {unknown}: add them to IMPORT_KEYS (rosdep key or pip:NAME)"
    declared = _declared_keys(pkg)
    missing = sorted(f"{name} ({IMPORT_KEYS[name]})" for name in third_party if IMPORT_KEYS[name] not in declared)
    assert not missing, (f"{pkg}/package.xml does not declare {missing}: an <exec_depend> with the rosdep key, "
                         f"or a <!-- pip: NAME --> note for a PyPI-only package")


def test_import_scanner_sees_lazy_imports(tmp_path):
    # the checks above are only as good as the scanner: a function-level import must be found
    module = tmp_path / "m.py"
    module.write_text("import os\n\ndef f():\n    from rclpy.node import Node\n    import torch.nn as nn\n")
    assert _imports(module) == {"os", "rclpy", "torch"}
    assert sys.version_info >= (3, 10)


# ---------------------------------------------------------------------------------- import cycles
def module_graph(src: Path, packages: list[str]) -> dict[str, set[str]]:
    """Module -> workspace modules it imports (any depth). ``from pkg import sub`` points at the
    submodule, not at the package ``__init__`` (which Python has already started importing)."""
    files: dict[str, Path] = {}
    for pkg in packages:
        for path in sorted((src / pkg / pkg).rglob("*.py")):
            parts = list(path.relative_to(src / pkg).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join(parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in files]
                targets = subs + ([module] if len(subs) < len(node.names) else [])
            for target in targets:
                while target and target not in files:   # import a.b.c: the deepest workspace module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}                  # 1 = on the current path, 2 = done
    for root in sorted(graph):
        if state.get(root):
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_no_import_cycle_anywhere_in_the_workspace():
    cycle = find_cycle(module_graph(SRC, PACKAGES))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_sees_a_lazy_cycle(tmp_path):
    pkg = tmp_path / "p" / "p"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("x = 1\n\ndef f():\n    from p.a import y\n")
    (pkg / "c.py").write_text("from . import a, b\n")
    graph = module_graph(tmp_path, ["p"])
    assert graph["p"] == {"p.a"} and graph["p.c"] == {"p.a", "p.b"}
    assert find_cycle(graph) == ["p.a", "p.b", "p.a"]
    (pkg / "b.py").write_text("x = 1\n")
    assert find_cycle(module_graph(tmp_path, ["p"])) is None
