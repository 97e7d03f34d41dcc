"""Torch port of `BatchSim`'s per-frame work: dynamics, track queries and rendering on any torch device.

Training-side only (imports torch; `deepracer_sim` never imports this module itself, so the CPU
path and the car need no torch). `TorchBatchSim` keeps a CPU `BatchSim` for everything that
happens once per episode (construction, the per-car randomization draws of `reset`, camera-pose
jitter ray tables) and moves what happens every frame to `device`:

* `step`: action sanitising (NaN -> 0, URDF clip, counted), actuation bias / scale, latency queue,
  and the kinematic (exact arcs) and dynamic single-track models of `dynamics.py`, vectorised;
* `render`: `TorchRenderer` (pinhole or fisheye, ground texture, walls, panorama, palette, shadow,
  ground noise, per-car lookup table), then motion blur and sensor noise;
* `TorchTrack`: nearest centre segment / progress / distance from centre / on-track (even-odd
  test of the road polygon) for thousands of points at once;
* per-frame randomization: action noise (`step`: steering and speed x (1 + fraction * U(-1, 1)) per
  car, clipped, before actuation bias and latency), sensor noise, and the paper's image
  augmentations (`torch_augment`: the hue / saturation palette shift, then after blur and sensor
  noise brightness / contrast, translation, shadow, sharpen, salt and pepper).

The per-frame draws come from torch generators (one per stream: sensor noise, augmentation,
action noise, seeded from the sim's seed, so enabling one never changes another's draws), not
from the CPU's per-car numpy generators: noisy / augmented frames and noisy trajectories are
statistically, not bitwise, equal to the CPU's (for the same draws, the augmentation pixel math
is identical; tested).
State is float64 on CPU and float64 on CUDA too (a few thousand cars: the cost is negligible);
the renderer works in float32.
"""
from __future__ import annotations

import numpy as np
import torch

from deepracer_tracks.track import Track

from .batch_sim import BatchSim
from .config import SimConfig
from .dynamics import _BLEND_HI_M_S, _BLEND_LO_M_S, GRAVITY_M_S2
from .torch_augment import augment_frames, draw_flags, draw_hue_saturation, draw_params, hue_saturation_palette
from .torch_render import TorchRenderer, scatter_rows

__all__ = ["TorchBatchSim", "TorchTrack", "step_kinematic", "step_dynamic"]

F64 = torch.float64


def _actuate(delta, v, cmd_delta, cmd_v, rate, tau, dt):
    step = rate * dt
    delta = delta + torch.clamp(cmd_delta - delta, -step, step)
    decay = torch.exp(-dt / torch.where(tau > 0, tau, 1.0))
    v = torch.where(tau > 0, cmd_v + (v - cmd_v) * decay, cmd_v)
    return delta, v


def step_kinematic(state: dict, cmd_delta, cmd_v, steering_rate, tau, wheelbase: float, lr: float, dt: float,
                   substeps: int) -> None:
    """In place on state tensors x, y, yaw, v, delta, vy, r: the exact-arc kinematic bicycle (dynamics.py)."""
    x, y, psi, v, d = state["x"], state["y"], state["yaw"], state["v"], state["delta"]
    for _ in range(substeps):
        d, v = _actuate(d, v, cmd_delta, cmd_v, steering_rate, tau, dt)
        w = v * torch.tan(d) / wheelbase
        xr = x - lr * torch.cos(psi)
        yr = y - lr * torch.sin(psi)
        dpsi = w * dt
        small = dpsi.abs() < 1e-9
        rad = v / torch.where(small, 1.0, w)
        xr = xr + torch.where(small, v * dt * torch.cos(psi + 0.5 * dpsi), rad * (torch.sin(psi + dpsi) - torch.sin(psi)))
        yr = yr + torch.where(small, v * dt * torch.sin(psi + 0.5 * dpsi), -rad * (torch.cos(psi + dpsi) - torch.cos(psi)))
        psi = psi + dpsi
        x = xr + lr * torch.cos(psi)
        y = yr + lr * torch.sin(psi)
    psi = torch.atan2(torch.sin(psi), torch.cos(psi))
    r = v * torch.tan(d) / wheelbase
    state.update(x=x, y=y, yaw=psi, v=v, delta=d, r=r, vy=lr * r)


