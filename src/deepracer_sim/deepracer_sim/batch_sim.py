"""`BatchSim`: N DeepRacer cars on one track, stepped and rendered together (numpy + numba, no ROS).

One `step()` is one camera frame (1 / rate_hz of the URDF camera, 1/15 s): the action is sanitised
(NaN -> 0, clipped to the URDF's steering and speed limits, both counted), optionally perturbed
(action noise, latency), and the dynamics run `substeps` physics sub-steps. `render()` returns what
each car's camera sees now. Vehicle geometry and limits come from the URDF (`load_vehicle`); the
track, its texture and every track query come from `deepracer_tracks`.

Per-car episode randomization is drawn in `reset()` (see `randomization.py`); cars that were never
reset use their episode-0 draw, made at construction.
"""
from __future__ import annotations

import math
import weakref

import numpy as np

from deepracer_description.vehicle import VehicleGeometry, load_vehicle
from deepracer_tracks.texture import BORDER, CENTRE, FLOOR, ROAD, TextureStyle, render_texture
from deepracer_tracks.track import Track, TrackQuery

from . import dynamics as dyn
from .camera import CameraRays, make_rays
from .config import SimConfig, SimConfigError
from .randomization import (CarDraw, apply_augmentations, augmentation_flags, car_rng, draw_car,
                            hue_saturation_palette, lighting_lut)
from .render import NOISE_TEXELS_PER_M, GroundTexture, Renderer, World, luma

__all__ = ["BatchSim", "default_palette", "texture_resolution", "vertical_blur", "TEXTURE_MARGIN_M"]

#: Floor drawn around the track in the texture (the walls stand at config.barrier_margin_m).
TEXTURE_MARGIN_M = 1.0
#: Largest level-0 texture the automatic resolution picks (8 M texels = 16 MB of uint16 indices).
AUTO_TEXTURE_TEXELS = 8_000_000
_NOISE_BANK_SIZE = 1 << 20


def default_palette(style: TextureStyle | None = None) -> np.ndarray:
    """(8, 3) float RGB: the track style's floor, road, border, centre + walls and background."""
    style = style or TextureStyle()
    ground = style.palette().astype(np.float64)
    extra = np.array([[38, 40, 58],      # wall_a: dark blue-grey panels
                      [205, 70, 45],     # wall_b: red seams / stripe
                      [175, 200, 225],   # background_a: sky
                      [85, 85, 95]],     # background_b: skyline
                     dtype=np.float64)
    return np.vstack([ground, extra])


_PYRAMIDS: dict[int, tuple[weakref.ref, GroundTexture]] = {}


def _ground_texture(texture) -> GroundTexture:
    """The mip pyramid of a TrackTexture, built once per texture object (render_texture caches those)."""
    key = id(texture)
    hit = _PYRAMIDS.get(key)
    if hit is not None and hit[0]() is texture:
        return hit[1]
    ground = GroundTexture.from_labels(texture.labels, {int(FLOOR): 0, int(ROAD): 1, int(BORDER): 2, int(CENTRE): 3},
                                       texture.origin_xy, texture.metres_per_pixel, margin_m=TEXTURE_MARGIN_M)
    for k in [k for k, (ref, _) in _PYRAMIDS.items() if ref() is None]:
        del _PYRAMIDS[k]
    _PYRAMIDS[key] = (weakref.ref(texture), ground)
    return ground


def texture_resolution(track: Track, config: SimConfig) -> float:
    """Metres per texel: config.texture_metres_per_pixel, or the finest of 5, 7.5, 10, 15, 20 mm that
    keeps the texture (track bounding box + TEXTURE_MARGIN_M) within AUTO_TEXTURE_TEXELS."""
    if config.texture_metres_per_pixel is not None:
        return config.texture_metres_per_pixel
    pts = np.vstack([track.centre, track.inner, track.outer])
    w, h = pts.max(axis=0) - pts.min(axis=0) + 2 * TEXTURE_MARGIN_M
    for m in (0.005, 0.0075, 0.01, 0.015, 0.02):
        if (w / m) * (h / m) <= AUTO_TEXTURE_TEXELS:
            return m
    return float(math.sqrt(w * h / AUTO_TEXTURE_TEXELS))


