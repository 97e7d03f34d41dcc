"""`deepracer launch`: run a ROS 2 XML launch file as real processes, without `ros2 launch`.

The pip-only install (this machine, CI, a laptop) has rclpy but not `launch`/`launch_ros`, so the
project runs its own launch files with this module. On a sourced ROS 2 installation use
`ros2 launch` on the same files: they are standard ROS 2 XML launch files.

Supported subset (anything else is refused with the file, line and tag, before any process starts):

- tags: ``<launch>``, ``<arg name default description>`` (+ ``<choice value>``), ``<let name value>``,
  ``<node pkg exec name namespace args ros_args output on_exit>`` with ``<param name value>``,
  ``<param from>``, nested ``<param name><param .../></param>``, ``<remap from to>``,
  ``<env name value>``; ``<executable cmd name cwd output on_exit>`` (+ ``<env>``);
  ``<include file>`` with ``<arg name value>``; ``<group scoped forwarding>``;
  ``<push_ros_namespace namespace>``; ``if`` / ``unless`` on every action.
- substitutions: ``$(var name [default])``, ``$(env NAME [default])``, ``$(find-pkg-share pkg)``,
  ``$(find-pkg-prefix pkg)``, ``$(dirname)``, ``$(filename)``, ``$(eval 'expr')`` where ``expr``
  only uses literals, arithmetic, comparisons and ``and``/``or``/``not``.

Semantics follow ``ros2 launch`` (launch/launch_ros, Jazzy):

- command-line ``name:=value`` pairs are launch configurations set before anything runs, so they
  also reach included files that declare the same argument;
- ``<arg>`` keeps an existing value, else takes its default, else is an error (required argument);
  ``<choice>`` values are enforced;
- ``<group>`` is scoped by default (``let`` and ``push_ros_namespace`` inside do not leak out);
- ``on_exit="shutdown"`` on a node: when it exits (for any reason) everything is shut down.

Deliberate differences (all stricter; our launch files behave the same under both tools):

- a command-line argument that no ``<arg>`` in the launch tree declares is an error (``ros2 launch``
  ignores it silently, which hides typos such as ``trak:=``);
- an ``<include>`` gets its own scope: its arguments and ``let`` values do not leak back into the
  including file (``ros2 launch`` leaks them unless the include sits in a ``<group>``, which is why
  our files wrap includes in ``<group>``);
- every executable and package is resolved before the first process starts, so a typo never
  leaves a half-started graph; ``--print --allow-missing NAME`` lets the named packages / commands
  (e.g. ros_gz_sim, gz: not installable here) stay unresolved in the printed plan, nothing else;
- a node that exits with a non-zero code is reported (and makes the launch's exit status 1) but
  the others keep running, as under ``ros2 launch``: a crashed inference node leaves the control
  node's watchdog to stop the car. Only ``on_exit="shutdown"`` nodes end the launch when they exit;
  ``--stop-on-failure`` stops everything on the first failure instead (``--keep-going`` is accepted
  and is the default). Except at start-up: a node that exits with an error code (not a signal)
  within ``--startup-grace`` seconds (default 30) of its start stops the launch, since start-up is all-or-nothing (a bad model path,
  parameter or device would otherwise leave an incomplete graph idling).

Process handling: each process runs in its own process group with its output (stdout and stderr
merged) prefixed by ``[name]``. Ctrl-C / SIGTERM sends SIGINT to every process, then SIGTERM after
``--sigterm-timeout`` seconds, then SIGKILL after ``--sigkill-timeout`` more seconds (both 5 s by
default, like ``ros2 launch``); a second Ctrl-C escalates at once. Children get SIGTERM from the
kernel if the runner itself dies (Linux ``PR_SET_PDEATHSIG``).

Exit status: 0 when every process ended cleanly, 1 when a process failed (non-zero exit outside a
requested shutdown, or had to be killed), 2 for a launch-file or command-line error (nothing started).

No rclpy import here: this module only starts processes.
"""
from __future__ import annotations

import argparse
import ast
import importlib.metadata
import importlib.util
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from xml.parsers import expat

import yaml

__all__ = ["LaunchError", "ProcessSpec", "LaunchPlan", "plan_launch", "run_plan", "main"]

DEFAULT_STARTUP_GRACE_S = 30.0
DEFAULT_SIGTERM_TIMEOUT_S = 5.0
DEFAULT_SIGKILL_TIMEOUT_S = 5.0
# Exit codes that mean "stopped because we asked it to" during a requested shutdown.
_CLEAN_SHUTDOWN_CODES = {0, -signal.SIGINT, -signal.SIGTERM, 128 + signal.SIGINT, 128 + signal.SIGTERM}
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ARG_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-.]*$")


class LaunchError(Exception):
    """A launch file or command-line problem; the message names the file, line and tag."""


# --------------------------------------------------------------------------------------------------
# 1. XML with line numbers
# --------------------------------------------------------------------------------------------------

@dataclass
class XmlElement:
    """One XML element of a launch file, with where it came from (for error messages)."""

    tag: str
    attrs: dict[str, str]
    children: list["XmlElement"]
    file: Path
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}: <{self.tag}>"


