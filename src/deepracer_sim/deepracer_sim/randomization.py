"""Domain randomization: the options (`RandomizationConfig`), the per-car per-episode draw, and the
paper's image augmentations.

Reproducibility: everything random about car ``c`` in episode ``e`` of a simulator seeded with
``seed`` comes from ``np.random.SeedSequence([seed, c, e, stream])``, one independent stream per
option (``STREAMS``). So enabling one option never changes the draws of another one, and a car's
images do not depend on how many other cars share the batch.

What the paper trains with: the AWS DeepRacer baseline trains with no randomization, which is why
every option here is OFF by default. Its sim-to-real experiments add uniform action noise (up to
+-10 % on steering and throttle) and image augmentations (random colour, horizontal translation,
shadow, sharpen, salt-and-pepper, each with probability 0.2): `RandomizationConfig.paper_sim2real()`
turns exactly those on. The other options (lighting, colours/textures, camera pose, sensor noise,
latency, dynamics) are this workspace's additions for robustness studies.
"""
from __future__ import annotations

import colorsys
import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from deepracer_common.options import Options, OptionsError, option

__all__ = [
    "LightingOption", "ShadowOption", "ColorOption", "TextureOption", "CameraPoseOption",
    "SensorNoiseOption", "AugmentationOption", "ActionNoiseOption", "LatencyOption",
    "DynamicsVariationOption", "MotionBlurOption", "ActuationOption", "RandomizationConfig", "CarDraw",
    "draw_car", "car_rng", "STREAMS",
    "PALETTE_NAMES", "apply_augmentations", "augmentation_flags", "augmentation_params", "augment_image",
    "hue_saturation_palette",
]

#: Rows of a car's colour palette (RGB, 0-255). The first four match the ground texture classes.
PALETTE_NAMES = ("floor", "road", "border", "centre", "wall_a", "wall_b", "background_a", "background_b")
#: Independent random streams per car and episode (index = the 4th SeedSequence entry).
STREAMS = ("lighting", "shadow", "colors", "texture", "camera_pose", "sensor_noise", "augmentation",
           "action_noise", "dynamics", "motion_blur", "latency", "actuation", "lens")


# ----------------------------------------------------------------------------------------- options
class SimConfigError(OptionsError):
    """A simulator configuration value is invalid; the message starts with the option's dotted name."""


class ConfigBase(Options):
    """Base of the simulator's option sections (deepracer_common's schema, raising SimConfigError)."""

    error = SimConfigError


@dataclass
class LightingOption(ConfigBase):
    """Global light level per car and episode: v' = 255 * b * (((v/255)^gamma - 0.5) * c + 0.5)."""
    enabled: bool = option(False, kind=bool)
    brightness: float = option(0.3, lo=0.0, hi=1.0, doc="brightness factor drawn in [1-b, 1+b]")
    contrast: float = option(0.3, lo=0.0, hi=1.0, doc="contrast factor drawn in [1-c, 1+c]")
    gamma: float = option(0.3, lo=0.0, hi=2.0, doc="gamma drawn as exp(U(-g, g))")
    invert_probability: float = option(0.0, lo=0.0, hi=1.0,
                                       doc="chance per car and episode that the curve is inverted "
                                           "(v' -> 255 - v'): dark lines on a light road as well as the "
                                           "other way round")


@dataclass
class ShadowOption(ConfigBase):
    """Directional shadows on the ground: parallel dark stripes (a row of pillars or windows)."""
    enabled: bool = option(False, kind=bool)
    darkness_min: float = option(0.2, lo=0.0, hi=1.0, doc="shadowed ground keeps 1-darkness of its light")
    darkness_max: float = option(0.6, lo=0.0, hi=1.0)
    period_min_m: float = option(1.0, lo=0.0, lo_open=True, doc="stripe spacing range (metres)")
    period_max_m: float = option(4.0, lo=0.0, lo_open=True)
    duty_max: float = option(0.5, lo=0.0, hi=1.0, doc="largest shadowed fraction of a period")

    def check(self) -> None:
        if self.darkness_min > self.darkness_max:
            raise SimConfigError("darkness_min: must be <= darkness_max")
        if self.period_min_m > self.period_max_m:
            raise SimConfigError("period_min_m: must be <= period_max_m")


