"""The `deepracer` command: one entry point, subcommands implemented in the package that owns them.

Subcommands are imported lazily, so `deepracer launch` or `deepracer tracks` work without torch.
Each target is a ``main(argv: list[str] | None) -> int`` function.
"""
from __future__ import annotations

import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:function, one-line help)
    "tracks": ("deepracer_tracks.cli:main", "list, show and import tracks"),
    "sim": ("deepracer_sim.cli:main", "simulator tools: snapshot gallery"),
    "train": ("deepracer_agent.train:main", "train a policy with PPO on the embedded simulator"),
    "evaluate": ("deepracer_agent.evaluate:main", "naive and robust evaluation of checkpoints"),
    "export": ("deepracer_agent.export:main", "export a checkpoint to a model artifact (ONNX + OpenVINO IR)"),
    "demo": ("deepracer_agent.demo:main", "train on the default track until robust evaluation passes, then evaluate"),
    "launch": ("deepracer_agent.launch_runner:main", "run a ROS 2 XML launch file without ros2 launch"),
    "trainer": ("deepracer_agent.distributed.trainer:main", "decoupled training: the trainer role"),
    "worker": ("deepracer_agent.distributed.worker:main", "decoupled training: a rollout worker"),
    "evaluator": ("deepracer_agent.distributed.evaluator:main", "decoupled training: an evaluation worker"),
}


def _usage() -> str:
    width = max(len(n) for n in SUBCOMMANDS)
    lines = ["usage: deepracer <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run 'deepracer <command> --help' for the options of a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"deepracer: unknown command '{name}'\n\n{_usage()}", file=sys.stderr)
        return 2
    target, _ = SUBCOMMANDS[name]
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        print(f"deepracer {name}: this command needs '{exc.name}', which is not installed "
              f"(run 'make setup' or install the package that provides it)", file=sys.stderr)
        return 2
    result = getattr(module, func_name)(rest)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
