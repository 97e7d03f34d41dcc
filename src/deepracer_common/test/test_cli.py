"""The `deepracer` dispatcher: verbs found through entry points, lazy import, clear errors."""
from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

from deepracer_common import cli

# the verbs the workspace's packages register (setup.py entry points, group deepracer.commands)
EXPECTED = {"launch": "deepracer_common", "tracks": "deepracer_tracks", "sim": "deepracer_sim",
            "gazebo": "deepracer_sim", "calibrate": "deepracer_control", "train": "deepracer_agent",
            "evaluate": "deepracer_agent", "export": "deepracer_agent", "demo": "deepracer_agent",
            "trainer": "deepracer_agent", "worker": "deepracer_agent", "evaluator": "deepracer_agent"}


def installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_every_installed_package_registers_its_verbs():
    verbs = cli.discover()
    for name, dist in EXPECTED.items():
        if installed(dist):
            assert name in verbs, f"{dist} should register 'deepracer {name}'"
            assert verbs[name].module.split(".")[0] == dist


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_verb_target_exists_without_importing_it(name):
    verb = cli.discover().get(name)
    if verb is None:
        pytest.skip(f"{EXPECTED[name]} is not installed here")
    assert verb.source_file() is not None, verb.target
    assert verb.summary(), f"{verb.module} needs a module docstring (its first line is the help)"


def test_help_lists_the_verbs_with_a_summary(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: deepracer <command>")
    for name in cli.discover():
        assert f"  {name} " in out


def test_unknown_verb_did_you_mean(capsys):
    assert cli.main(["lanch"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'lanch' (did you mean 'launch'?)" in err


def test_missing_dependency_is_one_clear_line(monkeypatch, capsys):
    fake = cli.Verb("fly", "deepracer_no_such_module.fly:main", "deepracer_wings")
    monkeypatch.setattr(cli, "discover", lambda: {"fly": fake})
    assert cli.main(["fly", "--now"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("deepracer fly: this command needs the Python module 'deepracer_no_such_module', which is not "
                   "installed (it comes with deepracer_wings's dependencies: run 'make setup', or install them)")


def test_a_verb_gets_its_arguments_and_its_exit_status(capsys):
    assert cli.main(["launch", "--help"]) == 0
    assert "deepracer launch" in capsys.readouterr().out


def test_listing_imports_no_verb_module():
    code = ("import sys; from deepracer_common import cli; cli.main(['--help']); "
            "print(sorted(m for m in sys.modules if m.startswith(('deepracer_agent', 'deepracer_tracks', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_summary_line():
    assert cli._summary_line("``deepracer train``: PPO on N cars. More text.\n\nBody") == "PPO on N cars"
    assert cli._summary_line("The trainer role: Redis -> PPO\nupdate every K episodes.") == \
        "The trainer role: Redis -> PPO update every K episodes"
    assert cli._summary_line("the suite (Table II), and Fig. 6 of the paper. Details.") == \
        "the suite (Table II), and Fig. 6 of the paper"
