"""The one options schema: kinds, ranges, choices, did-you-mean, YAML numbers, overrides, file errors."""
from __future__ import annotations

import dataclasses

import pytest

from deepracer_common.options import (
    Options,
    OptionsError,
    Rule,
    apply_overrides,
    check_value,
    load_yaml,
    option,
    parse_override,
    read_yaml,
    to_number,
)


class MyError(OptionsError):
    pass


@dataclasses.dataclass
class Inner(Options):
    lo_m: float = option(1.0, lo=0.0, unit="m", doc="low")
    hi_m: float = option(2.0, lo=0.0, unit="m", doc="high")

    def check(self) -> None:
        if self.lo_m > self.hi_m:
            raise self.error("lo_m: must be <= hi_m")


@dataclasses.dataclass
class Cfg(Options):
    error = MyError
    lr: float = option(3e-4, lo=0.0, hi=1.0, lo_open=True, doc="learning rate")
    steps: int = option(10, kind=int, lo=1, doc="steps")
    n_steps: object = option("auto", kind=int, lo=1, also=("auto",), doc="or auto")
    mode: str = option("fast", kind=str, choices=("fast", "safe"))
    flag: bool = option(False, kind=bool)
    fraction: float = option(0.0, lo=0.0, hi=1.0, hi_open=True)
    cap_s: float | None = option(None, lo=0.0, lo_open=True, allow_none=True, unit="s")
    tracks: list | None = option(None, kind=list, allow_none=True)
    inner: Inner = option(kind=Inner, default_factory=Inner)


@pytest.mark.parametrize("text, value", [
    ("lr: 3e-1", 0.3), ("lr: 3E-1", 0.3), ("lr: 1.5e-3", 0.0015), ("lr: 1", 1.0), ("lr: 0.5", 0.5),
    ("lr: '3e-1'", 0.3), ("lr: 1_0e-2", 0.1),
])
def test_numbers_in_any_yaml_form_for_floats(text, value):
    cfg = Cfg.from_dict(load_yaml(text))
    assert cfg.lr == pytest.approx(value) and isinstance(cfg.lr, float)


@pytest.mark.parametrize("text, value", [("steps: 6e2", 600), ("steps: 1_000", 1000), ("steps: 1e6", 1_000_000),
                                         ("steps: 12.0", 12), ("steps: '42'", 42)])
def test_numbers_in_any_yaml_form_for_ints(text, value):
    cfg = Cfg.from_dict(load_yaml(text))
    assert cfg.steps == value and type(cfg.steps) is int


def test_load_yaml_reads_exponent_floats_as_floats_everywhere():
    data = load_yaml("a: 6e2\nb: [3e-1, 1e3]\nc: {d: -2E+2}\ne: 1_000\nf: '6e2'\ng: 1.0.0")
    assert data == {"a": 600.0, "b": [0.3, 1000.0], "c": {"d": -200.0}, "e": 1000, "f": "6e2", "g": "1.0.0"}


@pytest.mark.parametrize("data, message", [
    ({"lr": 0}, r"^lr: must be > 0.0, got 0.0$"),
    ({"lr": "fast"}, r"^lr: expected a number, got 'fast'$"),
    ({"lr": True}, r"^lr: expected a number, got True$"),
    ({"lr": float("nan")}, r"^lr: expected a number, got NaN$"),
    ({"steps": 1.5}, r"^steps: expected an integer, got 1.5$"),
    ({"steps": 0}, r"^steps: must be >= 1, got 0$"),
    ({"n_steps": "often"}, r"^n_steps: expected an integer or 'auto', got 'often'$"),
    ({"mode": "fsat"}, r"^mode: must be one of 'fast', 'safe', got 'fsat' \(did you mean 'fast'\?\)$"),
    ({"flag": "yes please"}, r"^flag: expected true or false"),
    ({"fraction": 1.0}, r"^fraction: must be < 1.0, got 1.0$"),
    ({"cap_s": -1}, r"^cap_s: must be > 0.0 s, got -1.0$"),
    ({"steps": None}, r"^steps: a value is required, got null$"),
    ({"tracks": []}, r"^tracks: expected a non-empty list"),
    ({"tracks": ["a", 3]}, r"^tracks\[1\]: expected a string, got 3$"),
    ({"lrr": 0.1}, r"^lrr: unknown key \(did you mean 'lr'\?\); known keys here: cap_s, flag,"),
    ({"inner": {"lo_mm": 1}}, r"^inner.lo_mm: unknown key \(did you mean 'lo_m'\?\)"),
    ({"inner": {"lo_m": -1}}, r"^inner.lo_m: must be >= 0.0 m, got -1.0$"),
    ({"inner": {"lo_m": 3}}, r"^inner.lo_m: must be <= hi_m$"),
    ({"inner": 5}, r"^inner: expected a mapping of keys, got int 5$"),
])
def test_errors_name_the_dotted_key(data, message):
    with pytest.raises(MyError, match=message):
        Cfg.from_dict(data)


