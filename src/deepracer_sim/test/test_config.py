"""SimConfig / RandomizationConfig validation: bad values and unknown keys name the option."""
import math

import pytest

from deepracer_sim.config import RandomizationConfig, SimConfig, SimConfigError


def test_defaults_are_valid_and_round_trip():
    cfg = SimConfig()
    assert cfg.dynamics == "kinematic" and cfg.camera_model == "pinhole" and cfg.color is False
    assert cfg.randomization.enabled_names == []          # the paper's baseline trains without any
    again = SimConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert SimConfig.from_dict(None) == cfg


def test_from_dict_builds_nested_sections():
    cfg = SimConfig.from_dict({"dynamics": "dynamic", "substeps": 8, "color": True,
                               "randomization": {"lighting": {"enabled": True, "gamma": 0.5},
                                                 "latency": {"enabled": True, "frames": 2}}})
    assert cfg.dynamics == "dynamic" and cfg.substeps == 8 and cfg.color
    assert cfg.randomization.lighting.enabled and cfg.randomization.lighting.gamma == 0.5
    assert cfg.randomization.enabled_names == ["lighting", "latency"]


@pytest.mark.parametrize("data, name", [
    ({"dynamcs": "kinematic"}, "dynamcs"),
    ({"randomization": {"lightning": {}}}, "randomization.lightning"),
    ({"randomization": {"lighting": {"brigthness": 0.1}}}, "randomization.lighting.brigthness"),
])
def test_unknown_keys_are_rejected_with_their_name(data, name):
    with pytest.raises(SimConfigError) as err:
        SimConfig.from_dict(data)
    assert str(err.value).startswith(f"{name}: unknown key")


@pytest.mark.parametrize("data, name", [
    ({"randomization": {"camera_pose": {"fov_rad": -0.1}}}, "randomization.camera_pose.fov_rad"),
    ({"randomization": {"augmentation": {"probability": 1.5}}}, "randomization.augmentation.probability"),
    ({"randomization": {"augmentation": {"probability": -0.01}}}, "randomization.augmentation.probability"),
    ({"randomization": {"lighting": {"enabled": "yes"}}}, "randomization.lighting.enabled"),
    ({"randomization": {"shadow": {"darkness_min": 0.9, "darkness_max": 0.1}}}, "randomization.shadow.darkness_min"),
    ({"dynamics": "magic"}, "dynamics"),
    ({"substeps": 0}, "substeps"),
    ({"substeps": 2.5}, "substeps"),
    ({"steering_rate_rad_s": 0.0}, "steering_rate_rad_s"),
    ({"throttle_time_constant_s": float("nan")}, "throttle_time_constant_s"),
    ({"camera_model": "orthographic"}, "camera_model"),
    ({"output_width_px": 64}, "output_width_px"),
    ({"randomization": ["lighting"]}, "randomization"),
])
def test_bad_values_are_rejected_naming_the_option(data, name):
    with pytest.raises(SimConfigError) as err:
        SimConfig.from_dict(data)
    assert str(err.value).startswith(name + ":"), str(err.value)


def test_direct_construction_is_validated_too():
    from deepracer_sim.randomization import CameraPoseOption

    with pytest.raises(SimConfigError, match="fov_rad"):
        CameraPoseOption(enabled=True, fov_rad=-1.0)
    assert SimConfig(steering_rate_rad_s=math.inf).steering_rate_rad_s == math.inf


def test_presets():
    paper = RandomizationConfig.paper_sim2real()
    assert paper.enabled_names == ["augmentation", "action_noise"]
    assert paper.augmentation.probability == 0.2 and paper.action_noise.steering_fraction == 0.1
    assert len(RandomizationConfig.everything().enabled_names) == 12
    assert RandomizationConfig.everything().only("shadow").enabled_names == ["shadow"]
    with pytest.raises(SimConfigError, match="randomization.nope"):
        RandomizationConfig().only("nope")


def test_numbers_in_any_yaml_form():
    from deepracer_common.options import load_yaml

    cfg = SimConfig.from_dict(load_yaml("steering_rate_rad_s: 8e0\nthrottle_time_constant_s: 1e-1\nsubsteps: 4e0\n"
                                        "randomization:\n  lighting:\n    gamma: 3e-1\n"))
    assert (cfg.steering_rate_rad_s, cfg.throttle_time_constant_s, cfg.substeps) == (8.0, 0.1, 4)
    assert cfg.randomization.lighting.gamma == 0.3
    # PyYAML's own loader keeps 3e-1 as a string: accepted for a number field all the same
    assert SimConfig.from_dict({"randomization": {"lighting": {"gamma": "3e-1"}}}).randomization.lighting.gamma == 0.3
    assert SimConfig.from_dict({"mass_kg": 2}).mass_kg == 2.0
