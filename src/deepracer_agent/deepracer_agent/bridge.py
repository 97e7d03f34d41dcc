"""The Gym bridge core: a gymnasium env over any simulator that speaks the sim topics (no rclpy here).

`BridgeEnv` is the env; the ROS side (`deepracer_agent.nodes.gym_bridge_node`) supplies a
`BridgeLink`: it publishes drive commands on /sim/cmd_vel, calls /sim/reset and feeds camera images
and lap statuses into the link's `FrameSync` from its subscription callbacks (another thread).

One `step(action)` is one camera frame, producer-consumer:

1. the action goes through THE action mapping (`ModelMetadata.action_to_drive`) to
   (steering deg, speed m/s) and is sent (the link converts it with `twist_from_drive`);
2. the step then waits for exactly the next frame MADE WITH this command: the sim node echoes the
   command it applied in each lap status (`cmd_speed_m_s`, `cmd_steering_rad`), so frames that were
   already queued when the command went out are discarded as *stale*, and newer frames still made
   with the previous command (the command reached the sim after the frame was taken) are discarded
   as *late*; a frame whose stamp was seen before is a *duplicate* (dropped); frames the sim made
   between two consumed ones (the agent was slower than the camera) are *skipped*;
3. the observation is the frame through THE preprocessing (`deepracer_inference.preprocess`);
   termination is the sim's `episode_status` (THE episode rules, run in the sim node), and the
   reward is the user's `reward_function(params)` with params built by THE builder
   (`deepracer_agent.reward.ParamsBuilder`) from the frame's pose and status.

Counters are in every `info` (`frames_stale`, `frames_late`, `frames_duplicate`, `frames_skipped`).
Exception: a frame where the episode ended (the sim's `episode_status` is not "in_progress") is
never dropped: in timer mode the car drives on between steps and may leave the track before the
command arrives; that frame is the step's outcome (and the sim may already have reset itself).
Gotcha: when the same action repeats, a late frame carries the same command and cannot be told
apart; it is accepted (it shows that command's effect, only one frame earlier).
In the sim node's timer mode `steps` counts camera frames since the reset (frames the agent was too
slow for included); in lockstep mode (`step_on_command`) it counts actions, as in the embedded env.
"""
from __future__ import annotations

import collections
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .batch import OBS_HEIGHT_PX, OBS_WIDTH_PX, load_track_arg, metadata_arg, reward_arg, reward_instances
from .reward import CarState, ParamsBuilder, reference_point

__all__ = ["BridgeEnv", "BridgeLink", "BridgeTimeout", "Frame", "FrameSync", "COMMAND_TOLERANCE"]

#: |echoed - sent| below this (m/s, rad) means the sim applied our command (twist round trip ~1e-15).
COMMAND_TOLERANCE = 1e-6


class BridgeTimeout(TimeoutError):
    """No frame / reset answer within the timeout; the message says what was awaited and on which topic."""


@dataclass
class Frame:
    """One camera frame paired with its lap status (same stamp)."""

    stamp_ns: int
    image: np.ndarray          # (120, 160) uint8, already preprocessed
    status: dict[str, Any]


@dataclass
class FrameCounters:
    received: int = 0
    consumed: int = 0
    stale: int = 0
    late: int = 0
    duplicate: int = 0
    skipped: int = 0

    def as_info(self) -> dict[str, int]:
        return {f"frames_{k}": v for k, v in self.__dict__.items()}


