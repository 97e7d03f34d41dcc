"""PWM backends: the sysfs backend against a fake sysfs tree (with a tiny fake kernel), sim, dry-run."""
import pytest

from deepracer_control.calibration import Calibration
from deepracer_control.pwm import (ActuatorCommand, DryRunPWM, PWMError, SimPWM, SysfsPWM,
                                   disable_sysfs_outputs, neutral_command)

CAL = Calibration.default()


def test_sysfs_open_exports_and_writes_period_duty_enable_in_kernel_order(fake_pwm):
    pwm = SysfsPWM(CAL, chip=0, root=fake_pwm.root)
    assert fake_pwm.exported == [0, 1]  # throttle channel 0, steering channel 1
    assert fake_pwm.read(0, "period") == "20000000" and fake_pwm.read(1, "period") == "20000000"
    assert fake_pwm.read(0, "duty_cycle") == "1446000"   # motor mid (neutral throttle)
    assert fake_pwm.read(1, "duty_cycle") == "1450000"   # servo mid (centred steering)
    assert fake_pwm.read(0, "enable") == "1" and fake_pwm.read(1, "enable") == "1"
    chip = str(fake_pwm.chip_dir)
    assert list(pwm.writes) == [
        (f"{chip}/export", "0"), (f"{chip}/export", "1"),
        (f"{chip}/pwm0/period", "20000000"), (f"{chip}/pwm0/duty_cycle", "1446000"), (f"{chip}/pwm0/enable", "1"),
        (f"{chip}/pwm1/period", "20000000"), (f"{chip}/pwm1/duty_cycle", "1450000"), (f"{chip}/pwm1/enable", "1"),
    ]
    pwm.close()


def test_sysfs_commands_write_only_changed_duty_and_close_goes_neutral_then_disables(fake_pwm):
    pwm = SysfsPWM(CAL, chip=0, root=fake_pwm.root)
    n_open = len(pwm.writes)
    pwm.apply(ActuatorCommand(0.5, -1.0, 1_378_500, 1_200_000))
    assert fake_pwm.read(0, "duty_cycle") == "1378500" and fake_pwm.read(1, "duty_cycle") == "1200000"
    pwm.apply(ActuatorCommand(0.5, 0.0, 1_378_500, 1_450_000))  # throttle unchanged -> not rewritten
    chip = str(fake_pwm.chip_dir)
    assert list(pwm.writes)[n_open:] == [
        (f"{chip}/pwm0/duty_cycle", "1378500"), (f"{chip}/pwm1/duty_cycle", "1200000"),
        (f"{chip}/pwm1/duty_cycle", "1450000")]
    pwm.close()
    pwm.close()  # idempotent
    assert list(pwm.writes)[n_open + 3:] == [
        (f"{chip}/pwm0/duty_cycle", "1446000"), (f"{chip}/pwm0/enable", "0"), (f"{chip}/pwm1/enable", "0")]
    assert fake_pwm.read(0, "duty_cycle") == "1446000" and fake_pwm.read(1, "duty_cycle") == "1450000"
    assert fake_pwm.read(0, "enable") == "0" and fake_pwm.read(1, "enable") == "0"
    pwm.apply(ActuatorCommand(1.0, 0.0, 1_311_000, 1_450_000))  # ignored once closed
    assert fake_pwm.read(0, "duty_cycle") == "1446000"


def test_sysfs_swapped_channels_and_already_exported(fake_pwm):
    first = SysfsPWM(CAL, chip=0, root=fake_pwm.root, throttle_channel=1, steering_channel=0)
    assert fake_pwm.read(1, "duty_cycle") == "1446000" and fake_pwm.read(0, "duty_cycle") == "1450000"
    first.close()
    second = SysfsPWM(CAL, chip=0, root=fake_pwm.root)  # channels already exported: no export write
    assert not any(path.endswith("export") for path, _ in second.writes)
    assert fake_pwm.read(0, "enable") == "1"
    second.close()


def test_sysfs_missing_chip_names_the_path(tmp_path):
    with pytest.raises(PWMError, match=r"PWM chip not found: .*pwmchip3 does not exist"):
        SysfsPWM(CAL, chip=3, root=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_sysfs_channel_that_never_appears_is_reported(tmp_path):
    (tmp_path / "pwmchip0").mkdir()
    (tmp_path / "pwmchip0" / "export").write_text("")  # no kernel behind it
    with pytest.raises(PWMError, match="pwm0 did not appear"):
        SysfsPWM(CAL, chip=0, root=tmp_path, export_timeout_s=0.05)


def test_disable_sysfs_outputs_stops_pulses_left_enabled(fake_pwm):
    pwm = SysfsPWM(CAL, chip=0, root=fake_pwm.root)
    pwm.apply(ActuatorCommand(1.0, 0.0, 1_311_000, 1_450_000))  # a process dies here: full throttle
    disabled = disable_sysfs_outputs(0, (0, 1), root=fake_pwm.root)
    assert [p.name for p in disabled] == ["pwm0", "pwm1"]
    assert fake_pwm.read(0, "enable") == "0" and fake_pwm.read(1, "enable") == "0"
    assert disable_sysfs_outputs(0, (0, 1), root=fake_pwm.root) == []
    assert disable_sysfs_outputs(5, (0, 1), root=fake_pwm.root) == []  # missing chip: nothing, no error


def test_sim_backend_records_latest_and_neutral_on_close():
    sim = SimPWM()
    assert sim.last == neutral_command(CAL)
    cmd = ActuatorCommand(0.4, -0.2, 1_392_000, 1_400_000)
    sim.apply(cmd)
    assert sim.last == cmd
    sim.set_duty_ns(1_311_000, 1_700_000)  # raw duty -> normalised through the calibration
    assert sim.last.throttle == pytest.approx(1.0) and sim.last.steering == pytest.approx(1.0)
    sim.close()
    assert sim.last == neutral_command(CAL)


def test_dry_run_logs_changes_only():
    lines = []
    dry = DryRunPWM(CAL, log=lines.append)
    cmd = ActuatorCommand(0.5, 0.0, 1_378_500, 1_450_000)
    dry.apply(cmd)
    dry.apply(cmd)
    dry.close()
    assert len(lines) == 3
    assert "1378500 ns" in lines[0] and "1446000 ns" in lines[1] and "closed" in lines[2]
