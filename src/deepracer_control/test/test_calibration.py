"""Calibration file parsing/validation and the value -> duty-cycle mapping."""
import json

import pytest

from deepracer_control.calibration import (PWM_PERIOD_NS, Calibration, CalibrationError, ChannelCalibration,
                                           load_calibration, save_calibration)

SERVO = ChannelCalibration(1_200_000, 1_450_000, 1_700_000, 1)
MOTOR = ChannelCalibration(1_311_000, 1_446_000, 1_603_500, -1)


def test_default_is_the_stock_deepracer_calibration():
    cal = Calibration.default()
    assert cal.servo == SERVO and cal.motor == MOTOR
    cal.validate()


@pytest.mark.parametrize("channel,value,expected,clamped", [
    (SERVO, 0.0, 1_450_000, False),
    (SERVO, 1.0, 1_700_000, False),
    (SERVO, -1.0, 1_200_000, False),
    (SERVO, 0.5, 1_575_000, False),
    (SERVO, -0.5, 1_325_000, False),
    (SERVO, 1.7, 1_700_000, True),          # clamped to max
    (SERVO, -3.0, 1_200_000, True),         # clamped to min
    (SERVO, float("nan"), 1_450_000, True),  # NaN -> mid, counted
    # polarity -1: forward (v > 0) uses the lower half of the range, with its own span (mid - min)
    (MOTOR, 0.0, 1_446_000, False),
    (MOTOR, 1.0, 1_311_000, False),
    (MOTOR, -1.0, 1_603_500, False),
    (MOTOR, 0.5, 1_378_500, False),
    (MOTOR, -0.5, 1_524_750, False),
    (MOTOR, 2.0, 1_311_000, True),
    (MOTOR, -1.01, 1_603_500, True),
])
def test_mapping_polarity_and_clamping(channel, value, expected, clamped):
    assert channel.duty_ns(value) == (expected, clamped)


@pytest.mark.parametrize("channel", [SERVO, MOTOR])
@pytest.mark.parametrize("value", [-1.0, -0.3, 0.0, 0.25, 1.0])
def test_value_from_duty_inverts_the_mapping(channel, value):
    duty, _ = channel.duty_ns(value)
    assert channel.value_from_duty(duty) == pytest.approx(value, abs=1e-5)


def test_save_load_roundtrip_is_atomic_and_in_deepracer_format(tmp_path):
    path = tmp_path / "calibration.json"
    cal = Calibration(servo=ChannelCalibration(1_250_000, 1_460_000, 1_690_000, -1), motor=MOTOR)
    save_calibration(cal, path)
    data = json.loads(path.read_text())
    assert data == {"Calibration": {"Servo": {"min": 1250000, "mid": 1460000, "max": 1690000, "polarity": -1},
                                    "Motor": {"min": 1311000, "mid": 1446000, "max": 1603500, "polarity": -1}},
                    "version": 1}
    assert load_calibration(path) == cal
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.json"]  # no temp file left behind


def test_save_refuses_invalid_calibration_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "calibration.json"
    save_calibration(Calibration.default(), path)
    before = path.read_text()
    bad = Calibration(servo=ChannelCalibration(1_700_000, 1_450_000, 1_200_000, 1), motor=MOTOR)
    with pytest.raises(CalibrationError, match="Servo.min"):
        save_calibration(bad, path)
    assert path.read_text() == before


def _doc(**servo_overrides):
    servo = {"min": 1_200_000, "mid": 1_450_000, "max": 1_700_000, "polarity": 1}
    servo.update(servo_overrides)
    return {"Calibration": {"Servo": servo, "Motor": MOTOR.to_dict()}, "version": 1}


@pytest.mark.parametrize("doc,field", [
    (_doc(min=1_800_000), "Calibration.Servo.min"),              # min > max
    (_doc(mid=1_100_000), "Calibration.Servo.mid"),              # mid below min
    (_doc(mid=1_750_000), "Calibration.Servo.mid"),              # mid above max
    (_doc(polarity=0), "Calibration.Servo.polarity"),
    (_doc(polarity=2), "Calibration.Servo.polarity"),
    (_doc(max="1700000"), "Calibration.Servo.max"),              # not a number
    (_doc(mid=True), "Calibration.Servo.mid"),                   # bool is not a pulse width
    (_doc(mid=1.5e6 + 0.5), "Calibration.Servo.mid"),            # fractional ns
    (_doc(max=PWM_PERIOD_NS + 1), "Calibration.Servo.max"),       # beyond the 20 ms period
    (_doc(min=-5), "Calibration.Servo.min"),
    (_doc(mid=10_000_000), "Calibration.Servo.mid"),             # 10 ms: inside the period, not a servo pulse
    (_doc(min=999_999), "Calibration.Servo.min"),                # just below the 1 ms servo/ESC range
    (_doc(max=2_000_001), "Calibration.Servo.max"),              # just above 2 ms
    ({"Calibration": {"Servo": {"min": 1, "mid": 2}, "Motor": MOTOR.to_dict()}}, "Calibration.Servo.max"),
    ({"Calibration": {"Servo": SERVO.to_dict()}}, "Calibration.Motor"),
    ({"Servo": SERVO.to_dict()}, "'Calibration'"),
    ({**_doc(), "version": 7}, "version"),
    ([1, 2], "top level"),
])
def test_invalid_calibration_names_the_field(tmp_path, doc, field):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationError) as info:
        load_calibration(path)
    assert field in str(info.value)
    assert str(path) in str(info.value)


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(CalibrationError, match="not found"):
        load_calibration(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{\"Calibration\": ")
    with pytest.raises(CalibrationError, match=r"bad.json: not valid JSON \(line 1"):
        load_calibration(bad)


def test_pulse_range_is_inclusive_1_to_2_ms(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(_doc(min=1_000_000, max=2_000_000)))
    cal = load_calibration(path)
    assert (cal.servo.min_ns, cal.servo.max_ns) == (1_000_000, 2_000_000)


def test_save_with_backup_keeps_the_previous_file(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text("user's old file\n")
    kept = save_calibration(Calibration.default(), path, backup=True)
    assert kept == tmp_path / "calibration.json.bak"
    assert kept.read_text() == "user's old file\n"
    assert load_calibration(path) == Calibration.default()
    assert save_calibration(Calibration.default(), tmp_path / "new.json", backup=True) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.json", "calibration.json.bak", "new.json"]


def test_save_to_an_unwritable_place_raises_oserror_and_keeps_the_old_file(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.raises(OSError):
        save_calibration(Calibration.default(), blocker / "calibration.json")
    assert blocker.read_text() == "x"