def step_dynamic(state: dict, cmd_delta, cmd_v, steering_rate, tau, wheelbase: float, lr: float, dt: float,
                 substeps: int, mass: float, inertia: float, stiffness: float, mu) -> None:
    """In place on state tensors: the dynamic single-track model with the low-speed blend (dynamics.py)."""
    lf = wheelbase - lr
    fzf = mass * GRAVITY_M_S2 * lr / wheelbase
    fzr = mass * GRAVITY_M_S2 * lf / wheelbase
    x, y, psi, v, d, vy, r = (state[k] for k in ("x", "y", "yaw", "v", "delta", "vy", "r"))
    for _ in range(substeps):
        d, v = _actuate(d, v, cmd_delta, cmd_v, steering_rate, tau, dt)
        r_kin = v * torch.tan(d) / wheelbase
        vy_kin = lr * r_kin
        blend = (v - _BLEND_LO_M_S) / (_BLEND_HI_M_S - _BLEND_LO_M_S)
        alpha_f = d - torch.atan2(vy + lf * r, v)
        alpha_r = -torch.atan2(vy - lr * r, v)
        ff = mu * fzf * torch.tanh(stiffness * alpha_f / (mu * fzf))
        fr = mu * fzr * torch.tanh(stiffness * alpha_r / (mu * fzr))
        cd = torch.cos(d)
        vy_d = vy + ((ff * cd + fr) / mass - v * r) * dt
        r_d = r + ((lf * ff * cd - lr * fr) / inertia) * dt
        bl = blend.clamp(max=1.0)
        vy_b = torch.where(bl < 1.0, bl * vy_d + (1.0 - bl) * vy_kin, vy_d)
        r_b = torch.where(bl < 1.0, bl * r_d + (1.0 - bl) * r_kin, r_d)
        vy = torch.where(blend <= 0.0, vy_kin, vy_b)
        r = torch.where(blend <= 0.0, r_kin, r_b)
        cp, sp = torch.cos(psi), torch.sin(psi)
        x = x + (v * cp - vy * sp) * dt
        y = y + (v * sp + vy * cp) * dt
        psi = psi + r * dt
    psi = torch.atan2(torch.sin(psi), torch.cos(psi))
    state.update(x=x, y=y, yaw=psi, v=v, delta=d, vy=vy, r=r)