@dataclass
class ColorOption(ConfigBase):
    """Road, line, floor, wall and background colours drawn around the default style; with
    ``random_probability``, some cars' episodes get entirely random colours instead."""
    enabled: bool = option(False, kind=bool)
    strength: float = option(0.5, lo=0.0, hi=1.0, doc="0 = default colours, 1 = anything plausible")
    random_probability: float = option(0.0, lo=0.0, hi=1.0,
                                       doc="chance per car and episode that every palette colour is drawn "
                                           "uniformly (RGB each U(0, 255)) rather than around the default: "
                                           "a light road, dark lines, a bright floor are all possible, so "
                                           "only the track's geometry stays the same (Tobin et al.'s random "
                                           "textures); drawn after the variation, so 0 leaves its draws as they were")


@dataclass
class TextureOption(ConfigBase):
    """Multiplicative noise texture on the ground (carpet, concrete): per-car amplitude and offset."""
    enabled: bool = option(False, kind=bool)
    amplitude: float = option(0.15, lo=0.0, hi=1.0, doc="largest relative brightness variation")


@dataclass
class CameraPoseOption(ConfigBase):
    """Camera mounting tolerance: height, pitch and field of view drawn uniformly +- these around
    the nominal mount (``SimConfig.camera_mount``), and the lens model per car."""
    enabled: bool = option(False, kind=bool)
    height_m: float = option(0.01, lo=0.0, hi=0.1)
    pitch_rad: float = option(0.035, lo=0.0, hi=0.5, doc="+- pitch (rad); 0.0873 = 5 deg")
    fov_rad: float = option(0.05, lo=0.0, hi=1.0, doc="+- horizontal FOV (rad); 0.113 = 10 % of 1.13")
    fisheye_probability: float = option(0.0, lo=0.0, hi=1.0,
                                        doc="chance per car and episode that it sees through the URDF's "
                                            "wide (fisheye) camera instead of the pinhole one")


@dataclass
class SensorNoiseOption(ConfigBase):
    """Additive Gaussian pixel noise (gray levels, 0-255 scale), new every frame."""
    enabled: bool = option(False, kind=bool)
    sigma: float = option(4.0, lo=0.0, hi=64.0)


@dataclass
class AugmentationOption(ConfigBase):
    """The paper's image augmentations, each applied to a frame with `probability`."""
    enabled: bool = option(False, kind=bool)
    probability: float = option(0.2, lo=0.0, hi=1.0)
    random_color: bool = option(True, kind=bool, doc="hue, saturation, brightness, contrast")
    translation: bool = option(True, kind=bool, doc="horizontal shift, edge pixels repeated")
    shadow: bool = option(True, kind=bool, doc="a dark polygon from the top to the bottom edge")
    sharpen: bool = option(True, kind=bool, doc="3x3 sharpening kernel")
    salt_and_pepper: bool = option(True, kind=bool)
    max_translation_fraction: float = option(0.1, lo=0.0, hi=0.5, doc="of the image width")
    salt_and_pepper_fraction: float = option(0.02, lo=0.0, hi=1.0, doc="largest fraction of pixels hit")


@dataclass
class ActionNoiseOption(ConfigBase):
    """Uniform multiplicative noise on the commanded steering and speed, new every step."""
    enabled: bool = option(False, kind=bool)
    steering_fraction: float = option(0.1, lo=0.0, hi=1.0)
    speed_fraction: float = option(0.1, lo=0.0, hi=1.0)


@dataclass
class LatencyOption(ConfigBase):
    """Commands take effect `frames` camera frames late (the car acts on an older image); with
    `min_frames`, each car and episode draws its latency uniformly in [min_frames, frames]."""
    enabled: bool = option(False, kind=bool)
    frames: int = option(1, kind=int, lo=1, hi=10)
    min_frames: int | None = option(None, kind=int, lo=0, hi=10, allow_none=True,
                                    doc="null: always `frames`; else drawn in [min_frames, frames]")

    def check(self) -> None:
        if self.min_frames is not None and self.min_frames > self.frames:
            raise SimConfigError(f"min_frames: must be <= frames ({self.frames}), got {self.min_frames}")


@dataclass
class MotionBlurOption(ConfigBase):
    """Vertical motion blur per car and episode: a box of U(0, max_px) rows (rounded; see
    ``SimConfig.imaging.motion_blur_px``)."""
    enabled: bool = option(False, kind=bool)
    max_px: float = option(3.0, lo=0.0, hi=32.0)