def vertical_blur(image: np.ndarray, rows: int) -> np.ndarray:
    """Box blur of `rows` rows along the image's vertical, edge rows repeated; (H, W[, C]) uint8.

    Output row i is the mean of input rows i - rows//2 .. i - rows//2 + rows - 1 (rounded), so a
    horizontal step edge becomes a ramp `rows` rows long. The motion blur of a forward-moving
    camera: the ground streams down the image.
    """
    if rows <= 1:
        return image
    h = image.shape[0]
    lo = rows // 2
    pad = np.concatenate([np.repeat(image[:1], lo, axis=0), image, np.repeat(image[-1:], rows - 1 - lo, axis=0)])
    c = np.cumsum(pad.astype(np.int32), axis=0)
    c = np.concatenate([np.zeros_like(c[:1]), c])
    total = c[rows:rows + h] - c[:h]
    return ((total + rows // 2) // rows).astype(np.uint8)


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


class BatchSim:
    """N cars stepped as arrays. State arrays are (N,) read-only views that update in place.

    Attributes: n_cars, dt_s (seconds per frame), x, y, yaw (base_link pose), speed (drive speed,
    m/s), steering (front steering angle, rad), yaw_rate, lateral_speed, command_steering /
    command_speed (the last sanitised command per car, before noise and latency: what AWS reports
    as `steering_angle` / `speed`), clipped_action_count (cars x steps whose command was clipped or
    NaN), clipped_action_counts (the same per car), episode (per car), width / height / channels.
    """

    def __init__(self, track: Track, n_cars: int = 1, config: SimConfig | None = None,
                 vehicle: VehicleGeometry | None = None, seed: int | None = None):
        if not isinstance(n_cars, (int, np.integer)) or n_cars < 1:
            raise SimConfigError(f"n_cars: must be a positive integer, got {n_cars!r}")
        self.config = config = config if config is not None else SimConfig()
        if not isinstance(config, SimConfig):
            raise SimConfigError(f"config: expected a SimConfig, got {type(config).__name__}")
        self.track = track
        self.vehicle = vehicle = vehicle if vehicle is not None else load_vehicle()
        self.n_cars = n = int(n_cars)
        self.seed = int(np.random.SeedSequence(seed).entropy if seed is None else seed)

        mount = config.camera_mount
        posed = vehicle.at_rest() if mount.attitude == "resting" else vehicle
        fisheye_p = config.randomization.camera_pose.fisheye_probability if config.randomization.camera_pose.enabled else 0.0
        if (config.camera_model == "fisheye" or fisheye_p > 0.0) and vehicle.wide_camera is None:
            raise SimConfigError("camera_model: 'fisheye' needs a wide_camera in the URDF, which has none")
        self.pinhole_geometry = posed.camera
        self.fisheye_geometry = posed.wide_camera
        self.camera_geometry = posed.wide_camera if config.camera_model == "fisheye" else posed.camera
        self.dt_s = 1.0 / float(self.camera_geometry.rate_hz)
        self.width = config.output_width_px or self.camera_geometry.output_width_px
        self.height = config.output_height_px or self.camera_geometry.output_height_px
        self.channels = 3 if config.color else 1
        self._n_sub, self._dt_sub = dyn.substeps_for(config.dynamics, self.dt_s, config.substeps)
        self._lr = -float(vehicle.rear_axle_x_m)

        # --- world: texture pyramid, walls, background, ray tables
        self.texture = render_texture(track, metres_per_pixel=texture_resolution(track, config),
                                      margin_m=TEXTURE_MARGIN_M)
        ground = _ground_texture(self.texture)
        pts = np.vstack([track.centre, track.inner, track.outer])
        lo, hi = pts.min(axis=0) - config.barrier_margin_m, pts.max(axis=0) + config.barrier_margin_m
        aws = getattr(track, "world", None)          # an imported AWS world: its own walls (or none)
        walls = aws.wall_box() if aws is not None else None
        if aws is not None:
            box, wall_h = walls if walls is not None else ((lo[0], hi[0], lo[1], hi[1]), 0.0)
        else:
            box, wall_h = (lo[0], hi[0], lo[1], hi[1]), config.barrier_height_m
        self.world = World.build(box, wall_h, seed=0)
        #: brightness grain of an AWS world's road texture, always on (texture randomization adds to it)
        self._grain_amp = 0.0
        grain = aws.grain(self.world.noise_tile.shape[0], NOISE_TEXELS_PER_M) if aws is not None else None
        if grain is not None:
            self.world.noise_tile, self._grain_amp = grain
        self.base_rays: CameraRays = self._rays()
        jitter = config.randomization.camera_pose.enabled
        self.renderer = Renderer(ground, self.world, self.base_rays, n_tables=n if jitter else 1)
        self._cam_index = np.arange(n, dtype=np.int64) if jitter else np.zeros(n, dtype=np.int64)
        palette = default_palette(self.texture.style)
        if aws is not None:                          # walls and backdrop in the world's colours
            if walls is not None:
                palette[4] = palette[5] = aws.wall_rgb()
            palette[6] = palette[7] = aws.background_rgb
        self.base_palette = config.scene.apply(palette)
        im = config.imaging
        self._fixed_lut = (None if im.brightness == 1.0 and im.contrast == 1.0
                           else lighting_lut(im.brightness, im.contrast, 1.0))
        self._blur = np.zeros(n)
        self._sigma = np.zeros(n)
        act = config.actuation
        self._speed_scale = np.ones(n)
        self._steer_bias = np.zeros(n)
        self._fixed_steer_bias = math.radians(act.steering_bias_deg)
        self._actuation_on = (act.speed_scale != 1.0 or act.steering_bias_deg != 0.0
                              or config.randomization.actuation.enabled)

        # --- state
        self._x, self._y, self._yaw = np.zeros(n), np.zeros(n), np.zeros(n)
        self._v, self._delta, self._vy, self._r = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        self._cmd_delta, self._cmd_v = np.zeros(n), np.zeros(n)
        self.x, self.y, self.yaw = _readonly(self._x), _readonly(self._y), _readonly(self._yaw)
        self.speed, self.steering = _readonly(self._v), _readonly(self._delta)
        self.yaw_rate, self.lateral_speed = _readonly(self._r), _readonly(self._vy)
        self.command_steering, self.command_speed = _readonly(self._cmd_delta), _readonly(self._cmd_v)
        self.episode = np.zeros(n, dtype=np.int64)
        self.clipped_action_counts = np.zeros(n, dtype=np.int64)
        self.clipped_action_count = 0

        # --- per-car randomization, as arrays the kernels read
        self._draws: list[CarDraw] = [None] * n  # type: ignore[list-item]
        self._palette_rgb = np.zeros((n, 8, 3), np.float64)
        self._palette = np.zeros((n, 8, self.channels), np.float64)
        m = len(ground.mixtures)
        self._mix_color = np.zeros((n, m) if self.channels == 1 else (n, m, 3), np.float32)
        self._lut = np.zeros((n, 256), np.uint8)
        self._shadow = np.zeros((n, 6), np.float64)
        self._tex_noise = np.zeros((n, 3), np.float64)
        self._steer_rate = np.zeros(n)
        self._tau = np.zeros(n)
        self._mu = np.zeros(n)
        self._latency = np.zeros(n, dtype=np.int64)
        max_lat = act.latency_frames + (config.randomization.latency.frames if config.randomization.latency.enabled else 0)
        self._delayed = max_lat > 0
        self._pending = np.zeros((n, max_lat + 1, 2))     # queued (steering, speed) commands
        self._noise_bank: np.ndarray | None = None
        if config.randomization.sensor_noise.enabled or im.noise_sigma > 0.0:
            self._noise_bank = np.random.default_rng(np.random.SeedSequence([self.seed, 31337])).standard_normal(
                _NOISE_BANK_SIZE).astype(np.float32)

        xy, heading = track.pose_at(np.zeros(n))
        for car in range(n):
            self._place(car, xy[car, 0], xy[car, 1], heading[car])
            self._apply_draw(car)

    # ------------------------------------------------------------------------------ episodes
    def _rays(self, dz: float = 0.0, dpitch: float = 0.0, dfov: float = 0.0, fisheye: bool = False) -> CameraRays:
        """Rays of the nominal mount (config.camera_mount) plus these per-car deltas (m, rad, rad)."""
        mount = self.config.camera_mount
        geometry = self.fisheye_geometry if fisheye else self.camera_geometry
        fov = geometry.horizontal_fov_rad
        try:
            return make_rays(geometry, self.width, self.height, dz_m=mount.height_offset_m + dz,
                             dpitch_rad=math.radians(mount.pitch_offset_deg) + dpitch,
                             dfov_rad=(mount.fov_scale - 1.0) * fov + dfov)
        except ValueError as exc:
            raise SimConfigError(f"randomization.camera_pose: {exc}") from None

    def _place(self, car: int, x: float, y: float, yaw: float) -> None:
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(yaw)):
            raise ValueError(f"reset: car {car} pose must be finite, got x={x}, y={y}, yaw={yaw}")
        self._x[car], self._y[car], self._yaw[car] = x, y, math.atan2(math.sin(yaw), math.cos(yaw))
        self._v[car] = self._delta[car] = self._vy[car] = self._r[car] = 0.0
        self._cmd_delta[car] = self._cmd_v[car] = 0.0
        self._pending[car] = 0.0

    def _apply_draw(self, car: int) -> None:
        cfg = self.config
        d = draw_car(cfg.randomization, self.base_palette, self.seed, car, int(self.episode[car]))
        self._draws[car] = d
        self._palette_rgb[car] = d.palette
        self._palette[car] = self._to_output_space(d.palette)
        self._mix_color[car] = self._mixture_colors(self._palette[car])
        self._lut[car] = d.lut
        self._shadow[car] = d.shadow
        self._tex_noise[car] = d.texture
        self._tex_noise[car, 0] += self._grain_amp
        self._steer_rate[car] = cfg.steering_rate_rad_s * d.steering_rate_scale
        self._tau[car] = cfg.throttle_time_constant_s * d.throttle_tau_scale
        self._mu[car] = cfg.grip_mu * d.grip_scale
        self._latency[car] = d.latency_frames + cfg.actuation.latency_frames
        self._blur[car] = d.blur_px + cfg.imaging.motion_blur_px
        self._sigma[car] = math.hypot(d.sensor_sigma, cfg.imaging.noise_sigma)
        if self._sigma[car] > 0.0 and d.noise_rng is None:
            d.noise_rng = car_rng(self.seed, car, int(self.episode[car]), "sensor_noise")
        if self._fixed_lut is not None:
            self._lut[car] = self._fixed_lut[d.lut]
        self._speed_scale[car] = d.speed_scale * cfg.actuation.speed_scale
        self._steer_bias[car] = d.steering_bias_rad + self._fixed_steer_bias
        if cfg.randomization.camera_pose.enabled:
            self.renderer.set_rays(car, self._rays(d.camera_dz_m, d.camera_dpitch_rad, d.camera_dfov_rad,
                                                   fisheye=d.fisheye))

    def set_base_palette(self, palette_rgb) -> None:
        """Replace the scene colours, (8, 3) RGB 0-255, rows `randomization.PALETTE_NAMES`.

        E.g. to match a physical track's colours. Colour randomization then varies around these.
        Every car's current episode draw is redone (same seed and episode, so nothing else changes).
        """
        pal = np.asarray(palette_rgb, dtype=np.float64)
        if pal.shape != (8, 3) or not np.all(np.isfinite(pal)) or pal.min() < 0 or pal.max() > 255:
            raise ValueError(f"palette: expected (8, 3) RGB values in 0-255, got shape {pal.shape}")
        self.base_palette = pal.copy()
        for car in range(self.n_cars):
            self._apply_draw(car)

    def _mixture_colors(self, palette_out: np.ndarray) -> np.ndarray:
        colors = self.renderer.texture.mixture_colors(palette_out)          # (M, C)
        return colors[:, 0] if self.channels == 1 else colors

    def _to_output_space(self, palette_rgb: np.ndarray) -> np.ndarray:
        return palette_rgb if self.channels == 3 else luma(palette_rgb)[:, None]

    def reset(self, car_ids, x, y, yaw) -> None:
        """Start a new episode for `car_ids` at poses (x, y, yaw) (arrays or scalars, metres/radians).

        Zeroes speed, steering and queued commands, and draws the cars' randomization for the new
        episode (episode counter + 1).
        """
        ids = np.atleast_1d(np.asarray(car_ids, dtype=np.int64))
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_cars):
            raise ValueError(f"reset: car ids must be in [0, {self.n_cars}), got {ids.tolist()}")
        xs, ys, yaws = (np.broadcast_to(np.asarray(a, dtype=np.float64), ids.shape) for a in (x, y, yaw))
        for k, car in enumerate(ids):
            self._place(int(car), float(xs[k]), float(ys[k]), float(yaws[k]))
            self.episode[car] += 1
            self._apply_draw(int(car))

    # --------------------------------------------------------------------------------- step
    def _sanitise(self, steering_rad, speed_m_s) -> tuple[np.ndarray, np.ndarray]:
        n = self.n_cars
        try:
            steer = np.array(np.broadcast_to(np.asarray(steering_rad, dtype=np.float64), (n,)))
            speed = np.array(np.broadcast_to(np.asarray(speed_m_s, dtype=np.float64), (n,)))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"step: steering_rad and speed_m_s must be numbers or ({n},) arrays: {exc}") from None
        bad = np.isnan(steer) | np.isnan(speed)
        steer = np.nan_to_num(steer, nan=0.0)
        speed = np.nan_to_num(speed, nan=0.0)
        v = self.vehicle
        clipped_s = np.clip(steer, -v.max_steering_angle_rad, v.max_steering_angle_rad)
        clipped_v = np.clip(speed, v.min_speed_m_s, v.max_speed_m_s)
        hit = bad | (clipped_s != steer) | (clipped_v != speed)
        if hit.any():
            self.clipped_action_counts += hit
            self.clipped_action_count += int(hit.sum())
        return clipped_s, clipped_v

    def step(self, steering_rad, speed_m_s) -> None:
        """Advance one camera frame. steering_rad, speed_m_s: scalars or (N,) (radians, m/s).

        NaN is treated as 0, anything outside [-max_steer, max_steer] x [min_speed, max_speed] is
        clipped; both count in clipped_action_count(s). Never raises for bad numbers.
        """
        steer, speed = self._sanitise(steering_rad, speed_m_s)
        self._cmd_delta[:], self._cmd_v[:] = steer, speed
        rcfg = self.config.randomization
        if rcfg.action_noise.enabled:
            o = rcfg.action_noise
            for car in range(self.n_cars):
                u = self._draws[car].action_rng.uniform(-1.0, 1.0, 2)
                steer[car] *= 1.0 + o.steering_fraction * u[0]
                speed[car] *= 1.0 + o.speed_fraction * u[1]
            v = self.vehicle
            np.clip(steer, -v.max_steering_angle_rad, v.max_steering_angle_rad, out=steer)
            np.clip(speed, v.min_speed_m_s, v.max_speed_m_s, out=speed)
        if self._actuation_on:
            steer += self._steer_bias
            speed *= self._speed_scale
            v = self.vehicle
            np.clip(steer, -v.max_steering_angle_rad, v.max_steering_angle_rad, out=steer)
            np.clip(speed, v.min_speed_m_s, v.max_speed_m_s, out=speed)
        if self._delayed:
            # _pending[:, j] = command issued j frames ago; a car with latency L acts on _pending[:, L]
            self._pending[:, 1:] = self._pending[:, :-1].copy()
            self._pending[:, 0, 0], self._pending[:, 0, 1] = steer, speed
            rows = np.arange(self.n_cars)
            steer = self._pending[rows, self._latency, 0].copy()
            speed = self._pending[rows, self._latency, 1].copy()
        c = self.config
        if c.dynamics == "kinematic":
            dyn.step_kinematic(self._x, self._y, self._yaw, self._v, self._delta, self._vy, self._r, steer, speed,
                               self._steer_rate, self._tau, self.vehicle.wheelbase_m, self._lr, self._dt_sub,
                               self._n_sub)
        else:
            dyn.step_dynamic(self._x, self._y, self._yaw, self._v, self._delta, self._vy, self._r, steer, speed,
                             self._steer_rate, self._tau, self.vehicle.wheelbase_m, self._lr, self._dt_sub,
                             self._n_sub, c.mass_kg, c.yaw_inertia_kg_m2, c.cornering_stiffness_n_per_rad,
                             self._mu)

    # ------------------------------------------------------------------------------- render
    def render(self, out: np.ndarray | None = None, car_ids=None) -> np.ndarray:
        """Camera images now: (N, H, W) uint8 gray (ITU-R 601 luma), or (N, H, W, 3) RGB if color.

        car_ids: render only these cars (e.g. the ones just reset); the result then has len(car_ids)
        rows in that order. A car's image (and its per-frame random draws: sensor noise,
        augmentations) does not depend on which other cars are rendered with it.
        `out` (the result's shape, uint8) is filled and returned if given (saves an allocation).
        """
        h, w, ch = self.height, self.width, self.channels
        if car_ids is None:
            ids = None
            cars = range(self.n_cars)
        else:
            ids = np.atleast_1d(np.asarray(car_ids, dtype=np.int64))
            if ids.size and (ids.min() < 0 or ids.max() >= self.n_cars):
                raise ValueError(f"render: car ids must be in [0, {self.n_cars}), got {ids.tolist()}")
            cars = ids.tolist()
        n = len(cars)
        shape = (n, h, w) if ch == 1 else (n, h, w, 3)
        if out is None:
            out = np.empty(shape, np.uint8)
        elif out.shape != shape or out.dtype != np.uint8:
            raise ValueError(f"render: out must be uint8 {shape}, got {out.dtype} {out.shape}")
        if n == 0:
            return out

        def pick(a: np.ndarray) -> np.ndarray:
            return a if ids is None else a[ids]

        aug = self.config.randomization.augmentation
        flags = None
        palette, mix_color = pick(self._palette), pick(self._mix_color)
        if aug.enabled:
            flags = [augmentation_flags(aug, self._draws[car].augment_rng) for car in cars]
            if any(f["random_color"] for f in flags):
                if ids is None:
                    palette, mix_color = palette.copy(), mix_color.copy()
                for i, car in enumerate(cars):
                    if flags[i]["random_color"]:
                        rgb = hue_saturation_palette(self._palette_rgb[car], self._draws[car].augment_rng)
                        palette[i] = self._to_output_space(rgb)
                        mix_color[i] = self._mixture_colors(palette[i])
        self.renderer.render(out.reshape(n, h * w, ch), pick(self._x), pick(self._y), pick(self._yaw),
                             pick(self._cam_index), palette, mix_color, pick(self._lut), pick(self._shadow),
                             pick(self._tex_noise))
        for i, car in enumerate(cars):
            if self._blur[car] >= 1.5:
                out[i] = vertical_blur(out[i], int(round(self._blur[car])))
        if self._noise_bank is not None:
            size = h * w * ch
            for i, car in enumerate(cars):
                d = self._draws[car]
                if self._sigma[car] <= 0.0:
                    continue
                start = int(d.noise_rng.integers(0, _NOISE_BANK_SIZE - size))
                noisy = out[i].reshape(-1) + self._sigma[car] * self._noise_bank[start:start + size]
                out[i] = np.clip(np.rint(noisy), 0, 255).astype(np.uint8).reshape(out[i].shape)
        if flags is not None:
            for i, car in enumerate(cars):
                if any(flags[i].values()):
                    out[i] = apply_augmentations(out[i], flags[i], aug, self._draws[car].augment_rng)
        return out

    # ------------------------------------------------------------------------------ queries
    def wheel_contacts(self) -> np.ndarray:
        """(N, 4, 2) world x, y of the wheel contact points (rows: vehicle.WHEEL_ORDER; wheels straight)."""
        c, s = np.cos(self._yaw), np.sin(self._yaw)
        wc = self.vehicle.wheel_contacts_m
        out = np.empty((self.n_cars, len(wc), 2))
        out[:, :, 0] = self._x[:, None] + c[:, None] * wc[None, :, 0] - s[:, None] * wc[None, :, 1]
        out[:, :, 1] = self._y[:, None] + s[:, None] * wc[None, :, 0] + c[:, None] * wc[None, :, 1]
        return out

    def wheels_on_track(self) -> np.ndarray:
        """(N, 4) bool: each wheel contact point inside the road (Track.on_track)."""
        return self.track.on_track(self.wheel_contacts())

    def query(self, xy: np.ndarray | None = None) -> TrackQuery:
        """Track.query at base_link (or at `xy` (N, 2), e.g. the AWS reward point ahead of the car)."""
        return self.track.query(np.column_stack([self._x, self._y]) if xy is None else xy)

    def camera_rays(self, car: int = 0) -> CameraRays:
        """The rays car `car` renders with this episode (differs per car with camera-pose jitter)."""
        rays = self.renderer.table.rays[int(self._cam_index[car])]
        assert rays is not None
        return rays

    @property
    def memory_bytes_per_car(self) -> int:
        """Bytes held per car: state, draws, ray tables (per car when camera pose is randomized)."""
        per_car_tables = self.renderer.table.nbytes // self.renderer.table.hits_ground.shape[0]
        jitter = self.config.randomization.camera_pose.enabled
        arrays = (self._palette_rgb.nbytes + self._palette.nbytes + self._mix_color.nbytes + self._lut.nbytes + self._shadow.nbytes
                  + self._pending.nbytes + self._tex_noise.nbytes) // self.n_cars + 12 * 8
        return arrays + (per_car_tables if jitter else 0)

    @property
    def shared_memory_bytes(self) -> int:
        """Bytes shared by all cars: texture pyramid, world, (un-jittered) ray table, noise bank."""
        b = self.renderer.texture.nbytes + self.world.panorama.nbytes + self.world.noise_tile.nbytes
        if not self.config.randomization.camera_pose.enabled:
            b += self.renderer.table.nbytes
        if self._noise_bank is not None:
            b += self._noise_bank.nbytes
        return b