def read_launch_xml(path: Path) -> XmlElement:
    """Parse a launch file into XmlElements; stray text and XML errors raise LaunchError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LaunchError(f"cannot read launch file {path}: {exc.strerror}") from None
    parser = expat.ParserCreate()
    stack: list[XmlElement] = []
    root: list[XmlElement] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        element = XmlElement(tag, dict(attrs), [], path, parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(element)
        stack.append(element)

    def end(tag: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if data.strip() and stack:
            raise LaunchError(f"{path}:{parser.CurrentLineNumber}: <{stack[-1].tag}>: unexpected text "
                              f"{data.strip()[:40]!r} (launch files use attributes, not element text)")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise LaunchError(f"{path}:{exc.lineno}: not well-formed XML: {expat.errors.messages[exc.code]}") from None
    if not root or root[0].tag != "launch":
        raise LaunchError(f"{path}:1: the root element must be <launch>, got <{root[0].tag if root else ''}>")
    return root[0]


# --------------------------------------------------------------------------------------------------
# 2. Substitutions: $(name arg arg ...), nested, with single- or double-quoted arguments
# --------------------------------------------------------------------------------------------------

@dataclass
class Subst:
    """A parsed ``$(name args...)``; each argument is itself a list of text/Subst parts."""

    name: str
    args: list[list["str | Subst"]]


Parts = list["str | Subst"]
SUPPORTED_SUBSTITUTIONS = ("var", "env", "find-pkg-share", "find-pkg-prefix", "dirname", "filename", "eval")


def parse_substitutions(text: str) -> Parts:
    """Split ``text`` into literal strings and Subst objects; raises ValueError on bad syntax."""
    parts, pos = _parse_parts(text, 0, stop_chars="")
    if pos != len(text):  # pragma: no cover - _parse_parts consumes everything at top level
        raise ValueError(f"unexpected {text[pos]!r} at column {pos + 1}")
    return parts


def _parse_parts(text: str, pos: int, stop_chars: str) -> tuple[Parts, int]:
    """Read literal text and substitutions until one of ``stop_chars`` (not consumed) or the end."""
    parts: Parts = []
    buf: list[str] = []
    quoted = stop_chars in ("'", '"')
    while pos < len(text):
        ch = text[pos]
        if quoted and ch == "\\" and pos + 1 < len(text) and text[pos + 1] in "'\"\\$":
            buf.append(text[pos + 1])   # launch's escapes inside quotes: \' \" \\ \$
            pos += 2
            continue
        if text.startswith("$(", pos):
            if buf:
                parts.append("".join(buf))
                buf = []
            sub, pos = _parse_subst(text, pos + 2)
            parts.append(sub)
            continue
        if ch in stop_chars:
            break
        buf.append(ch)
        pos += 1
    if buf:
        parts.append("".join(buf))
    return parts, pos


def _parse_subst(text: str, pos: int) -> tuple[Subst, int]:
    """Parse after ``$(``: a name, then whitespace-separated arguments, up to the matching ``)``."""
    match = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*").match(text, pos)
    if not match:
        raise ValueError(f"expected a substitution name after '$(' at column {pos + 1}")
    name, pos = match.group(0), match.end()
    args: list[Parts] = []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            raise ValueError(f"unterminated substitution '$({name}' (missing ')')")
        if text[pos] == ")":
            return Subst(name, args), pos + 1
        if text[pos] in "'\"":
            quote = text[pos]
            end = pos + 1
            arg_parts, end = _parse_parts(text, end, stop_chars=quote)
            if end >= len(text):
                raise ValueError(f"unterminated quoted argument in '$({name}'")
            args.append(arg_parts)
            pos = end + 1
        else:
            arg_parts, pos = _parse_parts(text, pos, stop_chars=" \t\r\n)")
            args.append(arg_parts)


# Python operators allowed in $(eval ...): enough for conditions like "'$(var a)' == 'sim'".
_EVAL_NODES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
               ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Compare,
               ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Constant,
               ast.IfExp, ast.Tuple, ast.List, ast.Load)


def eval_trivial(expression: str) -> str:
    """Evaluate a literal-only Python expression the way $(eval) would; str() of the result.

    Only literals, arithmetic, comparisons, ``and``/``or``/``not`` and ``x if c else y`` are
    allowed (no names, calls or attributes): anything more is refused rather than executed.
    """
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"$(eval) expression {expression!r} is not valid Python: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _EVAL_NODES):
            raise ValueError(f"$(eval) expression {expression!r} uses {type(node).__name__}: only "
                             f"literals, arithmetic, comparisons and and/or/not are supported")
    return str(eval(compile(tree, "<eval>", "eval"), {"__builtins__": {}}, {}))  # noqa: S307 - checked AST


# --------------------------------------------------------------------------------------------------
# 3. Package and executable resolution (what `ros2 run` and find-pkg-share do)
# --------------------------------------------------------------------------------------------------

_SOURCE_TREE = Path(__file__).resolve().parents[2]  # .../src (this file is src/deepracer_common/deepracer_common/)


def find_package_prefix(package: str) -> Path | None:
    """The install prefix of ``package`` through the ament index (AMENT_PREFIX_PATH), or None."""
    if not os.environ.get("AMENT_PREFIX_PATH"):
        return None
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:  # pragma: no cover - ament_index_python is in the venv
        return None
    try:
        return Path(get_package_prefix(package))
    except (PackageNotFoundError, ValueError):
        return None


def find_package_share(package: str) -> Path:
    """``$(find-pkg-share pkg)``: the ament share folder, else the package's source folder."""
    prefix = find_package_prefix(package)
    if prefix is not None:
        return prefix / "share" / package
    source = _SOURCE_TREE / package
    if (source / "package.xml").is_file():
        return source
    hint = "" if os.environ.get("AMENT_PREFIX_PATH") else " (AMENT_PREFIX_PATH is empty: run 'source install/setup.bash')"
    raise ValueError(f"package '{package}' not found in the ament index{hint} nor in {_SOURCE_TREE}")


def find_launch_file(package: str, name: str) -> Path:
    """``ros2 launch PACKAGE NAME``: the file ``name`` anywhere in the package's share folder
    (ament index; the source folder in a checkout). LaunchError when absent or ambiguous."""
    try:
        share = find_package_share(package)
    except ValueError as exc:
        raise LaunchError(str(exc)) from None
    found = sorted(p for p in share.rglob(Path(name).name) if p.is_file()
                   and p.relative_to(share).as_posix().endswith(Path(name).as_posix()))
    if not found:
        launch_files = sorted(p.name for p in share.rglob("*.launch.xml"))
        raise LaunchError(f"package '{package}' has no launch file '{name}' in {share}"
                          + (f" (it has: {', '.join(launch_files)})" if launch_files else ""))
    if len(found) > 1:
        raise LaunchError(f"package '{package}': '{name}' is ambiguous: {', '.join(map(str, found))}")
    return found[0]


def _normalise_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _console_script(package: str, executable: str) -> importlib.metadata.EntryPoint | None:
    """The console_scripts entry point ``executable`` of the distribution named like ``package``."""
    for ep in importlib.metadata.entry_points(group="console_scripts", name=executable):
        dist = getattr(ep, "dist", None)
        if dist is None or _normalise_dist(dist.metadata["Name"]) == _normalise_dist(package):
            return ep
    return None


