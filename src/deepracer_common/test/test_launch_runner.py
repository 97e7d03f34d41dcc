"""The launch runner's XML subset and ros2-launch semantics, on small launch files in tmp_path.

Everything here evaluates launch files without starting processes (plan_launch / --print);
test_launch_processes.py runs real ones.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from deepracer_common.launch_runner import (
    LaunchError,
    eval_trivial,
    main,
    parse_cli_args,
    parse_substitutions,
    plan_launch,
)

PY = sys.executable


def write(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def launch(tmp_path: Path, body: str, name: str = "test.launch.xml") -> Path:
    return write(tmp_path / name, f"<launch>\n{textwrap.dedent(body).strip(chr(10))}\n</launch>\n")


def echo(name: str, text: str) -> str:
    """An <executable> whose argv shows a resolved value (python is always resolvable)."""
    return f'<executable cmd="{PY} -c pass {text}" name="{name}"/>'


def argv_of(plan, name: str) -> list[str]:
    return next(p.argv for p in plan.processes if p.name == name)


# --- arguments --------------------------------------------------------------------------------

def test_arg_default_and_command_line_override(tmp_path):
    f = launch(tmp_path, f"""
        <arg name="track" default="reInvent2019_track" description="track name"/>
        {echo("e", "$(var track)")}
    """)
    assert argv_of(plan_launch(f), "e")[-1] == "reInvent2019_track"
    assert argv_of(plan_launch(f, {"track": "Oval_track"}), "e")[-1] == "Oval_track"


def test_required_arg_missing_is_an_error_naming_it(tmp_path):
    f = launch(tmp_path, '<arg name="model" description="model artifact"/>')
    with pytest.raises(LaunchError, match=r"test.launch.xml:2: <arg>: required launch argument 'model'.*model artifact"):
        plan_launch(f)
    assert plan_launch(f, {"model": "m"}).processes == []


def test_undeclared_command_line_argument_is_refused(tmp_path):
    f = launch(tmp_path, '<arg name="track" default="a"/>')
    with pytest.raises(LaunchError, match=r"unknown launch argument\(s\) trak .*declares: track"):
        plan_launch(f, {"trak": "b"})


def test_choices_are_enforced(tmp_path):
    f = launch(tmp_path, """
        <arg name="backend" default="sim">
          <choice value="sim"/>
          <choice value="sysfs"/>
        </arg>
    """)
    plan_launch(f, {"backend": "sysfs"})
    with pytest.raises(LaunchError, match=r":2: <arg>: argument 'backend' = 'pwm' is not one of sim, sysfs"):
        plan_launch(f, {"backend": "pwm"})


def test_var_before_declaration_is_an_error_but_var_default_works(tmp_path):
    f = launch(tmp_path, f"""
        {echo("e", "$(var rate)")}
        <arg name="rate" default="15.0"/>
    """)
    with pytest.raises(LaunchError, match=r":2: <executable>: attribute 'cmd': launch configuration 'rate' does not exist"):
        plan_launch(f)
    g = launch(tmp_path, echo("e", "$(var rate 30.0)"), name="g.launch.xml")
    assert argv_of(plan_launch(g), "e")[-1] == "30.0"


def test_cli_args_syntax():
    assert parse_cli_args(["a:=1", "b:=", "c:=x:=y"]) == {"a": "1", "b": "", "c": "x:=y"}
    with pytest.raises(LaunchError, match="'track=Oval' must look like name:=value"):
        parse_cli_args(["track=Oval"])


# --- let, group, include, conditions --------------------------------------------------------

def test_let_group_scoping_and_conditions(tmp_path):
    f = launch(tmp_path, f"""
        <arg name="use_a" default="true"/>
        <let name="x" value="outer"/>
        <group>
          <let name="x" value="inner"/>
          {echo("in_group", "$(var x)")}
        </group>
        {echo("after_group", "$(var x)")}
        <group scoped="false">
          <let name="x" value="leaked"/>
        </group>
        {echo("after_unscoped", "$(var x)")}
        <group if="$(var use_a)">{echo("a", "A")}</group>
        <group unless="$(var use_a)">{echo("b", "B")}</group>
        <executable cmd="{PY} -c pass" name="c" if="$(eval '\\'$(var use_a)\\' == \\'false\\'')"/>
    """)
    plan = plan_launch(f)
    assert argv_of(plan, "in_group")[-1] == "inner"
    assert argv_of(plan, "after_group")[-1] == "outer"
    assert argv_of(plan, "after_unscoped")[-1] == "leaked"
    assert [p.name for p in plan.processes if p.name in "abc"] == ["a"]
    plan = plan_launch(f, {"use_a": "false"})
    assert [p.name for p in plan.processes if p.name in "abc"] == ["b", "c"]
    # if/unless accept any case, like launch; the Python comparison in $(eval) does not
    plan = plan_launch(f, {"use_a": "False"})
    assert [p.name for p in plan.processes if p.name in "abc"] == ["b"]
    with pytest.raises(LaunchError, match=r"attribute 'if' must be true/false/1/0, got 'maybe'"):
        plan_launch(f, {"use_a": "maybe"})


def test_if_and_unless_together_is_an_error(tmp_path):
    f = launch(tmp_path, '<group if="true" unless="false"/>')
    with pytest.raises(LaunchError, match=r":2: <group>: 'if' and 'unless' cannot be used together"):
        plan_launch(f)


def test_include_gets_its_own_scope_and_sees_the_parent(tmp_path):
    write(tmp_path / "child.launch.xml", f"""
        <launch>
          <arg name="who" description="required in the child"/>
          <arg name="track" default="child_default"/>
          <let name="leak" value="from_child"/>
          {echo("child", "$(var who)/$(var track)/$(dirname)")}
        </launch>
    """)
    f = launch(tmp_path, f"""
        <arg name="track" default="parent_track"/>
        <include file="$(dirname)/child.launch.xml">
          <arg name="who" value="me"/>
        </include>
        {echo("parent", "$(var leak not_leaked)")}
    """)
    plan = plan_launch(f)
    # the child sees the parent's 'track' (ros2 launch semantics), its own 'who', and its own dirname
    assert argv_of(plan, "child")[-1] == f"me/parent_track/{tmp_path.resolve()}"
    assert argv_of(plan, "parent")[-1] == "not_leaked"
    # command-line arguments reach included files; arguments declared only there count as declared
    assert argv_of(plan_launch(f, {"who": "cli"}), "child")[-1].startswith("me/")


def test_include_missing_required_arg_names_both_files(tmp_path):
    write(tmp_path / "child.launch.xml", '<launch><arg name="who"/></launch>')
    f = launch(tmp_path, '<include file="$(dirname)/child.launch.xml"/>')
    with pytest.raises(LaunchError) as err:
        plan_launch(f)
    assert "child.launch.xml:1: <arg>: required launch argument 'who'" in str(err.value)
    assert "included from" in str(err.value) and "test.launch.xml:2: <include>" in str(err.value)


def test_include_cycle_is_refused(tmp_path):
    f = launch(tmp_path, '<include file="$(filename)"/>')
    with pytest.raises(LaunchError, match="include cycle"):
        plan_launch(f)


def test_skipped_include_still_declares_its_args(tmp_path):
    write(tmp_path / "child.launch.xml", '<launch><arg name="extra" default="1"/></launch>')
    f = launch(tmp_path, '<include file="$(dirname)/child.launch.xml" if="false"/>')
    plan_launch(f, {"extra": "2"})  # accepted: 'extra' is declared in the tree


# --- nodes: namespaces, params, remaps, resolution -----------------------------------------------

def test_node_argv_namespaces_params_and_remaps(tmp_path):
    params = write(tmp_path / "p.yaml", """
        /**:
          ros__parameters:
            a: 1
    """)
    f = launch(tmp_path, f"""
        <arg name="greeting" default=""/>
        <group>
          <push_ros_namespace namespace="car1"/>
          <node pkg="deepracer_common" exec="deepracer" name="n1" namespace="sub" args="--help 'two words'" output="screen">
            <param from="{params}"/>
            <param name="greeting" value="$(var greeting)"/>
            <param name="gains"><param name="kp" value="0.5"/></param>
            <remap from="chatter" to="/chat"/>
            <env name="FOO" value="bar"/>
          </node>
        </group>
        <node pkg="deepracer_common" exec="deepracer" name="n2" namespace="/abs"/>
        <node pkg="deepracer_common" exec="deepracer"/>
    """)
    plan = plan_launch(f)
    n1 = plan.processes[0]
    assert Path(n1.argv[0]).name == "deepracer"
    assert n1.argv[1:] == ["--help", "two words", "--ros-args", "-r", "__node:=n1", "-r", "__ns:=/car1/sub",
                           "--params-file", str(params), "-p", "greeting:=''", "-p", "gains.kp:=0.5",
                           "-r", "chatter:=/chat"]
    assert n1.env == {"FOO": "bar"} and n1.kind == "node" and not n1.required
    assert argv_of(plan, "n2")[1:] == ["--ros-args", "-r", "__node:=n2", "-r", "__ns:=/abs"]
    assert plan.processes[2].name == "deepracer" and plan.processes[2].argv[1:] == []


def test_node_resolution_falls_back_to_console_scripts(tmp_path, monkeypatch):
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    f = launch(tmp_path, '<node pkg="deepracer_common" exec="deepracer" name="cli"/>')
    argv = argv_of(plan_launch(f), "cli")
    assert argv[:2] == [sys.executable, "-c"]
    assert "from deepracer_common.cli import main" in argv[2]


@pytest.mark.parametrize("node, message", [
    ('<node pkg="no_such_pkg" exec="x"/>', "package 'no_such_pkg' not found"),
    ('<node pkg="deepracer_common" exec="no_such_exec"/>', "executable 'no_such_exec' of package 'deepracer_common' not found"),
    ('<node pkg="deepracer_common" exec="deepracer" name="bad-name"/>', "invalid node name 'bad-name'"),
    ('<executable cmd="no_such_command_xyz --flag"/>', "command 'no_such_command_xyz' not found on PATH"),
    ('<node pkg="deepracer_common" exec="deepracer"><param from="/nonexistent.yaml"/></node>',
     "parameter file /nonexistent.yaml does not exist"),
    ('<node pkg="deepracer_common" exec="deepracer" on_exit="restart"/>', "'on_exit' only supports 'shutdown'"),
])
def test_unresolvable_things_are_refused_with_the_line(tmp_path, node, message):
    f = launch(tmp_path, node)
    with pytest.raises(LaunchError) as err:
        plan_launch(f)
    assert f"{f}:2: <" in str(err.value) and message in str(err.value)


def test_params_file_structure_is_checked(tmp_path):
    bad = write(tmp_path / "bad.yaml", "gains: [1, 2]\n")
    f = launch(tmp_path, f'<node pkg="deepracer_common" exec="deepracer"><param from="{bad}"/></node>')
    with pytest.raises(LaunchError, match=r"section 'gains' needs a 'ros__parameters' mapping"):
        plan_launch(f)
    other = write(tmp_path / "other.yaml", "other_node:\n  ros__parameters:\n    a: 1\n")
    g = launch(tmp_path, f'<node pkg="deepracer_common" exec="deepracer" name="me"><param from="{other}"/></node>',
               name="g.launch.xml")
    assert any("no section for node 'me'" in w for w in plan_launch(g).warnings)


# --- refusing what is not supported ----------------------------------------------------------------

@pytest.mark.parametrize("body, message", [
    ('<set_parameter name="a" value="1"/>', r":2: <set_parameter>: unsupported tag"),
    ('<arg name="a" default="1" typo="x"/>', r":2: <arg>: unsupported attribute 'typo'"),
    ('<node pkg="deepracer_common" exec="deepracer" respawn="true"/>', r":2: <node>: unsupported attribute 'respawn'"),
    ('<node pkg="deepracer_common" exec="deepracer"><timer/></node>', r":2: <timer>: unsupported tag inside <node>"),
    ('<let name="a" value="$(command ls)"/>', r":2: <let>: attribute 'value': unsupported substitution '\$\(command"),
    ('<let name="a" value="$(anon x)"/>', r"unsupported substitution '\$\(anon"),
    ('<let name="a" value="$(eval \'__import__(&quot;os&quot;)\')"/>', r"\$\(eval\) expression .* uses Call"),
    ('<let name="a" value="$(var"/>', r"unterminated substitution"),
    ('<let name="a" value="$(env DEEPRACER_SURELY_UNSET_VAR)"/>', r"environment variable 'DEEPRACER_SURELY_UNSET_VAR' is not set"),
    ('<arg name="a" default="1">text</arg>', r":2: <arg>: unexpected text 'text'"),
    ('<arg name="a" default="1">', r"not well-formed XML"),
])
def test_unsupported_constructs_are_refused_with_file_and_line(tmp_path, body, message):
    f = launch(tmp_path, body)
    with pytest.raises(LaunchError, match=message) as err:
        plan_launch(f)
    assert str(f) in str(err.value)


def test_root_must_be_launch(tmp_path):
    f = write(tmp_path / "x.launch.xml", "<robot/>")
    with pytest.raises(LaunchError, match=r"x.launch.xml:1: the root element must be <launch>, got <robot>"):
        plan_launch(f)


def test_main_refuses_before_starting_anything(tmp_path, capsys):
    """An error late in the file means the processes before it never start (no half-started graph)."""
    marker = tmp_path / "started"
    f = launch(tmp_path, f"""
        <executable cmd="{PY} -c 'open(&quot;{marker}&quot;, &quot;w&quot;).close()'" name="first"/>
        <node pkg="deepracer_common" exec="missing_node_exec" name="second"/>
    """)
    assert main([str(f)]) == 2
    err = capsys.readouterr().err
    assert "missing_node_exec" in err and ":3: <node>" in err and "nothing was started" in err
    assert not marker.exists()


def test_main_print_and_show_args(tmp_path, capsys):
    f = launch(tmp_path, f"""
        <arg name="model" description="the model"/>
        <arg name="rate" default="15.0" description="frames per second"/>
        <executable cmd="{PY} -c pass $(var model)" name="e" on_exit="shutdown"/>
    """)
    assert main(["--print", str(f), "model:=/m", "rate:=30.0"]) == 0
    out = capsys.readouterr().out
    assert "[e] executable from" in out and "(on_exit=shutdown)" in out and "/m" in out
    assert main(["--show-args", str(f)]) == 0
    out = capsys.readouterr().out
    assert "'model':" in out and "(required)" in out and "(default: '15.0')" in out
    assert main(["--print", str(f)]) == 2
    assert main(["--print", str(tmp_path / "absent.launch.xml")]) == 2
    assert "does not exist" in capsys.readouterr().err


# --- substitution and eval parsing ------------------------------------------------------------------

def test_substitution_parser_handles_nesting_and_quotes():
    parts = parse_substitutions("a $(var $(var b)) $(env HOME 'x y') z")
    assert parts[0] == "a " and parts[-1] == " z"
    assert parts[1].name == "var" and parts[1].args[0][0].name == "var"
    assert parts[3].name == "env" and parts[3].args == [["HOME"], ["x y"]]


def test_eval_is_limited_to_literals():
    assert eval_trivial("'sim' == 'sim' and not False") == "True"
    assert eval_trivial("2 * 7.5") == "15.0"
    for bad in ("open('x')", "x + 1", "().__class__", "[i for i in (1,)]"):
        with pytest.raises(ValueError, match=r"\$\(eval\) expression"):
            eval_trivial(bad)


def test_deepracer_cli_dispatches_launch(tmp_path, capsys):
    from deepracer_common.cli import main as cli_main

    f = launch(tmp_path, f'<arg name="a" default="1"/>{echo("e", "$(var a)")}')
    assert cli_main(["launch", "--print", str(f), "a:=2"]) == 0
    assert "[e] executable" in capsys.readouterr().out
    assert cli_main(["launch", str(f), "b:=2"]) == 2
    assert "unknown launch argument(s) b" in capsys.readouterr().err