@dataclass
class ActuationOption(ConfigBase):
    """Per car and episode actuator miscalibration: speed x U(1-s, 1+s), steering + U(-b, b) rad."""
    enabled: bool = option(False, kind=bool)
    speed_scale: float = option(0.2, lo=0.0, hi=0.9, doc="+- fraction of the commanded speed")
    steering_bias_rad: float = option(0.05, lo=0.0, hi=0.5, doc="+- steering offset (rad); 0.05 = 2.9 deg")


@dataclass
class DynamicsVariationOption(ConfigBase):
    """Per-episode actuator lag (steering rate, throttle time constant) and tyre grip factors."""
    enabled: bool = option(False, kind=bool)
    actuator_lag: float = option(0.3, lo=0.0, hi=0.9, doc="rate / time constant scaled by U(1-a, 1+a)")
    grip: float = option(0.2, lo=0.0, hi=0.9, doc="grip_mu scaled by U(1-g, 1+g) (dynamic model)")


@dataclass
class RandomizationConfig(ConfigBase):
    """All domain randomization options; each section has `enabled` (False by default)."""
    lighting: LightingOption = option(kind=LightingOption, default_factory=LightingOption)
    shadow: ShadowOption = option(kind=ShadowOption, default_factory=ShadowOption)
    colors: ColorOption = option(kind=ColorOption, default_factory=ColorOption)
    texture: TextureOption = option(kind=TextureOption, default_factory=TextureOption)
    camera_pose: CameraPoseOption = option(kind=CameraPoseOption, default_factory=CameraPoseOption)
    sensor_noise: SensorNoiseOption = option(kind=SensorNoiseOption, default_factory=SensorNoiseOption)
    augmentation: AugmentationOption = option(kind=AugmentationOption, default_factory=AugmentationOption)
    action_noise: ActionNoiseOption = option(kind=ActionNoiseOption, default_factory=ActionNoiseOption)
    latency: LatencyOption = option(kind=LatencyOption, default_factory=LatencyOption)
    dynamics: DynamicsVariationOption = option(kind=DynamicsVariationOption,
                                               default_factory=DynamicsVariationOption)
    motion_blur: MotionBlurOption = option(kind=MotionBlurOption, default_factory=MotionBlurOption)
    actuation: ActuationOption = option(kind=ActuationOption, default_factory=ActuationOption)

    @classmethod
    def paper_sim2real(cls) -> "RandomizationConfig":
        """The paper's sim-to-real recipe: action noise +-10 % and the five augmentations at p=0.2."""
        return cls(action_noise=ActionNoiseOption(enabled=True),
                   augmentation=AugmentationOption(enabled=True))

    @classmethod
    def everything(cls) -> "RandomizationConfig":
        """Every option on with its default strength (for galleries and stress tests)."""
        kwargs = {}
        for f in dataclasses.fields(cls):
            kwargs[f.name] = f.metadata["rule"].kind(enabled=True)
        return cls(**kwargs)

    def only(self, name: str) -> "RandomizationConfig":
        """A copy with only section `name` enabled (keeps its parameters)."""
        if name not in {f.name for f in dataclasses.fields(self)}:
            raise SimConfigError(f"randomization.{name}: unknown option")
        kwargs = {}
        for f in dataclasses.fields(self):
            section = getattr(self, f.name)
            kwargs[f.name] = dataclasses.replace(section, enabled=(f.name == name))
        return RandomizationConfig(**kwargs)

    @property
    def enabled_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name).enabled]


# ---------------------------------------------------------------------------------- per-car draw
@dataclass
class CarDraw:
    """What one car gets for one episode. Neutral values when an option is off.

    palette: (8, 3) float32 RGB 0-255, rows PALETTE_NAMES. lut: (256,) uint8 lighting curve.
    shadow: (6,) float32 [on, nx, ny, period_m, duty, keep] ground stripes where
    frac((x, y) . n / period) < duty are multiplied by keep. texture: (3,) [amplitude, u0, v0].
    camera deltas in metres / radians. *_scale multiply the configured actuator/grip parameters.
    """
    palette: np.ndarray
    lut: np.ndarray
    shadow: np.ndarray
    texture: np.ndarray
    camera_dz_m: float = 0.0
    camera_dpitch_rad: float = 0.0
    camera_dfov_rad: float = 0.0
    sensor_sigma: float = 0.0
    steering_rate_scale: float = 1.0
    throttle_tau_scale: float = 1.0
    grip_scale: float = 1.0
    latency_frames: int = 0
    fisheye: bool = False
    blur_px: float = 0.0
    speed_scale: float = 1.0
    steering_bias_rad: float = 0.0
    noise_rng: np.random.Generator | None = None        # sensor noise, per frame
    augment_rng: np.random.Generator | None = None      # augmentations, per frame
    action_rng: np.random.Generator | None = None       # action noise, per step

    @property
    def camera_jittered(self) -> bool:
        return bool(self.camera_dz_m or self.camera_dpitch_rad or self.camera_dfov_rad or self.fisheye)