def test_values_normalised_and_round_trip():
    cfg = Cfg.from_dict({"lr": 1, "n_steps": 64.0, "tracks": "oval", "inner": {"hi_m": 5}, "cap_s": "6e2"})
    assert cfg.lr == 1.0 and cfg.n_steps == 64 and cfg.tracks == ["oval"] and cfg.inner.hi_m == 5.0
    assert cfg.cap_s == 600.0
    assert Cfg.from_dict(cfg.to_dict()) == cfg
    assert Cfg().n_steps == "auto"


def test_python_construction_is_validated_too():
    with pytest.raises(MyError, match="^steps: must be >= 1"):
        Cfg(steps=0)
    with pytest.raises(OptionsError, match="^lo_m: must be <= hi_m"):
        Inner(lo_m=3.0)


def test_required_fields():
    @dataclasses.dataclass
    class Req(Options):
        name: str = option(kind=str)
    with pytest.raises(OptionsError, match="^name: a value is required$"):
        Req.from_dict({})
    assert Req.from_dict({"name": "x"}).name == "x"


def test_describe_and_known_keys():
    rows = {name: (default, unit, doc) for name, default, unit, doc in Cfg.describe()}
    assert rows["lr"] == (3e-4, "", "learning rate") and rows["inner.lo_m"] == (1.0, "m", "low")
    assert Cfg.known_keys()["inner"] == {"lo_m": None, "hi_m": None}


def test_overrides():
    assert parse_override("inner.lo_m=3e-1") == (["inner", "lo_m"], 0.3)
    assert parse_override("a=") == (["a"], None)
    for bad in ("noequals", "=1", "a..b=1"):
        with pytest.raises(OptionsError, match="expected key.sub=value"):
            parse_override(bad)
    data = apply_overrides({"inner": {"hi_m": 9}}, ["inner.lo_m=2", "lr=6e-1", "new.sub=x"])
    assert data == {"inner": {"hi_m": 9, "lo_m": 2}, "lr": 0.6, "new": {"sub": "x"}}
    with pytest.raises(OptionsError, match="lr is not a section"):
        apply_overrides({"lr": 1}, ["lr.x=1"])


def test_load_file_and_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("lr: 3e-1\nsteps: 6e2\ninner:\n  lo_m: 0.5\n")
    cfg = Cfg.load(f, ["inner.hi_m=1_0"])
    assert (cfg.lr, cfg.steps, cfg.inner.lo_m, cfg.inner.hi_m) == (0.3, 600, 0.5, 10.0)
    f.write_text("lr: -1\n")
    with pytest.raises(MyError, match=rf"^lr: must be > 0.0, got -1.0 \(in {f}\)$"):
        Cfg.load(f)
    assert Cfg.load(None).lr == 3e-4


@pytest.mark.parametrize("content, message", [
    (b"lr: [1,\n", r"config file .*c.yaml: not valid YAML \(line \d+, column \d+\)"),
    (b"lr: 0.1\nlr: 0.2\n", r"config file .*c.yaml: not valid YAML .*duplicate key 'lr'"),
    (b"lr: \xff\xfe\n", r"config file .*c.yaml: not UTF-8 text \(byte 0xff at offset 4\)"),
    (b"- a\n- b\n", r"config file .*c.yaml: expected a mapping of keys at the top, got list"),
])
def test_bad_files_give_one_line_naming_the_file(tmp_path, content, message):
    f = tmp_path / "c.yaml"
    f.write_bytes(content)
    with pytest.raises(MyError, match=message) as info:
        Cfg.load(f)
    assert "\n" not in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(OptionsError, match=r"config file .*nope.yaml: not found"):
        read_yaml(tmp_path / "nope.yaml")
    with pytest.raises(OptionsError, match="is a folder"):
        read_yaml(tmp_path)
    (tmp_path / "empty.yaml").write_text("")
    assert read_yaml(tmp_path / "empty.yaml") == {}


def test_to_number_and_check_value():
    np = pytest.importorskip("numpy")
    assert to_number("6e2") == 600.0 and to_number("1_000") == 1000 and to_number(np.int64(3)) == 3
    assert to_number(True) is None and to_number("inf") is None and to_number("1.2.3") is None
    assert check_value("x", np.float32(0.5), Rule(kind=float)) == 0.5
    assert check_value("x", "a", Rule(kind=lambda name, v: v * 2)) == "aa"
