import pytest

from deepracer_agent import cli


def test_help_lists_every_subcommand(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.SUBCOMMANDS:
        assert name in out


def test_unknown_subcommand_is_refused_with_usage(capsys):
    assert cli.main(["flyy"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'flyy'" in err


@pytest.mark.parametrize("name", sorted(cli.SUBCOMMANDS))
def test_every_subcommand_target_is_importable(name):
    import importlib
    module_name, func_name = cli.SUBCOMMANDS[name][0].split(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, func_name))
