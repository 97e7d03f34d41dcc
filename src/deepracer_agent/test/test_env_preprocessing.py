"""The training env and the inference node see the same network input for the same camera frame."""
import numpy as np
from PIL import Image

from deepracer_agent.env import DeepRacerEnv
from deepracer_inference.preprocess import image_from_buffer, to_network_input


def test_env_observation_is_the_inference_preprocessing_of_the_raw_frame():
    env = DeepRacerEnv(sim_config={"color": True, "output_width_px": 640, "output_height_px": 480}, seed=3)
    obs, _ = env.reset(seed=3)
    raw = env.batch.sim.render()[0]          # the same state's 640x480 RGB camera frame
    assert raw.shape == (480, 640, 3)
    # What the inference node does with a sensor_msgs/Image of this frame (rgb8 bytes on the wire):
    node_input = to_network_input(image_from_buffer(raw.tobytes(), 480, 640, "rgb8", 640 * 3), "rgb8")
    assert obs.shape == (120, 160, 1)
    assert np.array_equal(obs[..., 0], node_input)
    # ... and both are PIL's convert('L') + resize(BILINEAR), bit for bit.
    reference = np.asarray(Image.fromarray(raw).convert("L").resize((160, 120), Image.BILINEAR))
    assert np.array_equal(node_input, reference)
    assert node_input.std() > 1.0  # a real picture, not a blank frame
