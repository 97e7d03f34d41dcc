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
