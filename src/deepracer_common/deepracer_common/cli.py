"""The `deepracer` command: one dispatcher, verbs contributed by the packages that own them.

Every package registers its verbs as setuptools entry points in the group ``deepracer.commands``
(as ros2cli does with ``ros2cli.command``)::

    entry_points={"deepracer.commands": ["train = deepracer_agent.commands.train:main"]}

The target is a function ``main(argv: list[str] | None) -> int``. Its module is imported only when
the verb runs, so ``deepracer launch`` on the car never imports torch; a verb whose package
dependencies are missing prints one line naming the missing module. The one-line help shown by
``deepracer --help`` is the target module's ``COMMAND_HELP = "..."`` string, else the first sentence
of its docstring, read from its source file WITHOUT importing it, so listing the verbs stays fast
and works when a dependency is missing.
"""
from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GROUP", "Verb", "discover", "main"]

#: The entry-point group every package registers its ``deepracer`` verbs in.
GROUP = "deepracer.commands"
#: A module-level string constant of this name is a verb's one-line help (else its docstring's first sentence).
HELP_NAME = "COMMAND_HELP"


@dataclass(frozen=True)
class Verb:
    name: str
    target: str        # "module:function"
    distribution: str  # the package that registered it

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def function(self) -> str:
        return self.target.partition(":")[2] or "main"

    def source_file(self) -> Path | None:
        """The target module's .py file, found WITHOUT importing it or its parent packages."""
        top, *rest = self.module.split(".")
        try:
            spec = importlib.util.find_spec(top)  # a top-level lookup imports nothing
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
        if not rest:
            return Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
        for folder in spec.submodule_search_locations or []:
            base = Path(folder, *rest)
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file():
                    return candidate
        return None

    def summary(self) -> str:
        """First line of the target module's docstring, read from source without importing it."""
        source = self.source_file()
        if source is None:
            return ""
        try:
            with open(source, encoding="utf-8") as fh:
                tree = ast.parse(fh.read())
        except (OSError, SyntaxError, UnicodeDecodeError):
            return ""
        for node in tree.body:  # COMMAND_HELP = "..." at module level wins over the docstring
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) and node.targets[0].id == HELP_NAME
                    and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
                return node.value.value
        return _summary_line(ast.get_docstring(tree) or "")


def _summary_line(doc: str, width: int = 76) -> str:
    """The first sentence of a docstring's first paragraph, without a leading ```deepracer x``:``."""
    para = " ".join(doc.strip().split("\n\n", 1)[0].split())
    if para.startswith("`") and "`:" in para:
        para = para.split("`:", 1)[1].strip()
    para = re.split(r"(?:\.|;)\s+(?=[A-Z`(])", para, maxsplit=1)[0]   # "Fig. 6" does not end a sentence
    para = para.rstrip(".")
    return para if len(para) <= width else para[: width - 3].rstrip() + "..."


def discover() -> dict[str, Verb]:
    """Every registered verb by name (sorted). Two packages registering one verb: the first wins."""
    verbs: dict[str, Verb] = {}
    for ep in importlib.metadata.entry_points(group=GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", "") or ""
        verbs.setdefault(ep.name, Verb(ep.name, ep.value, dist))
    return dict(sorted(verbs.items()))


def _usage(verbs: dict[str, Verb]) -> str:
    lines = ["usage: deepracer <command> [options]", "", "commands:"]
    if verbs:
        width = max(len(n) for n in verbs)
        lines += [f"  {v.name:<{width}}  {v.summary()}".rstrip() for v in verbs.values()]
    else:
        lines.append("  (none registered: build the workspace with 'make setup' and source install/setup.bash)")
    lines += ["", "Run 'deepracer <command> --help' for the options of a command."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``deepracer <verb> [args...]``: run the verb's ``main(args)``; returns its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbs = discover()
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage(verbs))
        return 0
    name, rest = args[0], args[1:]
    verb = verbs.get(name)
    if verb is None:
        from .options import did_you_mean

        print(f"deepracer: unknown command '{name}'{did_you_mean(name, list(verbs))}\n\n{_usage(verbs)}",
              file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(verb.module)
    except ModuleNotFoundError as exc:
        missing = exc.name or str(exc)
        print(f"deepracer {name}: this command needs the Python module '{missing}', which is not installed "
              f"(it comes with {verb.distribution or 'its package'}'s dependencies: run 'make setup', "
              f"or install them)", file=sys.stderr)
        return 2
    func = getattr(module, verb.function, None)
    if func is None:
        print(f"deepracer {name}: {verb.target} does not exist (a broken entry point of "
              f"{verb.distribution or 'a package'})", file=sys.stderr)
        return 2
    try:
        return int(func(rest) or 0)
    except SystemExit as exc:  # argparse's --help / usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)


if __name__ == "__main__":
    sys.exit(main())
