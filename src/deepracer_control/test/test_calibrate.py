"""The interactive calibration CLI, scripted through stdin, on a fake sysfs PWM chip."""
import json
import os
import subprocess
import sys

from deepracer_control.calibration import load_calibration


def _calibrate(args, script):
    return subprocess.run([sys.executable, "-m", "deepracer_control.calibrate", *args], input=script,
                          capture_output=True, text=True, timeout=30, env=os.environ.copy())


SCRIPT = """
# steering: find the extremes and the centre
s 1700000
s+ 50000
mark servo max
s- 650000
mark servo min
s 1460000
mark servo mid
polarity servo -1
# throttle: the neutral, then forward and reverse ends
t 1450000
mark motor mid
t- 140000
mark motor min
t 1590000
mark motor max
polarity motor -1
s 1520000
t 1500000
save
quit
"""


def test_scripted_calibration_drives_the_channels_and_saves_the_file(fake_pwm, tmp_path):
    path = tmp_path / "calibration.json"
    result = _calibrate(["--file", str(path), "--sysfs-root", str(fake_pwm.root)], SCRIPT)
    assert result.returncode == 0, result.stderr
    assert f"saved {path}" in result.stdout
    cal = load_calibration(path)
    assert (cal.servo.min_ns, cal.servo.mid_ns, cal.servo.max_ns, cal.servo.polarity) == (1_100_000, 1_460_000,
                                                                                            1_750_000, -1)
    assert (cal.motor.min_ns, cal.motor.mid_ns, cal.motor.max_ns, cal.motor.polarity) == (1_310_000, 1_450_000,
                                                                                            1_590_000, -1)
    # quit: back to the STARTING calibration's neutral (stock defaults), outputs disabled
    assert fake_pwm.read(0, "duty_cycle") == "1446000" and fake_pwm.read(1, "duty_cycle") == "1450000"
    assert fake_pwm.read(0, "enable") == "0" and fake_pwm.read(1, "enable") == "0"
    assert json.loads(path.read_text())["version"] == 1


def test_invalid_marks_are_not_saved_and_the_field_is_named(fake_pwm, tmp_path):
    path = tmp_path / "calibration.json"
    script = "s 1800000\nmark servo min\nsave\nt 2600000\nshow\nquit\n"
    result = _calibrate(["--file", str(path), "--sysfs-root", str(fake_pwm.root)], script)
    assert result.returncode == 0
    assert "error: not saved" in result.stdout and "Calibration.Servo.min" in result.stdout
    assert "clamped from 2600000" in result.stdout
    assert not path.exists()


def test_missing_chip_exits_1_naming_the_path(tmp_path):
    result = _calibrate(["--file", str(tmp_path / "c.json"), "--sysfs-root", str(tmp_path), "--pwm-chip", "1"], "")
    assert result.returncode == 1
    assert f"{tmp_path}/pwmchip1 does not exist" in result.stderr


def _write(path, servo_mid=1_450_000):
    doc = {"Calibration": {"Servo": {"min": 1_200_000, "mid": servo_mid, "max": 1_700_000, "polarity": 1},
                           "Motor": {"min": 1_311_000, "mid": 1_446_000, "max": 1_603_500, "polarity": -1}},
           "version": 1}
    path.write_text(json.dumps(doc))
    return path.read_text()


def test_invalid_file_is_refused_at_start_and_left_untouched(fake_pwm, tmp_path):
    # issue 21.8: it used to fall back to the defaults, and `save` then overwrote the user's file;
    # issue 21.3: a 10 ms mid was sent to the servo at start
    path = tmp_path / "calibration.json"
    before = _write(path, servo_mid=10_000_000)
    result = _calibrate(["--file", str(path), "--sysfs-root", str(fake_pwm.root)], "save\nquit\n")
    assert result.returncode == 2
    assert "Calibration.Servo.mid = 10000000 ns is outside the servo/ESC pulse range" in result.stderr
    assert "--start-from-defaults" in result.stderr and "Traceback" not in result.stderr
    assert path.read_text() == before
    assert not (fake_pwm.chip_dir / "pwm0").exists() and not (fake_pwm.chip_dir / "pwm1").exists()  # no pulse
    path.write_text("{not json")
    result = _calibrate(["--file", str(path), "--sysfs-root", str(fake_pwm.root)], "save\nquit\n")
    assert result.returncode == 2 and "not valid JSON" in result.stderr
    assert path.read_text() == "{not json"


def test_start_from_defaults_keeps_the_invalid_file_as_backup(fake_pwm, tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text("{not json")
    result = _calibrate(["--file", str(path), "--sysfs-root", str(fake_pwm.root), "--start-from-defaults"],
                        "save\nquit\n")
    assert result.returncode == 0, result.stderr
    assert f"previous file kept as {path}.bak" in result.stdout
    assert (tmp_path / "calibration.json.bak").read_text() == "{not json"
    assert load_calibration(path).servo.mid_ns == 1_450_000


def test_save_to_a_bad_path_is_one_error_and_keeps_the_marks(fake_pwm, tmp_path):
    path = tmp_path / "calibration.json"
    (tmp_path / "file").write_text("x")
    bad = tmp_path / "file" / "calibration.json"          # a folder that is a file
    script = f"s 1500000\nmark servo mid\nsave {bad}\nsave\nquit\n"
    result = _calibrate(["--file", str(path), "--sysfs-root", str(fake_pwm.root)], script)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"cannot write {bad}" in errors[0] and "marks are kept" in errors[0]
    assert f"saved {path}" in result.stdout
    assert load_calibration(path).servo.mid_ns == 1_500_000  # the mark survived the failed save


def test_neutral_uses_the_working_mid_within_the_window(fake_pwm, tmp_path):
    path = tmp_path / "calibration.json"
    _write(path)
    script = "s 1600000\nmark servo mid\ns 1200000\nneutral\nquit\n"
    result = _calibrate(["--file", str(path), "--sysfs-root", str(fake_pwm.root)], script)
    assert result.returncode == 0, result.stderr
    assert "steering 1600000 ns, throttle 1446000 ns" in result.stdout.splitlines()[-2]