IDENTITY_LUT = np.arange(256, dtype=np.uint8)


def car_rng(seed: int, car: int, episode: int, stream: str) -> np.random.Generator:
    """The independent random stream `stream` (a name in STREAMS) of car `car` in `episode`."""
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence([int(seed), int(car), int(episode), STREAMS.index(stream)])))


def lighting_lut(brightness: float, contrast: float, gamma: float) -> np.ndarray:
    """(256,) uint8: v' = 255 * brightness * (((v/255)^gamma - 0.5) * contrast + 0.5), clipped."""
    x = np.arange(256, dtype=np.float64) / 255.0
    y = brightness * ((x ** gamma - 0.5) * contrast + 0.5)
    return np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8)


def _vary_color(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Move an RGB colour in HSV: hue +-0.5*strength turns, saturation and value +-strength."""
    h, s, v = colorsys.rgb_to_hsv(*(np.asarray(rgb, dtype=np.float64) / 255.0))
    h = (h + rng.uniform(-0.5, 0.5) * strength) % 1.0
    s = float(np.clip(s + rng.uniform(-1.0, 1.0) * strength * 0.6, 0.0, 1.0))
    v = float(np.clip(v * (1.0 + rng.uniform(-1.0, 1.0) * strength * 0.6), 0.0, 1.0))
    return np.array(colorsys.hsv_to_rgb(h, s, v)) * 255.0


def draw_car(cfg: RandomizationConfig, base_palette: np.ndarray, seed: int, car: int,
             episode: int) -> CarDraw:
    """Draw car `car`'s randomization for `episode` (reproducible from seed, car, episode)."""
    palette = np.array(base_palette, dtype=np.float32, copy=True)
    lut = IDENTITY_LUT
    shadow = np.zeros(6, dtype=np.float32)
    texture = np.zeros(3, dtype=np.float32)
    draw = CarDraw(palette=palette, lut=lut, shadow=shadow, texture=texture)
    if cfg.lighting.enabled:
        r = car_rng(seed, car, episode, "lighting")
        o = cfg.lighting
        draw.lut = lighting_lut(r.uniform(1 - o.brightness, 1 + o.brightness),
                                r.uniform(1 - o.contrast, 1 + o.contrast),
                                math.exp(r.uniform(-o.gamma, o.gamma)))
        if o.invert_probability > 0.0 and r.random() < o.invert_probability:   # drawn last: the curve's draws stay
            draw.lut = (255 - draw.lut).astype(np.uint8)
    if cfg.shadow.enabled:
        r = car_rng(seed, car, episode, "shadow")
        o = cfg.shadow
        angle = r.uniform(0, 2 * math.pi)
        draw.shadow = np.array([1.0, math.cos(angle), math.sin(angle), r.uniform(o.period_min_m, o.period_max_m),
                                r.uniform(0.25, 1.0) * o.duty_max, 1.0 - r.uniform(o.darkness_min, o.darkness_max)],
                               dtype=np.float32)
    if cfg.colors.enabled:
        r = car_rng(seed, car, episode, "colors")
        for i in range(len(PALETTE_NAMES)):
            palette[i] = _vary_color(palette[i], r, cfg.colors.strength)
        if cfg.colors.random_probability > 0.0 and r.random() < cfg.colors.random_probability:
            palette[:] = r.uniform(0.0, 255.0, palette.shape)
    if cfg.texture.enabled:
        r = car_rng(seed, car, episode, "texture")
        draw.texture = np.array([r.uniform(0.3, 1.0) * cfg.texture.amplitude, r.uniform(0, 1024),
                                 r.uniform(0, 1024)], dtype=np.float32)
    if cfg.camera_pose.enabled:
        r = car_rng(seed, car, episode, "camera_pose")
        o = cfg.camera_pose
        draw.camera_dz_m = float(r.uniform(-o.height_m, o.height_m))
        draw.camera_dpitch_rad = float(r.uniform(-o.pitch_rad, o.pitch_rad))
        draw.camera_dfov_rad = float(r.uniform(-o.fov_rad, o.fov_rad))
        if o.fisheye_probability > 0.0:
            draw.fisheye = bool(car_rng(seed, car, episode, "lens").random() < o.fisheye_probability)
    if cfg.sensor_noise.enabled:
        draw.sensor_sigma = cfg.sensor_noise.sigma
        draw.noise_rng = car_rng(seed, car, episode, "sensor_noise")
    if cfg.augmentation.enabled:
        draw.augment_rng = car_rng(seed, car, episode, "augmentation")
    if cfg.action_noise.enabled:
        draw.action_rng = car_rng(seed, car, episode, "action_noise")
    if cfg.latency.enabled:
        lo = cfg.latency.min_frames
        draw.latency_frames = cfg.latency.frames if lo is None else int(
            car_rng(seed, car, episode, "latency").integers(lo, cfg.latency.frames + 1))
    if cfg.motion_blur.enabled:
        draw.blur_px = float(car_rng(seed, car, episode, "motion_blur").uniform(0.0, cfg.motion_blur.max_px))
    if cfg.actuation.enabled:
        r = car_rng(seed, car, episode, "actuation")
        o = cfg.actuation
        draw.speed_scale = float(r.uniform(1 - o.speed_scale, 1 + o.speed_scale))
        draw.steering_bias_rad = float(r.uniform(-o.steering_bias_rad, o.steering_bias_rad))
    if cfg.dynamics.enabled:
        r = car_rng(seed, car, episode, "dynamics")
        a, g = cfg.dynamics.actuator_lag, cfg.dynamics.grip
        # A slower actuator has a lower slew rate and a longer time constant: one draw drives both.
        lag = r.uniform(1 - a, 1 + a)
        draw.steering_rate_scale = 1.0 / lag
        draw.throttle_tau_scale = lag
        draw.grip_scale = float(r.uniform(1 - g, 1 + g))
    return draw


# ----------------------------------------------------------------------------------- augmentations
AUGMENTATIONS = ("random_color", "translation", "shadow", "sharpen", "salt_and_pepper")

#: Ranges of the augmentations' uniform draws, (low, high), shared by the CPU (`augmentation_params`,
#: `hue_saturation_palette`) and the torch port (`torch_augment`): hue shift in turns, saturation,
#: brightness and contrast factors, shadow light factor, sharpen strength.
HUE_SHIFT_TURNS = (-0.1, 0.1)
SATURATION_FACTOR = (0.5, 1.5)
BRIGHTNESS_FACTOR = (0.7, 1.3)
CONTRAST_FACTOR = (0.7, 1.3)
SHADOW_KEEP = (0.4, 0.8)
SHARPEN_ALPHA = (0.3, 1.0)


def augmentation_flags(cfg: AugmentationOption, rng: np.random.Generator) -> dict[str, bool]:
    """Which augmentations hit this frame (each independently with cfg.probability)."""
    u = rng.random(len(AUGMENTATIONS))
    return {name: bool(getattr(cfg, name) and u[i] < cfg.probability) for i, name in enumerate(AUGMENTATIONS)}


def hue_saturation_palette(palette: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The hue/saturation half of "random colour", applied to the car's palette for one frame.

    Gotcha: applied to the scene colours before rendering rather than to the rendered pixels, so it
    works for gray output too (a gray image has no hue left to shift). Hue shift U(-0.1, 0.1) turns,
    saturation factor U(0.5, 1.5).
    """
    dh = rng.uniform(*HUE_SHIFT_TURNS)
    ds = rng.uniform(*SATURATION_FACTOR)
    out = np.empty_like(palette)
    for i, rgb in enumerate(palette):
        h, s, v = colorsys.rgb_to_hsv(*(rgb / 255.0))
        out[i] = np.array(colorsys.hsv_to_rgb((h + dh) % 1.0, min(1.0, s * ds), v)) * 255.0
    return out


def augmentation_params(flags: dict[str, bool], cfg: AugmentationOption, rng: np.random.Generator, height: int,
                        width: int) -> dict[str, object]:
    """The random draws of `apply_augmentations` for one frame (only those of the flagged augmentations).

    Keys: brightness, contrast (random_color); shift (translation, pixels, + = right); x_top,
    x_bottom (shadow boundary, pixels), keep (shadow light factor), shadow_left (bool: the left
    side is darkened); alpha (sharpen); sp_fraction, sp_hit_u, sp_salt_u ((H, W) uniforms:
    hit where sp_hit_u < sp_fraction, salt (255) where also sp_salt_u < 0.5, else pepper (0)).
    """
    p: dict[str, object] = {}
    if flags.get("random_color"):
        p["brightness"], p["contrast"] = rng.uniform(*BRIGHTNESS_FACTOR), rng.uniform(*CONTRAST_FACTOR)
    if flags.get("translation"):
        max_px = max(1, int(round(cfg.max_translation_fraction * width)))
        p["shift"] = int(rng.integers(-max_px, max_px + 1))
    if flags.get("shadow"):
        p["x_top"], p["x_bottom"] = rng.uniform(0, width, size=2)
        p["keep"] = rng.uniform(*SHADOW_KEEP)
        p["shadow_left"] = bool(rng.random() < 0.5)
    if flags.get("sharpen"):
        p["alpha"] = rng.uniform(*SHARPEN_ALPHA)
    if flags.get("salt_and_pepper"):
        p["sp_fraction"] = rng.uniform(0.0, cfg.salt_and_pepper_fraction)
        p["sp_hit_u"] = rng.random((height, width))
        p["sp_salt_u"] = rng.random((height, width))
    return p


def apply_augmentations(image: np.ndarray, flags: dict[str, bool], cfg: AugmentationOption,
                        rng: np.random.Generator) -> np.ndarray:
    """Image-space augmentations for one frame of one car; `image` (H, W) or (H, W, 3) uint8.

    random_color here is its brightness (x U(0.7, 1.3)) and contrast (x U(0.7, 1.3)) half; the
    hue/saturation half is `hue_saturation_palette`. Returns a new uint8 array (input untouched).
    The draws are `augmentation_params`, the pixel math `augment_image` (which
    `torch_augment.augment_frames` reproduces exactly for the same draws).
    """
    return augment_image(image, flags, augmentation_params(flags, cfg, rng, image.shape[0], image.shape[1]))


def augment_image(image: np.ndarray, flags: dict[str, bool], p: dict) -> np.ndarray:
    """`apply_augmentations`' pixel math for given draws `p` (`augmentation_params`); uint8 out.

    Order: brightness / contrast (about the image mean), translation (edge columns repeated),
    shadow (pixels on one side of the line from (x_top, 0) to (x_bottom, H-1) times keep),
    sharpen (img + alpha * (4 img - 4-neighbour sum), edges repeated), salt and pepper; float32,
    rounded half to even and clipped to 0-255 once at the end.
    """
    img = image.astype(np.float32)
    h, w = img.shape[:2]
    if flags.get("random_color"):
        b, c = p["brightness"], p["contrast"]
        mean = img.mean()
        img = ((img - mean) * c + mean) * b
    if flags.get("translation"):
        cols = np.clip(np.arange(w) - p["shift"], 0, w - 1)
        img = img[:, cols]
    if flags.get("shadow"):
        x_top, x_bottom, keep = p["x_top"], p["x_bottom"], p["keep"]
        rows = np.arange(h, dtype=np.float32)[:, None] / max(h - 1, 1)
        boundary = x_top + (x_bottom - x_top) * rows
        left = np.arange(w, dtype=np.float32)[None, :] < boundary
        mask = left if p["shadow_left"] else ~left
        img = np.where(mask[..., None] if img.ndim == 3 else mask, img * keep, img)
    if flags.get("sharpen"):
        alpha = p["alpha"]
        pad = np.pad(img, ((1, 1), (1, 1)) + ((0, 0),) * (img.ndim - 2), mode="edge")
        blur4 = pad[:-2, 1:-1] + pad[2:, 1:-1] + pad[1:-1, :-2] + pad[1:-1, 2:]
        sharp = 5.0 * img - blur4
        img = (1 - alpha) * img + alpha * sharp
    if flags.get("salt_and_pepper"):
        hit = p["sp_hit_u"] < p["sp_fraction"]
        salt = p["sp_salt_u"] < 0.5
        img[hit & salt] = 255.0
        img[hit & ~salt] = 0.0
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