class TorchTrack:
    """`Track.query` / `Track.on_track` for (N, 2) tensors on `device` (brute force over segments).

    Nearest segment ties resolve to the lowest index, as `Track.query` does; float64 throughout.
    """

    def __init__(self, track: Track, device: torch.device | str = "cpu"):
        dev = self.device = torch.device(device)
        self.track = track
        self.closed = track.closed
        self.length_m = track.length_m
        t = lambda a: torch.as_tensor(np.array(a, dtype=np.float64), device=dev)  # noqa: E731
        self.a, self.v = t(track._seg_a), t(track._seg_v)
        self.seg_len, self.s_wp = t(track._seg_len), t(track._s_wp)
        self.inv_len2 = t(1.0 / track._seg_len2)
        self.heading = t(track._seg_heading)
        self.widths = t(track.widths_m)
        self.n_wp = len(track.centre)
        if track.closed:
            rings = [track.outer, track.inner]
        else:
            rings = [np.vstack([track.inner, track.outer[::-1]])]
        ea = np.vstack([r for r in rings])
        eb = np.vstack([np.roll(r, -1, axis=0) for r in rings])
        self.ea, self.eb = t(ea), t(eb)

    def query(self, xy: torch.Tensor) -> dict:
        """dict of s_m, progress_pct, distance_from_center_m, is_left_of_center, closest_waypoints (N, 2),
        projection_xy, half_width_m, heading_rad -- the fields of `TrackQuery`, as tensors."""
        p = xy.to(F64).reshape(-1, 2)
        rel = p[:, None, :] - self.a[None]                                   # (N, S, 2)
        tt = ((rel * self.v[None]).sum(-1) * self.inv_len2[None]).clamp(0.0, 1.0)
        dvec = rel - tt[..., None] * self.v[None]
        d2 = (dvec * dvec).sum(-1)
        seg = torch.argmin(d2, dim=1)
        t = tt.gather(1, seg[:, None])[:, 0]
        a, v = self.a[seg], self.v[seg]
        proj = a + t[:, None] * v
        d = p - proj
        dist = torch.hypot(d[:, 0], d[:, 1])
        left = (v[:, 0] * d[:, 1] - v[:, 1] * d[:, 0]) > 0.0
        s = self.s_wp[seg] + t * self.seg_len[seg]
        nxt = seg + 1
        if self.closed:
            s = torch.where(s >= self.length_m, s - self.length_m, s)
            nxt = nxt % self.n_wp
            progress = 100.0 * s / self.length_m
        else:
            progress = (100.0 * s / self.length_m).clamp(0.0, 100.0)
        half = 0.5 * ((1.0 - t) * self.widths[seg] + t * self.widths[nxt])
        return dict(s_m=s, progress_pct=progress, distance_from_center_m=dist, is_left_of_center=left,
                    closest_waypoints=torch.stack([seg, nxt], 1), projection_xy=proj, half_width_m=half,
                    heading_rad=self.heading[seg])

    def on_track(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 2) -> (...) bool: inside the road polygon (even-odd ray casting along +x)."""
        shape = points.shape[:-1]
        p = points.to(F64).reshape(-1, 1, 2)
        ax, ay, bx, by = self.ea[None, :, 0], self.ea[None, :, 1], self.eb[None, :, 0], self.eb[None, :, 1]
        px, py = p[..., 0], p[..., 1]
        straddle = (ay > py) != (by > py)
        dy = torch.where(by != ay, by - ay, 1.0)
        xc = ax + (py - ay) * (bx - ax) / dy
        crossings = (straddle & (px < xc)).sum(1)
        return (crossings % 2 == 1).reshape(shape)


class TorchBatchSim:
    """`BatchSim` with step / render / queries on a torch device. Same constructor plus `device`.

    State tensors (N,) float64 on `device`: x, y, yaw, speed, steering, yaw_rate, lateral_speed,
    command_steering, command_speed; `clipped_action_counts` (N,) int64. `reset` takes numpy or
    tensors; `render()` returns (N, H, W) or (N, H, W, 3) uint8 tensors on `device`.
    compile=True renders through `torch.compile` (16x faster on an H200; BENCHMARKS.md).
    """

    def __init__(self, track: Track, n_cars: int = 1, config: SimConfig | None = None, vehicle=None,
                 seed: int | None = None, device: torch.device | str = "cpu", compile: bool = False):
        self.cpu = BatchSim(track, n_cars, config, vehicle, seed)
        c = self.config = self.cpu.config
        r = c.randomization
        self.device = dev = torch.device(device)
        self.n_cars, self.dt_s = self.cpu.n_cars, self.cpu.dt_s
        self.width, self.height, self.channels = self.cpu.width, self.cpu.height, self.cpu.channels
        self.vehicle = self.cpu.vehicle
        self.track = TorchTrack(track, dev)
        self.renderer = TorchRenderer(self.cpu.renderer, dev)
        self._gen = torch.Generator(device=dev)
        self._gen.manual_seed(self.cpu.seed & 0x7FFF_FFFF_FFFF_FFFF)
        #: per-frame augmentation (None: off, and the frame path does no extra work) and its stream
        self._aug = r.augmentation if r.augmentation.enabled else None
        #: per-step action noise (None: off) and its stream
        self._act_noise = r.action_noise if r.action_noise.enabled else None
        self._aug_gen = self._stream(1) if self._aug is not None else None
        self._act_gen = self._stream(2) if self._act_noise is not None else None
        self._recolor = self._aug is not None and self._aug.random_color
        if self._recolor:
            from .render import LUMA
            #: (M, 4) class fractions of the texture's mixtures (`GroundTexture.mixture_colors`)
            self._mixtures = self._t(self.cpu.renderer.texture.mixtures[:, :4])
            self._luma = self._t(LUMA)
        self._state: dict[str, torch.Tensor] = {}
        self._pending = torch.zeros((self.n_cars,) + self.cpu._pending.shape[1:], dtype=F64, device=dev)
        self.clipped_action_counts = torch.zeros(self.n_cars, dtype=torch.int64, device=dev)
        self._wheel_contacts = self._t(self.vehicle.wheel_contacts_m)      # (4, 2), uploaded once
        self._pull(None)
        #: shadow stripes / ground noise can be non-zero for some car (else the pass is skipped)
        self._shade = bool(r.shadow.enabled or r.texture.enabled or self.cpu._grain_amp > 0.0)
        self._render_fn = self.renderer.render
        if compile:
            self._render_fn = torch.compile(self.renderer.render, dynamic=False)

    def _stream(self, k: int) -> torch.Generator:
        """An independent torch generator for per-frame stream k (0 = sensor noise = self._gen)."""
        g = torch.Generator(device=self.device)
        seq = np.random.SeedSequence([self.cpu.seed & 0xFFFF_FFFF_FFFF_FFFF, 0x7043, k])
        g.manual_seed(int(seq.generate_state(1, np.uint64)[0]) & 0x7FFF_FFFF_FFFF_FFFF)
        return g

    # --------------------------------------------------------------------- CPU -> device
    def _t(self, a, dtype=F64):
        return torch.as_tensor(np.array(a), dtype=dtype, device=self.device)

    def _pull(self, ids) -> None:
        """Copy the CPU sim's state and per-car draws (all cars, or rows `ids`) to the device."""
        s = self.cpu
        per_car = {"x": s._x, "y": s._y, "yaw": s._yaw, "v": s._v, "delta": s._delta, "vy": s._vy, "r": s._r,
                   "cmd_delta": s._cmd_delta, "cmd_v": s._cmd_v, "steer_rate": s._steer_rate, "tau": s._tau,
                   "mu": s._mu, "speed_scale": s._speed_scale, "steer_bias": s._steer_bias, "blur": s._blur,
                   "sigma": s._sigma, "palette": s._palette, "shadow": s._shadow, "tex_noise": s._tex_noise}
        if self._recolor:
            per_car["palette_rgb"] = s._palette_rgb
        ints = {"latency": s._latency, "cam_index": s._cam_index}
        m = s._mix_color
        if ids is None:
            for k, a in per_car.items():
                self._state[k] = self._t(a)
            for k, a in ints.items():
                self._state[k] = self._t(a, torch.int64)
            self._state["mix"] = self._t(m.reshape(m.shape[0], m.shape[1], -1), torch.float32)
            self._state["lut"] = self._t(s._lut, torch.uint8)
            self._pending.zero_()
            self._host_flags()
            return
        idx = torch.as_tensor(ids, device=self.device)
        st = self._state
        rows = [(st[k], a[ids]) for k, a in (*per_car.items(), *ints.items())]
        scatter_rows(rows + [(st["mix"], m[ids]), (st["lut"], s._lut[ids])], idx)   # one copy per dtype
        self._pending[idx] = 0.0
        self._host_flags()
        if self.config.randomization.camera_pose.enabled:
            self.renderer.sync_rays(s._cam_index[ids])

    def _host_flags(self) -> None:
        """Which per-frame passes some car needs, from the CPU sim's per-car draws (always current for
        every car): read on the host, so `render` needs no device -> host sync to decide."""
        s = self.cpu
        self._any_blur = bool((s._blur >= 1.5).any())
        self._any_noise = s._noise_bank is not None and bool((s._sigma > 0).any())

    def __getattr__(self, name):
        alias = {"x": "x", "y": "y", "yaw": "yaw", "speed": "v", "steering": "delta", "yaw_rate": "r",
                 "lateral_speed": "vy", "command_steering": "cmd_delta", "command_speed": "cmd_v"}
        if name in alias and "_state" in self.__dict__:
            return self._state[alias[name]]
        raise AttributeError(name)

    def reset(self, car_ids, x, y, yaw) -> None:
        """As `BatchSim.reset` (new episode draws for `car_ids` at poses x, y, yaw; metres, radians)."""
        conv = lambda a: a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a  # noqa: E731
        ids = np.atleast_1d(np.asarray(conv(car_ids), dtype=np.int64))
        if ids.size == 0:
            return
        # the CPU sim's state of the other cars is stale; only the reset rows are copied back
        self.cpu.reset(ids, conv(x), conv(y), conv(yaw))
        self._pull(ids)

    # ------------------------------------------------------------------------------ step
    def step(self, steering_rad, speed_m_s) -> None:
        """Advance one camera frame (as `BatchSim.step`); steering_rad, speed_m_s: scalars or (N,) tensors."""
        n, st, veh = self.n_cars, self._state, self.vehicle
        steer = torch.as_tensor(steering_rad, dtype=F64, device=self.device).broadcast_to((n,))
        speed = torch.as_tensor(speed_m_s, dtype=F64, device=self.device).broadcast_to((n,))
        bad = torch.isnan(steer) | torch.isnan(speed)
        steer, speed = torch.nan_to_num(steer, nan=0.0), torch.nan_to_num(speed, nan=0.0)
        cs = steer.clamp(-veh.max_steering_angle_rad, veh.max_steering_angle_rad)
        cv = speed.clamp(veh.min_speed_m_s, veh.max_speed_m_s)
        self.clipped_action_counts += (bad | (cs != steer) | (cv != speed)).to(torch.int64)
        st["cmd_delta"], st["cmd_v"] = cs, cv
        steer, speed = cs, cv
        if self._act_noise is not None:
            o = self._act_noise
            u = 2.0 * torch.rand((n, 2), generator=self._act_gen, device=self.device, dtype=F64) - 1.0
            steer = (steer * (1.0 + o.steering_fraction * u[:, 0])).clamp(-veh.max_steering_angle_rad,
                                                                          veh.max_steering_angle_rad)
            speed = (speed * (1.0 + o.speed_fraction * u[:, 1])).clamp(veh.min_speed_m_s, veh.max_speed_m_s)
        if self.cpu._actuation_on:
            steer = (steer + st["steer_bias"]).clamp(-veh.max_steering_angle_rad, veh.max_steering_angle_rad)
            speed = (speed * st["speed_scale"]).clamp(veh.min_speed_m_s, veh.max_speed_m_s)
        if self.cpu._delayed:
            self._pending = torch.cat([torch.stack([steer, speed], -1)[:, None], self._pending[:, :-1]], 1)
            rows = torch.arange(n, device=self.device)
            steer = self._pending[rows, st["latency"], 0]
            speed = self._pending[rows, st["latency"], 1]
        c, s = self.config, self.cpu
        if c.dynamics == "kinematic":
            step_kinematic(st, steer, speed, st["steer_rate"], st["tau"], veh.wheelbase_m, s._lr, s._dt_sub, s._n_sub)
        else:
            step_dynamic(st, steer, speed, st["steer_rate"], st["tau"], veh.wheelbase_m, s._lr, s._dt_sub, s._n_sub,
                         c.mass_kg, c.yaw_inertia_kg_m2, c.cornering_stiffness_n_per_rad, st["mu"])

    @property
    def clipped_action_count(self) -> int:
        return int(self.clipped_action_counts.sum())

    # ---------------------------------------------------------------------------- render
    def render(self) -> torch.Tensor:
        """(N, H, W) uint8 gray or (N, H, W, 3) RGB camera images on the device (as `BatchSim.render`)."""
        st = self._state
        h, w, ch = self.height, self.width, self.channels
        pal, mix = st["palette"], st["mix"]
        flags = None
        if self._aug is not None:
            flags = draw_flags(self._aug, self.n_cars, self._aug_gen, self.device)
            if self._recolor:
                pal, mix = self._recolored(flags[:, 0])
        out = self._render_fn(st["x"], st["y"], st["yaw"], st["cam_index"], pal, mix, st["lut"],
                              st["shadow"], st["tex_noise"], self._shade)
        out = out.reshape(self.n_cars, h, w, ch)
        blur = torch.round(st["blur"]).to(torch.int64)
        if self._any_blur:
            out = self._blur(out, torch.where(st["blur"] >= 1.5, blur, 1))
        if self._any_noise:
            noise = torch.randn(out.shape, generator=self._gen, device=self.device, dtype=torch.float32)
            noisy = out.to(torch.float32) + st["sigma"].to(torch.float32)[:, None, None, None] * noise
            out = torch.where((st["sigma"] > 0)[:, None, None, None], noisy.round().clamp(0, 255).to(torch.uint8), out)
        if flags is not None:
            p = draw_params(self._aug, self.n_cars, h, w, self._aug_gen, self.device, pixel_draws=False)
            out = augment_frames(out, flags, p, subset=True, gen=self._aug_gen)
        return out[..., 0] if ch == 1 else out

    def _recolored(self, hit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """This frame's (palette, mix) with the hue / saturation shift for cars `hit` (N,) bool.

        `BatchSim.render`'s random_color palette step: `hue_saturation_palette` of the episode's RGB
        palette, then `_to_output_space` (luma for gray) and `_mixture_colors` (mixtures @ rows 0-3,
        float32). The per-episode state is not touched; drawn and computed for every car (no sync).
        """
        st, n = self._state, self.n_cars
        dh, ds = draw_hue_saturation(n, self._aug_gen, self.device)
        pal, mix = self._shifted_tables(dh, ds)
        sel = hit[:, None, None]
        return torch.where(sel, pal, st["palette"]), torch.where(sel, mix, st["mix"])

    def _shifted_tables(self, dh: torch.Tensor, ds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(palette (N, 8, C) float64, mix (N, M, C) float32) of every car's episode palette shifted by
        hue dh (N,) turns and saturation x ds (N,)."""
        rgb = hue_saturation_palette(self._state["palette_rgb"], dh, ds)             # (N, 8, 3)
        pal = rgb if self.channels == 3 else (rgb @ self._luma)[..., None]           # (N, 8, C)
        mix = torch.matmul(self._mixtures, pal[:, :4]).to(torch.float32)             # (N, M, C)
        return pal, mix

    @staticmethod
    def _blur(img: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Per-car vertical box blur (`batch_sim.vertical_blur`), rows (N,) >= 1; img (N, H, W, C) uint8."""
        h = img.shape[1]
        lo = rows // 2
        csum = torch.cumsum(img.to(torch.int32), dim=1)
        csum = torch.cat([torch.zeros_like(csum[:, :1]), csum], 1)           # csum[:, j] = sum rows < j
        i = torch.arange(h, device=img.device)[None, :]
        start = i - lo[:, None]                                              # (N, H) first row (may be < 0)
        end = start + rows[:, None]

        def prefix(j):        # sum of edge-padded rows < j
            jc = j.clamp(0, h)
            base = csum.gather(1, jc[..., None, None].expand(-1, -1, *img.shape[2:]))
            below = (-j).clamp(min=0)[..., None, None] * img[:, :1].to(torch.int32)
            above = (j - h).clamp(min=0)[..., None, None] * img[:, -1:].to(torch.int32)
            return base - below + above
        total = prefix(end) - prefix(start)
        r = rows[:, None, None, None]
        return ((total + r // 2) // r).to(torch.uint8)

    # --------------------------------------------------------------------------- queries
    def wheel_contacts(self) -> torch.Tensor:
        """(N, 4, 2) world x, y of the wheel contact points (as `BatchSim.wheel_contacts`)."""
        st = self._state
        wc = self._wheel_contacts
        c, s = torch.cos(st["yaw"])[:, None], torch.sin(st["yaw"])[:, None]
        x = st["x"][:, None] + c * wc[None, :, 0] - s * wc[None, :, 1]
        y = st["y"][:, None] + s * wc[None, :, 0] + c * wc[None, :, 1]
        return torch.stack([x, y], -1)

    def wheels_on_track(self) -> torch.Tensor:
        """(N, 4) bool: each wheel contact point inside the road."""
        return self.track.on_track(self.wheel_contacts())

    def query(self, xy: torch.Tensor | None = None) -> dict:
        """`TorchTrack.query` at base_link (or at `xy` (N, 2))."""
        st = self._state
        return self.track.query(torch.stack([st["x"], st["y"]], -1) if xy is None else xy)