def _check_entry_point_module(ep: importlib.metadata.EntryPoint, what: str) -> None:
    try:
        found = importlib.util.find_spec(ep.module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ValueError(f"{what}: its module '{ep.module}' cannot be imported (not written yet, or "
                         f"the package is not built: run 'make setup')")


def resolve_node_executable(package: str, executable: str) -> list[str]:
    """The argv prefix that runs ``executable`` of ``package``, resolved the way ``ros2 run`` does.

    1. ``<prefix>/lib/<package>/<executable>`` for the package's ament prefix (colcon install);
       a setuptools entry-point script there also has its Python module checked for importability.
    2. else the ``console_scripts`` entry point ``executable`` of the installed distribution
       ``package``, run with this Python.
    Raises ValueError naming the package/executable when neither exists.
    """
    what = f"executable '{executable}' of package '{package}'"
    prefix = find_package_prefix(package)
    if prefix is not None:
        candidate = prefix / "lib" / package / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            ep = _console_script(package, executable)
            if ep is not None and _is_entry_point_script(candidate):
                _check_entry_point_module(ep, what)
            return [str(candidate)]
    ep = _console_script(package, executable)
    if ep is not None:
        _check_entry_point_module(ep, what)
        if "." in ep.attr:
            code = (f"import importlib, sys; f = importlib.import_module({ep.module!r})\n"
                    f"for a in {ep.attr.split('.')!r}: f = getattr(f, a)\nsys.exit(f())")
        else:
            code = f"import sys; from {ep.module} import {ep.attr}; sys.exit({ep.attr}())"
        return [sys.executable, "-c", code]
    if prefix is None and _console_script_any(package) is None:
        hint = "" if os.environ.get("AMENT_PREFIX_PATH") else " (AMENT_PREFIX_PATH is empty: run 'source install/setup.bash')"
        raise ValueError(f"package '{package}' not found{hint}")
    raise ValueError(f"{what} not found (neither lib/{package}/{executable} in the package's prefix "
                     f"nor a console_scripts entry point '{executable}')")


def _console_script_any(package: str) -> importlib.metadata.Distribution | None:
    try:
        return importlib.metadata.distribution(package.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        return None


def _is_entry_point_script(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return b"EASY-INSTALL-ENTRY-SCRIPT" in head or b"load_entry_point" in head


def resolve_command(token: str) -> str:
    """The first word of an ``<executable cmd>``: a path that must be executable, or a PATH lookup."""
    if "/" in token:
        path = Path(token)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ValueError(f"command '{token}' is not an executable file")
        return token
    found = shutil.which(token)
    if found is None:
        raise ValueError(f"command '{token}' not found on PATH")
    return found


# --------------------------------------------------------------------------------------------------
# 4. The interpreter: XML + command-line arguments -> a list of fully resolved processes
# --------------------------------------------------------------------------------------------------

@dataclass
class ProcessSpec:
    """One process to start: everything resolved, nothing left to substitute."""

    name: str                      # the output prefix (node name, or executable name), unique
    argv: list[str]
    env: dict[str, str]            # extra variables on top of the runner's environment
    cwd: str | None
    required: bool                 # on_exit="shutdown": its exit stops everything
    origin: str                    # file:line of the <node>/<executable>
    kind: str                      # "node" | "executable"


@dataclass
class LaunchPlan:
    """The result of evaluating a launch file: processes plus the arguments seen (for --show-args)."""

    processes: list[ProcessSpec]
    arguments: dict[str, tuple[str | None, str]]   # name -> (default or None if required, description)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Scope:
    """Launch configurations and the pushed ROS namespace visible at one point of the tree."""

    configs: dict[str, str]
    ros_namespace: str = ""

    def child(self, forwarding: bool = True) -> "_Scope":
        return _Scope(dict(self.configs) if forwarding else {}, self.ros_namespace)


# Allowed attributes and children per tag. "if"/"unless" are added for every action.
_ACTION_ATTRS: dict[str, set[str]] = {
    "arg": {"name", "default", "description"},
    "let": {"name", "value"},
    "node": {"pkg", "exec", "name", "namespace", "args", "ros_args", "output", "on_exit"},
    "executable": {"cmd", "name", "cwd", "output", "on_exit"},
    "include": {"file"},
    "group": {"scoped", "forwarding"},
    "push_ros_namespace": {"namespace"},
    "push-ros-namespace": {"namespace"},
}
_ACTION_CHILDREN: dict[str, set[str]] = {
    "arg": {"choice"}, "let": set(), "node": {"param", "remap", "env"}, "executable": {"env"},
    "include": {"arg"}, "push_ros_namespace": set(), "push-ros-namespace": set(),
}
_OUTPUT_VALUES = {"screen", "log", "both"}


class _Interpreter:
    """Walks the launch tree in document order, like the launch service executes actions."""

    def __init__(self, cli_args: dict[str, str], resolve: bool = True, allow_missing: frozenset[str] = frozenset()) -> None:
        self.cli_args = cli_args
        self.resolve = resolve
        self.allow_missing = allow_missing
        self.processes: list[ProcessSpec] = []
        self.arguments: dict[str, tuple[str | None, str]] = {}
        self.declared: set[str] = set()
        self.warnings: list[str] = []
        self._include_stack: list[Path] = []

    # ---- entry points -----------------------------------------------------------------------

    def run_file(self, path: Path, scope: _Scope) -> None:
        path = path.resolve()
        if path in self._include_stack:
            chain = " -> ".join(str(p) for p in [*self._include_stack, path])
            raise LaunchError(f"include cycle: {chain}")
        root = read_launch_xml(path)
        self._check_attrs(root, set())
        self._include_stack.append(path)
        try:
            self._run_actions(root.children, scope)
        finally:
            self._include_stack.pop()

    # ---- helpers ------------------------------------------------------------------------------

    def _check_attrs(self, el: XmlElement, allowed: set[str]) -> None:
        unknown = [a for a in el.attrs if a not in allowed]
        if unknown:
            allowed_txt = ", ".join(sorted(allowed)) or "none"
            raise LaunchError(f"{el.where}: unsupported attribute '{unknown[0]}' (supported here: {allowed_txt})")

    def _check_children(self, el: XmlElement, allowed: set[str]) -> None:
        for child in el.children:
            if child.tag not in allowed:
                allowed_txt = ", ".join(f"<{t}>" for t in sorted(allowed)) or "no children"
                raise LaunchError(f"{child.where}: unsupported tag inside <{el.tag}> (supported: {allowed_txt})")

    def _require(self, el: XmlElement, attr: str) -> str:
        if attr not in el.attrs:
            raise LaunchError(f"{el.where}: missing required attribute '{attr}'")
        return el.attrs[attr]

    def subst(self, text: str, scope: _Scope, el: XmlElement, attr: str) -> str:
        """Resolve the substitutions of one attribute value; errors name the file, line and attribute."""
        try:
            return self._eval_parts(parse_substitutions(text), scope, el)
        except ValueError as exc:
            raise LaunchError(f"{el.where}: attribute '{attr}': {exc}") from None

    def _eval_parts(self, parts: Parts, scope: _Scope, el: XmlElement) -> str:
        return "".join(p if isinstance(p, str) else self._eval_subst(p, scope, el) for p in parts)

    def _eval_subst(self, sub: Subst, scope: _Scope, el: XmlElement) -> str:
        args = [self._eval_parts(a, scope, el) for a in sub.args]

        def expect(low: int, high: int) -> None:
            if not low <= len(args) <= high:
                count = str(low) if low == high else f"{low} to {high}"
                raise ValueError(f"$({sub.name}) takes {count} argument(s), got {len(args)}")

        if sub.name == "var":
            expect(1, 2)
            if args[0] in scope.configs:
                return scope.configs[args[0]]
            if len(args) == 2:
                return args[1]
            raise ValueError(f"launch configuration '{args[0]}' does not exist (declare it with "
                             f"<arg name=\"{args[0]}\"> or <let> before using $(var {args[0]}))")
        if sub.name == "env":
            expect(1, 2)
            if args[0] in os.environ:
                return os.environ[args[0]]
            if len(args) == 2:
                return args[1]
            raise ValueError(f"environment variable '{args[0]}' is not set (give a default: $(env {args[0]} value))")
        if sub.name == "find-pkg-share":
            expect(1, 1)
            return str(find_package_share(args[0]))
        if sub.name == "find-pkg-prefix":
            expect(1, 1)
            prefix = find_package_prefix(args[0])
            if prefix is None:
                raise ValueError(f"package '{args[0]}' not found in the ament index (AMENT_PREFIX_PATH)")
            return str(prefix)
        if sub.name == "dirname":
            expect(0, 0)
            return str(el.file.parent)
        if sub.name == "filename":
            expect(0, 0)
            return str(el.file)
        if sub.name == "eval":
            expect(1, 1)
            return eval_trivial(args[0])
        raise ValueError(f"unsupported substitution '$({sub.name} ...)' (supported: "
                         f"{', '.join(SUPPORTED_SUBSTITUTIONS)})")

    def _split_cmdline(self, text: str, scope: _Scope, el: XmlElement, attr: str) -> list[str]:
        """Split a command line like launch does: literal text is shell-split, a substitution's
        value stays inside the word it touches (so a path with spaces from $(var) is one argument)."""
        try:
            parts = parse_substitutions(text)
            words: list[str] = []
            current: list[str] | None = None
            for part in parts:
                if isinstance(part, Subst):
                    current = (current or []) + [self._eval_subst(part, scope, el)]
                    continue
                tokens = shlex.split(part)
                if not tokens:
                    if current is not None:
                        words.append("".join(current))
                        current = None
                    continue
                if part[0].isspace() and current is not None:
                    words.append("".join(current))
                    current = None
                current = (current or []) + [tokens[0]]
                if len(tokens) > 1:
                    words.append("".join(current))
                    words.extend(tokens[1:-1])
                    current = [tokens[-1]]
                if part[-1].isspace():
                    words.append("".join(current))
                    current = None
            if current is not None:
                words.append("".join(current))
            return words
        except ValueError as exc:
            raise LaunchError(f"{el.where}: attribute '{attr}': {exc}") from None

    def _condition(self, el: XmlElement, scope: _Scope) -> bool:
        """``if``/``unless``: true/false/1/0 (case-insensitive) after substitution, like launch."""
        if "if" in el.attrs and "unless" in el.attrs:
            raise LaunchError(f"{el.where}: 'if' and 'unless' cannot be used together")
        for attr, wanted in (("if", True), ("unless", False)):
            if attr in el.attrs:
                value = self.subst(el.attrs[attr], scope, el, attr).strip().lower()
                if value not in ("true", "1", "false", "0"):
                    raise LaunchError(f"{el.where}: attribute '{attr}' must be true/false/1/0, got {value!r}")
                return (value in ("true", "1")) == wanted
        return True

    def _bool_attr(self, el: XmlElement, attr: str, default: bool) -> bool:
        if attr not in el.attrs:
            return default
        value = el.attrs[attr].strip().lower()
        if value not in ("true", "false"):
            raise LaunchError(f"{el.where}: attribute '{attr}' must be 'true' or 'false', got {el.attrs[attr]!r}")
        return value == "true"

    # ---- actions -----------------------------------------------------------------------------

    def _run_actions(self, elements: Iterable[XmlElement], scope: _Scope) -> None:
        for el in elements:
            if el.tag == "group":
                self._check_attrs(el, _ACTION_ATTRS["group"] | {"if", "unless"})
                scoped = self._bool_attr(el, "scoped", True)
                forwarding = self._bool_attr(el, "forwarding", True)
                if not self._condition(el, scope):
                    self._collect_declared(el.children)
                    continue
                self._run_actions(el.children, scope.child(forwarding) if scoped else scope)
                continue
            if el.tag not in _ACTION_ATTRS:
                supported = ", ".join(f"<{t}>" for t in [*_ACTION_ATTRS])
                raise LaunchError(f"{el.where}: unsupported tag (deepracer launch supports {supported})")
            self._check_attrs(el, _ACTION_ATTRS[el.tag] | {"if", "unless"})
            self._check_children(el, _ACTION_CHILDREN[el.tag])
            if el.tag == "arg":
                self.declared.add(self._require(el, "name"))  # declared even when its condition is false
            if not self._condition(el, scope):
                if el.tag == "include":
                    self._collect_declared_in_include(el, scope)
                continue
            getattr(self, "_do_" + el.tag.replace("-", "_"))(el, scope)

    def _collect_declared(self, elements: Iterable[XmlElement]) -> None:
        """Arguments declared in a skipped branch still count as declared (as in --show-args)."""
        for el in elements:
            if el.tag == "arg" and "name" in el.attrs:
                self.declared.add(el.attrs["name"])
            elif el.tag == "group":
                self._collect_declared(el.children)

    def _collect_declared_in_include(self, el: XmlElement, scope: _Scope) -> None:
        try:
            path = Path(self.subst(el.attrs.get("file", ""), scope, el, "file"))
            self._collect_declared(read_launch_xml(path).children)
        except LaunchError:
            pass  # a skipped include may legitimately point at something absent here

    def _do_arg(self, el: XmlElement, scope: _Scope) -> None:
        name = el.attrs["name"]
        if not _ARG_NAME_RE.match(name):
            raise LaunchError(f"{el.where}: invalid argument name {name!r}")
        description = el.attrs.get("description", "")
        choices = []
        for child in el.children:
            self._check_attrs(child, {"value"})
            choices.append(self._require(child, "value"))
        default = self.subst(el.attrs["default"], scope, el, "default") if "default" in el.attrs else None
        self.arguments.setdefault(name, (default, description))
        if name not in scope.configs:
            if default is None:
                unused = sorted(set(self.cli_args) - self.declared)
                hint = f" (given but not declared: {', '.join(unused)})" if unused else ""
                raise LaunchError(f"{el.where}: required launch argument '{name}' was not provided"
                                  f"{f' ({description})' if description else ''}: add {name}:=VALUE{hint}")
            scope.configs[name] = default
        if choices and scope.configs[name] not in choices:
            raise LaunchError(f"{el.where}: argument '{name}' = {scope.configs[name]!r} is not one of "
                              f"{', '.join(choices)}")

    def _do_let(self, el: XmlElement, scope: _Scope) -> None:
        name = self._require(el, "name")
        scope.configs[name] = self.subst(self._require(el, "value"), scope, el, "value")

    def _do_push_ros_namespace(self, el: XmlElement, scope: _Scope) -> None:
        pushed = self.subst(self._require(el, "namespace"), scope, el, "namespace")
        scope.ros_namespace = _join_namespace(scope.ros_namespace, pushed, el)

    def _do_include(self, el: XmlElement, scope: _Scope) -> None:
        path = Path(self.subst(self._require(el, "file"), scope, el, "file"))
        if not path.is_file():
            raise LaunchError(f"{el.where}: included file {path} does not exist")
        child = scope.child()
        for arg in el.children:
            self._check_attrs(arg, {"name", "value"})
            name = self.subst(self._require(arg, "name"), scope, arg, "name")
            child.configs[name] = self.subst(self._require(arg, "value"), child, arg, "value")
        try:
            self.run_file(path, child)
        except LaunchError as exc:
            raise LaunchError(f"{exc}\n  included from {el.where}") from None

    def _do_node(self, el: XmlElement, scope: _Scope) -> None:
        pkg = self.subst(self._require(el, "pkg"), scope, el, "pkg")
        exe = self.subst(self._require(el, "exec"), scope, el, "exec")
        try:
            argv = resolve_node_executable(pkg, exe) if self.resolve else [f"<{pkg}/{exe}>"]
        except ValueError as exc:
            if pkg not in self.allow_missing:
                raise LaunchError(f"{el.where}: {exc}") from None
            argv = [f"<{pkg}/{exe}>"]
            self.warnings.append(f"{el.where}: {exc} (allowed missing: printed unresolved)")
        if "args" in el.attrs:
            argv += self._split_cmdline(el.attrs["args"], scope, el, "args")
        ros_args: list[str] = []
        if "ros_args" in el.attrs:
            ros_args += self._split_cmdline(el.attrs["ros_args"], scope, el, "ros_args")
        name = self.subst(el.attrs["name"], scope, el, "name") if "name" in el.attrs else None
        if name is not None:
            if not _NAME_RE.match(name):
                raise LaunchError(f"{el.where}: invalid node name {name!r} (letters, digits, '_'; not starting with a digit)")
            ros_args += ["-r", f"__node:={name}"]
        node_ns = self.subst(el.attrs["namespace"], scope, el, "namespace") if "namespace" in el.attrs else ""
        namespace = _join_namespace(scope.ros_namespace, node_ns, el)
        if namespace:
            ros_args += ["-r", f"__ns:={namespace}"]
        env: dict[str, str] = {}
        params: list[str] = []
        remaps: list[str] = []
        for child in el.children:
            if child.tag == "param":
                params += self._param_args(child, scope, prefix="", node_name=name or exe)
            elif child.tag == "remap":
                self._check_attrs(child, {"from", "to"})
                src = self.subst(self._require(child, "from"), scope, child, "from")
                dst = self.subst(self._require(child, "to"), scope, child, "to")
                remaps += ["-r", f"{src}:={dst}"]
            else:
                env.update(self._env_entry(child, scope))
        ros_args += params + remaps
        if ros_args:
            argv += ["--ros-args", *ros_args]
        self._add_process(el, scope, name or exe, argv, env, None, kind="node")

    def _param_args(self, el: XmlElement, scope: _Scope, prefix: str, node_name: str) -> list[str]:
        """``<param>`` -> ``-p name:=value`` or ``--params-file path``, in document order."""
        if "from" in el.attrs:
            self._check_attrs(el, {"from"})
            self._check_children(el, set())
            path = Path(self.subst(el.attrs["from"], scope, el, "from"))
            self._check_params_file(path, el, node_name)
            return ["--params-file", str(path)]
        self._check_attrs(el, {"name", "value"})
        name = prefix + self.subst(self._require(el, "name"), scope, el, "name")
        if el.children:
            if "value" in el.attrs:
                raise LaunchError(f"{el.where}: a <param> has either 'value' or nested <param> children, not both")
            self._check_children(el, {"param"})
            out: list[str] = []
            for child in el.children:
                out += self._param_args(child, scope, prefix=name + ".", node_name=node_name)
            return out
        value = self.subst(self._require(el, "value"), scope, el, "value")
        # rcl parses the value as YAML (as launch_ros does): 1 -> int, true -> bool, text -> string.
        # An empty value must be quoted or it would parse as null.
        return ["-p", f"{name}:={value if value != '' else chr(39) * 2}"]

    def _check_params_file(self, path: Path, el: XmlElement, node_name: str) -> None:
        if not path.is_file():
            raise LaunchError(f"{el.where}: parameter file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise LaunchError(f"{el.where}: parameter file {path} is not valid YAML: {exc}") from None
        if not isinstance(data, dict) or not data:
            raise LaunchError(f"{el.where}: parameter file {path} must map node names to "
                              f"{{ros__parameters: {{...}}}}")
        for key, body in data.items():
            if not isinstance(body, dict) or not isinstance(body.get("ros__parameters"), dict):
                raise LaunchError(f"{el.where}: parameter file {path}: section '{key}' needs a "
                                  f"'ros__parameters' mapping")
        if not any(str(k) in ("/**", node_name, "/" + node_name) or str(k).endswith("/" + node_name)
                   for k in data):
            self.warnings.append(f"{el.where}: parameter file {path} has no section for node "
                                 f"'{node_name}' or '/**': the node will ignore it")

    def _env_entry(self, el: XmlElement, scope: _Scope) -> dict[str, str]:
        self._check_attrs(el, {"name", "value"})
        self._check_children(el, set())
        return {self.subst(self._require(el, "name"), scope, el, "name"):
                self.subst(self._require(el, "value"), scope, el, "value")}

    def _do_executable(self, el: XmlElement, scope: _Scope) -> None:
        argv = self._split_cmdline(self._require(el, "cmd"), scope, el, "cmd")
        if not argv:
            raise LaunchError(f"{el.where}: attribute 'cmd' is empty")
        try:
            argv[0] = resolve_command(argv[0]) if self.resolve else argv[0]
        except ValueError as exc:
            if argv[0] not in self.allow_missing:
                raise LaunchError(f"{el.where}: {exc}") from None
            self.warnings.append(f"{el.where}: {exc} (allowed missing: printed unresolved)")
        env: dict[str, str] = {}
        for child in el.children:
            env.update(self._env_entry(child, scope))
        name = self.subst(el.attrs["name"], scope, el, "name") if "name" in el.attrs else Path(argv[0]).name
        cwd = self.subst(el.attrs["cwd"], scope, el, "cwd") if "cwd" in el.attrs else None
        if cwd is not None and not Path(cwd).is_dir():
            raise LaunchError(f"{el.where}: cwd {cwd} is not a folder")
        self._add_process(el, scope, name, argv, env, cwd, kind="executable")

    def _add_process(self, el: XmlElement, scope: _Scope, name: str, argv: list[str],
                     env: dict[str, str], cwd: str | None, kind: str) -> None:
        output = self.subst(el.attrs.get("output", "screen"), scope, el, "output")
        if output not in _OUTPUT_VALUES:
            raise LaunchError(f"{el.where}: attribute 'output' must be one of {', '.join(sorted(_OUTPUT_VALUES))}")
        on_exit = el.attrs.get("on_exit")
        if on_exit is not None and on_exit != "shutdown":
            raise LaunchError(f"{el.where}: attribute 'on_exit' only supports 'shutdown', got {on_exit!r}")
        taken = {p.name for p in self.processes}
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name}-{n}"
        self.processes.append(ProcessSpec(unique, argv, env, cwd, on_exit == "shutdown",
                                          f"{el.file}:{el.line}", kind))


def _join_namespace(base: str, ns: str, el: XmlElement) -> str:
    """launch_ros's rule: an absolute namespace replaces, a relative one is appended; result absolute."""
    ns = ns.strip()
    if not ns:
        return base
    joined = ns if ns.startswith("/") else f"{base.rstrip('/')}/{ns}"
    joined = "/" + joined.strip("/")
    if joined != "/" and not all(_NAME_RE.match(tok) for tok in joined.strip("/").split("/")):
        raise LaunchError(f"{el.where}: invalid namespace {joined!r}")
    return "" if joined == "/" else joined


def parse_cli_args(pairs: Iterable[str]) -> dict[str, str]:
    """``name:=value`` words -> dict; anything else is a LaunchError naming the word."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition(":=")
        if not sep or not _ARG_NAME_RE.match(name):
            raise LaunchError(f"launch argument {pair!r} must look like name:=value")
        out[name] = value
    return out


def plan_launch(path: str | os.PathLike[str], cli_args: dict[str, str] | None = None,
                resolve: bool = True, allow_missing: Iterable[str] = ()) -> LaunchPlan:
    """Evaluate a launch file with command-line arguments into resolved processes (starts nothing).

    ``resolve=False`` skips finding node executables and commands (argv[0] becomes ``<pkg/exec>``):
    for --show-args and for checking a file's structure where the nodes are not installed.
    ``allow_missing``: package / command names that may stay unresolved (``<pkg/exec>``, with a
    warning) while everything else is resolved: for printing a plan whose external packages
    (Gazebo, ros_gz) are not installed here. Such a plan must not be run.
    Raises LaunchError for any unsupported construct, unresolvable package/executable/file,
    missing required argument, or a command-line argument no <arg> declares.
    """
    cli_args = dict(cli_args or {})
    path = Path(path)
    if not path.is_file():
        raise LaunchError(f"launch file {path} does not exist")
    interp = _Interpreter(cli_args, resolve, frozenset(allow_missing))
    interp.run_file(path, _Scope(dict(cli_args)))
    unknown = sorted(set(cli_args) - interp.declared)
    if unknown:
        known = ", ".join(sorted(interp.declared)) or "none"
        raise LaunchError(f"{path}: unknown launch argument(s) {', '.join(unknown)} "
                          f"(this launch file declares: {known})")
    return LaunchPlan(interp.processes, interp.arguments, interp.warnings)


# --------------------------------------------------------------------------------------------------
# 5. Running the processes
# --------------------------------------------------------------------------------------------------

@dataclass
class _Running:
    spec: ProcessSpec
    popen: "subprocess.Popen[bytes]"
    fd: int | None
    pending: bytes = b""
    returncode: int | None = None
    started_at: float = 0.0          # time.monotonic() at start


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGTERM this child when the runner dies (Linux only; harmless elsewhere)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class _Supervisor:
    """Starts the processes, forwards their output, and shuts them down in escalating steps."""

    def __init__(self, plan: LaunchPlan, keep_going: bool, sigterm_timeout_s: float,
                 sigkill_timeout_s: float, out: Callable[[str], None],
                 startup_grace_s: float = DEFAULT_STARTUP_GRACE_S) -> None:
        self.plan = plan
        self.keep_going = keep_going
        self.startup_grace_s = startup_grace_s
        self.sigterm_timeout_s = sigterm_timeout_s
        self.sigkill_timeout_s = sigkill_timeout_s
        self.out = out
        self.running: list[_Running] = []
        self.selector = selectors.DefaultSelector()
        self.failed: list[str] = []
        self.signals: list[int] = []
        self.shutdown_stage = 0          # 0 running, 1 SIGINT sent, 2 SIGTERM sent, 3 SIGKILL sent
        self.stage_since = 0.0

    def log(self, message: str) -> None:
        self.out(f"[launch] {message}")

    def start(self) -> None:
        for spec in self.plan.processes:
            env = {**os.environ, "PYTHONUNBUFFERED": "1", **spec.env}
            try:
                popen = subprocess.Popen(spec.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, env=env, cwd=spec.cwd,
                                         start_new_session=True, preexec_fn=_die_with_parent)
            except OSError as exc:
                self.failed.append(f"{spec.name}: could not start: {exc}")
                self.log(f"process '{spec.name}' could not start: {exc}")
                self.request_shutdown(f"'{spec.name}' could not start")
                return
            assert popen.stdout is not None
            fd = popen.stdout.fileno()
            os.set_blocking(fd, False)
            proc = _Running(spec, popen, fd, started_at=time.monotonic())
            self.selector.register(fd, selectors.EVENT_READ, proc)
            self.running.append(proc)
            self.log(f"started '{spec.name}' [pid {popen.pid}]")

    def _emit(self, proc: _Running, data: bytes, final: bool) -> None:
        proc.pending += data
        *lines, proc.pending = proc.pending.split(b"\n")
        if final and proc.pending:
            lines.append(proc.pending)
            proc.pending = b""
        for line in lines:
            self.out(f"[{proc.spec.name}] {line.decode(errors='replace').rstrip(chr(13))}")

    def _drain(self, proc: _Running, final: bool = False) -> None:
        if proc.fd is None:
            return
        while True:
            try:
                data = os.read(proc.fd, 65536)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data:
                self._emit(proc, data, final=False)
                continue
            if data == b"" or final:   # EOF, or the process is gone and nothing more is buffered
                self._emit(proc, b"", final=True)
                self.selector.unregister(proc.fd)
                proc.popen.stdout.close()  # type: ignore[union-attr]
                proc.fd = None
            return

    def _signal_all(self, sig: int) -> None:
        for proc in self.running:
            if proc.returncode is None:
                try:
                    os.killpg(proc.popen.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def request_shutdown(self, reason: str) -> None:
        if self.shutdown_stage == 0:
            self.log(f"shutting down ({reason}): SIGINT to all processes")
            self.shutdown_stage, self.stage_since = 1, time.monotonic()
            self._signal_all(signal.SIGINT)

    def _escalate(self) -> None:
        sig = signal.SIGTERM if self.shutdown_stage == 1 else signal.SIGKILL
        alive = [p.spec.name for p in self.running if p.returncode is None]
        if alive:
            self.log(f"{', '.join(alive)} still running: sending {signal.Signals(sig).name}")
        if sig == signal.SIGKILL:
            self.failed += [f"{name}: killed (did not stop on SIGINT/SIGTERM)" for name in alive]
        self.shutdown_stage, self.stage_since = self.shutdown_stage + 1, time.monotonic()
        self._signal_all(sig)

    def on_signal(self, signum: int, _frame: object) -> None:
        self.signals.append(signum)

    def loop(self) -> None:
        while True:
            for key, _ in self.selector.select(timeout=0.05):
                self._drain(key.data)
            while self.signals:
                signum = self.signals.pop(0)
                if self.shutdown_stage == 0:
                    self.request_shutdown(f"{signal.Signals(signum).name} received")
                elif self.shutdown_stage < 3:
                    self._escalate()
            for proc in self.running:
                if proc.returncode is None and proc.popen.poll() is not None:
                    proc.returncode = proc.popen.returncode
                    self._drain(proc, final=True)
                    self._on_exit(proc)
            if self.shutdown_stage in (1, 2):
                limit = self.sigterm_timeout_s if self.shutdown_stage == 1 else self.sigkill_timeout_s
                if time.monotonic() - self.stage_since > limit:
                    self._escalate()
            if all(p.returncode is not None for p in self.running):
                for proc in self.running:
                    self._drain(proc, final=True)
                return

    def _on_exit(self, proc: _Running) -> None:
        code = proc.returncode
        assert code is not None
        text = f"signal {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() else f"code {code}"
        during_shutdown = self.shutdown_stage > 0
        clean = code == 0 or (during_shutdown and code in _CLEAN_SHUTDOWN_CODES)
        self.log(f"process '{proc.spec.name}' [pid {proc.popen.pid}] exited with {text}")
        if not clean and self.shutdown_stage < 3:
            self.failed.append(f"{proc.spec.name}: exited with {text}")
        if during_shutdown:
            return
        if proc.spec.required:
            self.request_shutdown(f"'{proc.spec.name}' has on_exit=\"shutdown\"")
        elif not clean and not self.keep_going:
            self.request_shutdown(f"'{proc.spec.name}' failed")
        elif code > 0 and time.monotonic() - proc.started_at < self.startup_grace_s:
            # start-up is all-or-nothing: a node that refuses to start (bad model, parameter, device)
            # leaves an incomplete graph, so the launch fails at once instead of idling
            self.request_shutdown(f"'{proc.spec.name}' failed at start-up")

    def close(self) -> None:
        """Last resort (an exception in the loop): make sure nothing we started keeps running."""
        if any(p.returncode is None and p.popen.poll() is None for p in self.running):
            self._signal_all(signal.SIGKILL)
            for proc in self.running:
                proc.popen.wait()
        self.selector.close()


def run_plan(plan: LaunchPlan, keep_going: bool = True,
             sigterm_timeout_s: float = DEFAULT_SIGTERM_TIMEOUT_S,
             sigkill_timeout_s: float = DEFAULT_SIGKILL_TIMEOUT_S,
             out: Callable[[str], None] | None = None, startup_grace_s: float | None = None) -> int:
    """Start every process of ``plan``, supervise them until all have ended; 0 = all clean, 1 = failure.

    Must run in the main thread (it installs SIGINT/SIGTERM handlers, restored on return).
    """
    def _print(line: str) -> None:
        print(line, flush=True)

    supervisor = _Supervisor(plan, keep_going, sigterm_timeout_s, sigkill_timeout_s, out or _print,
                             DEFAULT_STARTUP_GRACE_S if startup_grace_s is None else startup_grace_s)
    previous = {sig: signal.signal(sig, supervisor.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        supervisor.start()
        supervisor.loop()
    finally:
        supervisor.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if supervisor.failed:
        supervisor.log("failed: " + "; ".join(supervisor.failed))
        return 1
    supervisor.log("all processes ended cleanly")
    return 0


# --------------------------------------------------------------------------------------------------
# 6. Command line
# --------------------------------------------------------------------------------------------------

def describe_plan(plan: LaunchPlan) -> str:
    """Human-readable list of the resolved processes (what --print shows)."""
    lines = []
    for spec in plan.processes:
        flags = " (on_exit=shutdown)" if spec.required else ""
        lines.append(f"[{spec.name}] {spec.kind} from {spec.origin}{flags}")
        lines.append(f"    {shlex.join(spec.argv)}")
        if spec.env:
            lines.append("    env: " + " ".join(f"{k}={shlex.quote(v)}" for k, v in spec.env.items()))
        if spec.cwd:
            lines.append(f"    cwd: {spec.cwd}")
    return "\n".join(lines)


def describe_arguments(plan: LaunchPlan) -> str:
    lines = ["Arguments (pass arguments as '<name>:=<value>'):"]
    for name, (default, description) in plan.arguments.items():
        lines.append(f"    '{name}':")
        lines.append(f"        {description or 'no description given'}")
        lines.append(f"        (default: {default!r})" if default is not None else "        (required)")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepracer launch",
        description="Run a ROS 2 XML launch file (the subset this project uses) as real processes. "
                    "On a sourced ROS 2 installation, 'ros2 launch FILE name:=value' runs the same files.")
    parser.add_argument("file", help="launch file (.launch.xml), or a PACKAGE followed by the file's name in "
                                     "its share folder (as ros2 launch: deepracer launch deepracer_bringup "
                                     "car.launch.xml)")
    parser.add_argument("arguments", nargs="*", metavar="name:=value", help="launch arguments")
    parser.add_argument("--print", "--dry-run", dest="dry_run", action="store_true",
                        help="resolve everything and print the processes, start nothing")
    parser.add_argument("--allow-missing", action="append", default=[], metavar="NAME",
                        help="with --print: a package or command that may be absent here (printed unresolved); "
                             "repeatable, e.g. --allow-missing ros_gz_sim --allow-missing gz")
    parser.add_argument("--show-args", "-s", action="store_true",
                        help="list the arguments the launch file declares (evaluated with the given ones)")
    parser.add_argument("--keep-going", action="store_true",
                        help="keep the other processes running when one fails (the default, as ros2 launch)")
    parser.add_argument("--stop-on-failure", action="store_true",
                        help="stop every process when one exits with an error (not ros2 launch's behaviour)")
    parser.add_argument("--startup-grace", type=float, default=DEFAULT_STARTUP_GRACE_S, metavar="S",
                        help="a process that exits with an error code within S seconds of its start stops the launch (a start-up "
                             "refusal: bad model, parameter, device); later failures leave the rest running "
                             "(default %(default)s)")
    parser.add_argument("--sigterm-timeout", type=float, default=DEFAULT_SIGTERM_TIMEOUT_S, metavar="S",
                        help="seconds between SIGINT and SIGTERM on shutdown (default %(default)s)")
    parser.add_argument("--sigkill-timeout", type=float, default=DEFAULT_SIGKILL_TIMEOUT_S, metavar="S",
                        help="seconds between SIGTERM and SIGKILL on shutdown (default %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``deepracer launch FILE [name:=value ...]`` or ``deepracer launch PACKAGE FILE [...]``; see the module
    docstring. Returns the exit status."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.sigterm_timeout < 0 or args.sigkill_timeout < 0:
        print("deepracer launch: --sigterm-timeout and --sigkill-timeout must be >= 0", file=sys.stderr)
        return 2
    if args.allow_missing and not args.dry_run:
        print("deepracer launch: --allow-missing only goes with --print (a plan with unresolved processes "
              "cannot run)", file=sys.stderr)
        return 2
    try:
        if args.arguments and ":=" not in args.arguments[0] and not Path(args.file).is_file():
            args.file = str(find_launch_file(args.file, args.arguments.pop(0)))   # PACKAGE FILE
        cli_args = parse_cli_args(args.arguments)
        if args.show_args:
            # ros2 launch --show-args lists arguments without needing the required ones: mimic that
            # by filling missing required arguments with a placeholder until evaluation succeeds.
            plan = _plan_for_show_args(args.file, cli_args)
            print(describe_arguments(plan))
            return 0
        plan = plan_launch(args.file, cli_args, allow_missing=args.allow_missing)
    except LaunchError as exc:
        print(f"deepracer launch: error: {exc}\nnothing was started.", file=sys.stderr)
        return 2
    for warning in plan.warnings:
        print(f"deepracer launch: warning: {warning}", file=sys.stderr)
    if args.dry_run:
        print(describe_plan(plan) if plan.processes else "(no processes)")
        return 0
    if not plan.processes:
        print("deepracer launch: the launch file starts no process", file=sys.stderr)
        return 0
    return run_plan(plan, keep_going=not args.stop_on_failure, startup_grace_s=args.startup_grace, sigterm_timeout_s=args.sigterm_timeout,
                    sigkill_timeout_s=args.sigkill_timeout)


def _plan_for_show_args(path: str, cli_args: dict[str, str]) -> LaunchPlan:
    given = dict(cli_args)
    for _ in range(50):
        try:
            plan = plan_launch(path, given, resolve=False)
        except LaunchError as exc:
            match = re.search(r"required launch argument '([^']+)' was not provided", str(exc))
            if not match:
                raise
            given[match.group(1)] = "<required>"
            continue
        for name in given:
            if name not in cli_args and name in plan.arguments:
                plan.arguments[name] = (None, plan.arguments[name][1])
        return plan
    raise LaunchError(f"{path}: too many required arguments")


if __name__ == "__main__":
    sys.exit(main())