class FrameSync:
    """Thread-safe pairing queue: images and lap statuses in (any order, any thread), frames out.

    `add_image` / `add_status` are called by the subscription callbacks; `wait` by the env. Entries
    are matched by stamp (ns). Memory is bounded by `max_pending` unpaired entries per kind.
    """

    def __init__(self, max_pending: int = 64) -> None:
        self._cond = threading.Condition()
        self._images: dict[int, np.ndarray] = {}
        self._statuses: dict[int, dict[str, Any]] = {}
        self._seen: collections.deque[int] = collections.deque(maxlen=4 * max_pending)
        self._seen_set: set[int] = set()
        self.max_pending = max_pending
        self.counters = FrameCounters()
        self.latest_stamp_ns = -1          # newest stamp received (image or status)
        self._last_frame_index: int | None = None

    def add_image(self, stamp_ns: int, image: np.ndarray) -> None:
        with self._cond:
            if stamp_ns in self._seen_set:
                self.counters.duplicate += 1
                return
            self._remember(stamp_ns)
            self.counters.received += 1
            self._images[stamp_ns] = image
            self._trim(self._images)
            self.latest_stamp_ns = max(self.latest_stamp_ns, stamp_ns)
            self._cond.notify_all()

    def add_status(self, stamp_ns: int, status: dict[str, Any]) -> None:
        with self._cond:
            self._statuses[stamp_ns] = status
            self._trim(self._statuses)
            self.latest_stamp_ns = max(self.latest_stamp_ns, stamp_ns)
            self._cond.notify_all()

    def _remember(self, stamp_ns: int) -> None:
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(stamp_ns)
        self._seen_set.add(stamp_ns)

    def _trim(self, store: dict[int, Any]) -> None:
        while len(store) > self.max_pending:
            del store[min(store)]

    def wait(self, after_ns: int, timeout_s: float, accept: Callable[[dict[str, Any]], bool] | None = None,
             what: str = "a camera frame", must_deliver: Callable[[dict[str, Any]], bool] | None = None) -> Frame:
        """The oldest complete frame with stamp > `after_ns` that `accept`s its status.

        Complete frames at or before `after_ns` are dropped as stale, rejected ones as late, except
        frames whose status `must_deliver` (e.g. the episode ended there): the oldest of those is
        returned at once, stale or late. Raises `BridgeTimeout` after `timeout_s` seconds (wall clock).
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for stamp in sorted(set(self._images) & set(self._statuses)):
                    image, status = self._images.pop(stamp), self._statuses.pop(stamp)
                    forced = must_deliver is not None and must_deliver(status)
                    if stamp <= after_ns and not forced:
                        self.counters.stale += 1
                        continue
                    if accept is not None and not forced and not accept(status):
                        self.counters.late += 1
                        continue
                    self._count_skipped(status)
                    self.counters.consumed += 1
                    return Frame(stamp, image, status)
                # statuses whose image never comes (best-effort loss) must not pile up
                for stamp in [s for s in self._statuses if s <= after_ns]:
                    del self._statuses[stamp]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BridgeTimeout(f"no {what} within {timeout_s} s (stamp after {after_ns} ns): is the sim "
                                        f"node running and publishing /camera/image_raw and /sim/lap_status?")
                self._cond.wait(left)

    def _count_skipped(self, status: dict[str, Any]) -> None:
        index = status.get("frame")
        if isinstance(index, int):
            if self._last_frame_index is not None and index > self._last_frame_index + 1:
                self.counters.skipped += index - self._last_frame_index - 1
            self._last_frame_index = index

    def restart_sequence(self) -> None:
        """Forget the last consumed frame index (after a reset, a gap is not a skip)."""
        with self._cond:
            self._last_frame_index = None


class BridgeLink(Protocol):
    """What the env needs from the transport (the ROS node implements it)."""

    frames: FrameSync

    def send_drive(self, speed_m_s: float, steering_rad: float) -> None:
        """Publish the drive command (m/s, rad)."""

    def request_reset(self, timeout_s: float) -> int:
        """Ask the sim for a new episode; return the stamp (ns) of the frame that shows the start pose."""


class BridgeEnv(gym.Env):
    """A DeepRacer gymnasium env whose simulator is on the other side of `link`.

    Spaces, info keys and reward contract are those of `deepracer_agent.env.DeepRacerEnv`.

    Args:
        link: the transport (see `BridgeLink`).
        track: the track the sim drives (name, .npy path or Track), for the reward params.
        metadata: action space (ModelMetadata, model_metadata.json path or dict; default: the paper's 10).
        reward: reward file / example name / loaded RewardFunction / callable / None (AWS centre-line
            default). A file runs as this car's own instance (a fresh module).
        frame_stack: frames per observation (oldest first).
        frame_timeout_s: a step or reset that gets no frame within this many wall seconds raises
            `BridgeTimeout`.
        vehicle: VehicleGeometry for the action limits (default: the URDF's).
    """

    metadata = {"render_modes": [], "render_fps": 15}
    n_cars = 1
    dt_s = 1.0 / 15.0

    def __init__(self, link: BridgeLink, track: Any = None, metadata: Any = None, reward: Any = None,
                 frame_stack: int = 1, frame_timeout_s: float = 2.0, vehicle: Any = None) -> None:
        from deepracer_description.vehicle import load_vehicle

        if isinstance(frame_stack, bool) or not isinstance(frame_stack, int) or frame_stack < 1:
            raise ValueError(f"frame_stack: expected an integer >= 1, got {frame_stack!r}")
        if not (isinstance(frame_timeout_s, (int, float)) and frame_timeout_s > 0):
            raise ValueError(f"frame_timeout_s: expected seconds > 0, got {frame_timeout_s!r}")
        self.link = link
        self.vehicle = vehicle if vehicle is not None else load_vehicle()
        self.track = load_track_arg(track)
        self.tracks = (self.track, self.track.reversed())
        self.model_metadata = metadata_arg(metadata, self.vehicle)
        self.reward_fn = reward_arg(reward)
        self._car_reward = reward_instances(self.reward_fn, 1)[0]     # this car's own instance
        self.params_builder = ParamsBuilder(self.tracks[0], self.tracks[1])
        self.frame_stack = frame_stack
        self.frame_timeout_s = float(frame_timeout_s)
        self.observation_space = spaces.Box(0, 255, (OBS_HEIGHT_PX, OBS_WIDTH_PX, frame_stack), dtype=np.uint8)
        if self.model_metadata.is_discrete:
            self.action_space: spaces.Space = spaces.Discrete(self.model_metadata.n_actions)
        else:
            self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self._obs = np.zeros(self.observation_space.shape, dtype=np.uint8)
        self._needs_reset = True
        self.last_frame: Frame | None = None
        self.last_params: dict[str, Any] | None = None
        #: optional :class:`~deepracer_agent.simtrace.CarRecorder` (``simtrace.attach(env, log)``):
        #: one simtrace row per step, ``tstamp`` = the sim's episode time (``lap_time_s``)
        self.recorder: Any = None
        self._centres = (np.asarray(self.tracks[0].centre), np.asarray(self.tracks[1].centre))

    # ---------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        stamp = self.link.request_reset(self.frame_timeout_s)
        self.link.frames.restart_sequence()
        frame = self.link.frames.wait(stamp - 1, self.frame_timeout_s, what="start frame after /sim/reset")
        self.last_frame = frame
        self._obs[...] = frame.image[..., None]
        self._needs_reset = False
        status = frame.status
        if self.recorder is not None:
            x, y, yaw = np.array([status["x"]]), np.array([status["y"]]), np.array([status["yaw"]])
            ref = reference_point(x, y, yaw)
            from .simtrace import nearest_waypoint

            rev = np.array([bool(status["is_reversed"])])
            query = self.tracks[int(rev[0])].query(ref)
            self.recorder.start([0], ref[:, 0], ref[:, 1], yaw, np.array([float(status["progress"])]),
                                nearest_waypoint(ref, query.closest_waypoints, self._centres, rev),
                                tstamp_s=np.zeros(1))
        info = {"progress": float(status["progress"]), "lap_time_s": 0.0, "steps": 0,
                "episode_status": "in_progress", "termination_reason": None,
                "is_reversed": bool(status["is_reversed"]), "stamp_ns": frame.stamp_ns,
                **self.link.frames.counters.as_info()}
        return self._obs.copy(), info

    def step(self, action):
        if self._needs_reset:
            raise RuntimeError("BridgeEnv.step() called before reset() or after the episode ended")
        steer_deg, speed = self.model_metadata.action_to_drive(action)
        steer_rad = math.radians(steer_deg)
        frames = self.link.frames
        after = frames.latest_stamp_ns
        self.link.send_drive(speed, steer_rad)

        def made_with_command(status: dict[str, Any]) -> bool:
            return (abs(float(status["cmd_speed_m_s"]) - speed) < COMMAND_TOLERANCE
                    and abs(float(status["cmd_steering_rad"]) - steer_rad) < COMMAND_TOLERANCE)

        # An episode end the sim reached before this command took effect (timer mode: the car drives
        # on between steps) is delivered even though the frame is stale or late: it IS the outcome.
        frame = frames.wait(after, self.frame_timeout_s, accept=made_with_command,
                            must_deliver=lambda status: status["episode_status"] != "in_progress")
        self.last_frame = frame
        if self.frame_stack > 1:
            self._obs[..., :-1] = self._obs[..., 1:]
        self._obs[..., -1] = frame.image
        status = frame.status
        reward = self._reward(status, steer_deg, speed)
        episode_status = str(status["episode_status"])
        truncated = episode_status == "time_up"
        terminated = episode_status != "in_progress" and not truncated
        self._needs_reset = terminated or truncated
        reason = None if episode_status == "in_progress" else (
            "step_limit" if truncated else episode_status)
        if self.recorder is not None:
            from .simtrace import nearest_waypoint

            p = self.last_params
            self.recorder.step(np.array([p["x"]]), np.array([p["y"]]), np.radians([p["heading"]]),
                               np.array([steer_deg]), np.array([speed]),
                               np.asarray(action).reshape(1) if self.model_metadata.is_discrete else None,
                               np.array([reward]), np.array([terminated or truncated]),
                               np.array([bool(status["all_wheels_on_track"])]), np.array([float(status["progress"])]),
                               np.array([int(status["steps"])]),
                               nearest_waypoint(np.array([[p["x"], p["y"]]]), self._last_query.closest_waypoints,
                                                self._centres, np.array([bool(status["is_reversed"])])),
                               [episode_status], tstamp_s=np.array([float(status["lap_time_s"])]))
        info = {"progress": float(status["progress"]), "lap_time_s": float(status["lap_time_s"]),
                "steps": int(status["steps"]), "episode_status": episode_status, "termination_reason": reason,
                "is_reversed": bool(status["is_reversed"]), "steering_angle_deg": steer_deg, "speed_m_s": speed,
                "stamp_ns": frame.stamp_ns, **frames.counters.as_info()}
        return self._obs.copy(), reward, terminated, truncated, info

    def _reward(self, status: dict[str, Any], steer_deg: float, speed: float) -> float:
        """The user's reward for this frame: params from the frame's pose and the sim's episode state."""
        x, y, yaw = np.array([status["x"]]), np.array([status["y"]]), np.array([status["yaw"]])
        rev = bool(status["is_reversed"])
        ref = reference_point(x, y, yaw)
        query = self.tracks[int(rev)].query(ref)
        self._last_query = query
        car = CarState(xy=ref, yaw_rad=yaw, steering_deg=np.array([steer_deg]), speed_m_s=np.array([speed]),
                       progress_pct=np.array([status["progress"]]), steps=np.array([status["steps"]]),
                       all_wheels_on_track=np.array([status["all_wheels_on_track"]]),
                       is_offtrack=np.array([status["is_offtrack"]]), is_reversed=np.array([rev]),
                       sim_time_s=np.array([float(status["lap_time_s"])]))
        self.last_params = self.params_builder.build(car, query)[0]
        return float(self._car_reward(self.last_params))

    def close(self) -> None:
        close = getattr(self.link, "close", None)
        if callable(close):
            close()
