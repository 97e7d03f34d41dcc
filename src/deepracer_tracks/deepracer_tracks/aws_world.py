"""Official AWS DeepRacer track worlds (deepracer-simapp's Gazebo worlds) for the embedded renderer.

``load_world(simapp_dir, name)`` reads ``bundle/worlds/NAME.world`` (SDF), follows its ``<include>``
``model://`` URIs (resolved inside ``bundle/``: ``model://models/X`` -> ``bundle/models/X``, whose
``model.config`` names the SDF; mesh URIs ``model://meshes/...`` -> ``bundle/meshes/...``), composes
the include, model, link and visual ``<pose>``s and mesh ``<scale>``, and loads each visual's Collada
mesh (`collada.read_collada`: units and up axis as Gazebo treats them). The route is
``bundle/routes/NAME.npy`` (the official waypoints, the same frame as the meshes).

What the embedded renderer gets (`AwsWorld`):

- **ground**: every nearly horizontal triangle (|n_z| > 0.9) below ``GROUND_MAX_Z_M`` is baked
  top-down into the renderer's label raster (``TrackTexture``) at the renderer's resolution, one
  class per surface: field/grass/terrain -> FLOOR, road -> ROAD, white border lines -> BORDER,
  the dashed yellow centre line -> CENTRE. The class comes from the node, material and texture
  names (``classify``); where surfaces overlap (they are coplanar in AWS's meshes) the later class
  of FLOOR < ROAD < BORDER < CENTRE wins, as the painted lines lie on the road. Texel centres are
  tested exactly against each triangle, so dash lengths and line widths are the mesh's own.
- **colours**: each class's colour is the mean of its diffuse textures (area-weighted over its
  surfaces; or the diffuse colour), lit by the world's light: ``colour * (ambient + sum over
  directional lights of diffuse * max(0, n . -direction))``, clipped to 255 (Lambert, no specular,
  point lights left out). They become the track's ``TextureStyle`` (the renderer's palette rows
  0-3), so colour randomization varies them like a built-in track's.
- **walls**: the other (vertical) triangles. Their x-y bounding box and top become the renderer's
  wall rectangle and height, the wall texture's mean colour (lit with the mean inward normal) its
  wall colour; a world without vertical surfaces has no walls (the floor runs to the horizon).
- **backdrop**: ``<scene><background>`` (or, with ``<sky/>``, a sky blue) as the background
  colour.
- **grain**: the road texture's brightness variation at 2 cm (``AwsWorld.grain``) as the
  renderer's ground noise tile, on by default on these worlds (all ground surfaces get the road's
  grain).

Errors (missing world, model, mesh or texture file; malformed SDF) raise `WorldError` naming the file.
"""
from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .collada import ColladaError, read_collada
from .track import Track, TrackError

__all__ = ["AwsWorld", "Surface", "WorldError", "SIMAPP_ENV", "AWS_PREFIX", "load_world", "bundle_dir",
           "resolve_simapp_dir", "load_aws_track", "classify", "GROUND_MAX_Z_M", "RouteComparison",
           "compare_with_route", "world_names"]

#: Environment variable naming the deepracer-simapp checkout (or a folder with its ``bundle/``).
SIMAPP_ENV = "DEEPRACER_SIMAPP_DIR"
#: ``track: aws:NAME`` names an official world.
AWS_PREFIX = "aws:"
#: Horizontal triangles at most this high are ground (AWS's terrain hills reach 0.29 m).
GROUND_MAX_Z_M = 0.35
FLOOR, ROAD, BORDER, CENTRE, WALL = "floor", "road", "border", "centre", "wall"
_CLASS_ORDER = (FLOOR, ROAD, BORDER, CENTRE)
#: Gazebo's default background (gz-sim scene), and the colour used for a world with ``<sky/>``.
DEFAULT_BACKGROUND = (0.7, 0.7, 0.7)
SKY_RGB = (0.60, 0.75, 0.92)


class WorldError(ValueError):
    """An AWS world cannot be loaded; the message names the file and what is wrong."""


@dataclass
class Surface:
    """One mesh visual of the world: triangles (T, 3, 3) in world metres and its class."""

    name: str
    kind: str                      # FLOOR | ROAD | BORDER | CENTRE | WALL
    triangles: np.ndarray
    mean_rgb: np.ndarray           # (3,) 0-255 unlit diffuse (texture mean or colour)
    mesh_file: Path
    texture_file: Path | None
    uvs: np.ndarray | None = None  # (T, 3, 2) texture coordinates of the triangles


@dataclass
class AwsWorld:
    """An imported world: route, surfaces, light, and what the renderer needs from them."""

    name: str
    bundle: Path
    route: Track
    surfaces: list[Surface]
    ambient: np.ndarray                                   # (3,) 0-1
    sun: list[tuple[np.ndarray, np.ndarray]]              # [(diffuse (3,) 0-1, unit direction (3,))]
    background_rgb: tuple[int, int, int]
    files: list[Path] = field(default_factory=list)       # every file read

    # ------------------------------------------------------------------ colours and light
    def light_factor(self, normal) -> np.ndarray:
        """(3,) Lambert light on a surface with this unit normal: ambient + sum diffuse * max(0, n.-d)."""
        n = np.asarray(normal, np.float64)
        f = self.ambient.copy()
        for diffuse, d in self.sun:
            f += diffuse * max(0.0, float(-(n @ d)))
        return f

    def class_rgb(self, kind: str) -> tuple[int, int, int] | None:
        """Lit colour (0-255 ints) of a surface class, area-weighted over its surfaces; None if absent."""
        if kind == WALL:
            return self.wall_rgb()
        surf = [s for s in self.surfaces if s.kind == kind]
        if not surf:
            return None
        areas = np.array([_area(s.triangles).sum() for s in surf]) + 1e-12
        rgb = (np.array([s.mean_rgb for s in surf]) * areas[:, None]).sum(0) / areas.sum()
        lit = np.clip(rgb * self.light_factor(np.array([0.0, 0.0, 1.0])), 0, 255)
        return _rgb(lit)

    def _wall_normals(self) -> np.ndarray:
        """(T, 3) unit normals of the wall triangles, each turned towards the route's centre (the side the car sees)."""
        tri = np.concatenate([s.triangles for s in self.surfaces if s.kind == WALL])
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        n /= np.maximum(np.linalg.norm(n, axis=1), 1e-12)[:, None]
        centre = np.append(self.route.centre.mean(axis=0), 0.0)
        to_c = centre - tri.mean(axis=1)
        n *= np.where((n * to_c).sum(1) < 0, -1.0, 1.0)[:, None]
        return n

    def wall_rgb(self) -> tuple[int, int, int] | None:
        """Lit wall colour: the wall textures' mean, lit per wall triangle and averaged (a lap sees them all)."""
        surf = [s for s in self.surfaces if s.kind == WALL]
        if not surf:
            return None
        normals = self._wall_normals()
        light = np.mean([self.light_factor(n) for n in normals], axis=0)
        areas = np.array([_area(s.triangles).sum() for s in surf]) + 1e-12
        rgb = (np.array([s.mean_rgb for s in surf]) * areas[:, None]).sum(0) / areas.sum()
        return _rgb(np.clip(rgb * light, 0, 255))

    def style(self):
        """The track's TextureStyle: the world's lit class colours (line widths are the mesh's own)."""
        from .texture import TextureStyle

        base = TextureStyle()
        kw = {}
        for kind, key in ((FLOOR, "floor_rgb"), (ROAD, "road_rgb"), (BORDER, "border_rgb"), (CENTRE, "centre_rgb")):
            rgb = self.class_rgb(kind)
            kw[key] = rgb if rgb is not None else getattr(base, key)
        return TextureStyle(**kw)

    def wall_box(self) -> tuple[tuple[float, float, float, float], float] | None:
        """((xmin, xmax, ymin, ymax), height_m) of the walls, or None when the world has none."""
        walls = [s.triangles for s in self.surfaces if s.kind == WALL]
        if not walls:
            return None
        p = np.concatenate(walls).reshape(-1, 3)
        lo, hi = p.min(axis=0), p.max(axis=0)
        return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])), float(hi[2] - max(lo[2], 0.0))

    # ------------------------------------------------------------------ ground raster
    def bake_labels(self, origin_xy, metres_per_pixel: float, width: int, height: int) -> np.ndarray:
        """(height, width) uint8 labels (texture.FLOOR/ROAD/BORDER/CENTRE) of the ground surfaces, top-down.

        Pixel (row, col) covers x in [ox + col*m, ox + (col+1)*m), y likewise (texture.py's
        geometry); a pixel takes the class of the last surface class (FLOOR < ROAD < BORDER <
        CENTRE) whose triangle contains its centre. Pixels no ground surface covers are FLOOR.
        """
        from . import texture as tx

        value = {FLOOR: tx.FLOOR, ROAD: tx.ROAD, BORDER: tx.BORDER, CENTRE: tx.CENTRE}
        labels = np.zeros((height, width), np.uint8)
        ox, oy = float(origin_xy[0]), float(origin_xy[1])
        m = float(metres_per_pixel)
        for kind in _CLASS_ORDER[1:]:          # FLOOR is the background
            tris = [s.triangles for s in self.surfaces if s.kind == kind]
            if tris:
                _fill_triangles(labels, np.concatenate(tris)[:, :, :2], ox, oy, m, value[kind])
        return labels

    def grain(self, tile: int = 128, texels_per_m: float = 50.0) -> tuple[np.ndarray, float] | None:
        """The road texture's brightness grain as the renderer's ground noise tile, or None.

        Returns ((tile, tile) float32 in [-1, 1], amplitude): ``1 + amplitude * tile`` is the road
        texture's luminance over its mean, box-averaged to ``1 / texels_per_m`` cells (2 cm: the
        scale a 160x120 pixel sees on the near road), world-aligned, repeating every texture period
        (metres per texture repeat from the mesh's UVs: median edge length / UV length). None when
        the road has no texture or no UVs.
        """
        road = max((s for s in self.surfaces if s.kind == ROAD), key=lambda s: _area(s.triangles).sum())
        if road.texture_file is None or road.uvs is None or not len(road.uvs):
            return None
        edges_xyz = np.linalg.norm(np.diff(road.triangles, axis=1), axis=2).ravel()
        edges_uv = np.linalg.norm(np.diff(road.uvs, axis=1), axis=2).ravel()
        ok = edges_uv > 1e-9
        if not ok.any():
            return None
        period_m = float(np.median(edges_xyz[ok] / edges_uv[ok]))
        from PIL import Image

        cells = max(2, int(round(period_m * texels_per_m)))
        with Image.open(road.texture_file) as im:
            gray = np.asarray(im.convert("L").resize((cells, cells), Image.Resampling.BOX), np.float64)
        idx = np.arange(tile) % cells
        rel = gray[np.ix_(idx, idx)] / max(gray.mean(), 1e-9) - 1.0
        amp = float(np.abs(rel).max())
        if amp < 1e-6:
            return None
        return (rel / amp).astype(np.float32), amp

    def road_mesh(self) -> tuple[np.ndarray, np.ndarray]:
        """(vertices (V, 3), faces (F, 3)) of the ROAD surfaces (per-face vertices, as in the file)."""
        tri = np.concatenate([s.triangles for s in self.surfaces if s.kind == ROAD])
        return tri.reshape(-1, 3), np.arange(3 * len(tri)).reshape(-1, 3)


def _rgb(v) -> tuple[int, int, int]:
    return int(round(float(v[0]))), int(round(float(v[1]))), int(round(float(v[2])))


def _area(tri: np.ndarray) -> np.ndarray:
    return 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)


def _fill_triangles(labels: np.ndarray, tri: np.ndarray, ox: float, oy: float, m: float, value) -> None:
    """labels[pixel] = value where the pixel centre lies inside (or on the edge of) a triangle (T, 3, 2)."""
    h, w = labels.shape
    u = (tri[..., 0] - ox) / m - 0.5            # pixel-centre coordinates
    v = (tri[..., 1] - oy) / m - 0.5
    c0 = np.clip(np.floor(u.min(1)), 0, w).astype(np.int64)
    c1 = np.clip(np.ceil(u.max(1)) + 1, 0, w).astype(np.int64)
    r0 = np.clip(np.floor(v.min(1)), 0, h).astype(np.int64)
    r1 = np.clip(np.ceil(v.max(1)) + 1, 0, h).astype(np.int64)
    eps = 1e-9
    for t in np.flatnonzero((c1 > c0) & (r1 > r0)):
        xs = np.arange(c0[t], c1[t], dtype=np.float64)[None, :]
        ys = np.arange(r0[t], r1[t], dtype=np.float64)[:, None]
        (ax, bx, cx), (ay, by, cy) = u[t], v[t]
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if abs(area) < 1e-12:
            continue
        sgn = 1.0 if area > 0 else -1.0
        e0 = sgn * ((bx - ax) * (ys - ay) - (by - ay) * (xs - ax))
        e1 = sgn * ((cx - bx) * (ys - by) - (cy - by) * (xs - bx))
        e2 = sgn * ((ax - cx) * (ys - cy) - (ay - cy) * (xs - cx))
        inside = (e0 >= -eps) & (e1 >= -eps) & (e2 >= -eps)
        labels[r0[t]:r1[t], c0[t]:c1[t]][inside] = value


# ---------------------------------------------------------------------------------- classification
_KEYWORDS = (
    (CENTRE, ("center", "centre", "yellow", "dash", "cl_")),
    (BORDER, ("line", "border", "edge", "white", "solid", "ol_", "il_")),
    (ROAD, ("road", "asphalt", "tarmac")),
    (FLOOR, ("field", "grass", "terrain", "carpet", "floor", "ground", "concrete")),
    (WALL, ("wall", "barrier", "building", "fence", "brick")),
)


def classify(names: list[str], horizontal: bool) -> str | None:
    """The surface class from its node / material / texture names (first keyword group that matches).

    Vertical surfaces are walls whatever their name; a horizontal one whose names match nothing is None.
    """
    if not horizontal:
        return WALL
    text = " ".join(n.lower() for n in names if n) + " "
    text = re.sub(r"[^a-z0-9]+", "_", text)
    for kind, words in _KEYWORDS:
        if kind == WALL:
            continue
        if any(w in text for w in words):
            return kind
    return None


# ---------------------------------------------------------------------------------- SDF
def _pose(el: ET.Element | None, where: str) -> np.ndarray:
    """4x4 of an SDF <pose> 'x y z roll pitch yaw' (R = Rz(yaw) Ry(pitch) Rx(roll)); identity if absent."""
    m = np.eye(4)
    text = (el.text or "").strip() if el is not None else ""
    if el is None or not text:
        return m
    try:
        v = [float(t) for t in text.split()]
    except ValueError:
        raise WorldError(f"{where}: <pose>{text}</pose> is not 6 numbers") from None
    if len(v) == 7:
        raise WorldError(f"{where}: quaternion <pose> is not supported")
    if len(v) != 6:
        raise WorldError(f"{where}: <pose> needs 6 numbers (x y z roll pitch yaw), got {len(v)}")
    if el.get("degrees") == "true":
        v[3:] = [math.radians(a) for a in v[3:]]
    x, y, z, r, p, yw = v
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(yw), math.sin(yw)
    m[:3, :3] = np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                          [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                          [-sp, cp * sr, cp * cr]])
    m[:3, 3] = (x, y, z)
    return m


def _parse(path: Path, what: str) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except FileNotFoundError:
        raise WorldError(f"{path}: {what} not found") from None
    except ET.ParseError as exc:
        raise WorldError(f"{path}: {what} is not valid XML ({exc})") from None
    except OSError as exc:
        raise WorldError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None


def _floats(text: str | None, n: int, where: str) -> np.ndarray:
    try:
        v = np.array((text or "").split(), dtype=np.float64)
    except ValueError:
        raise WorldError(f"{where}: {text!r} is not a list of numbers") from None
    if v.size < n:
        raise WorldError(f"{where}: needs {n} numbers, got {v.size}")
    return v[:n]


class _Loader:
    def __init__(self, bundle: Path):
        self.bundle = bundle
        self.files: list[Path] = []
        self.surfaces: list[Surface] = []
        self._tex_mean: dict[Path, np.ndarray] = {}

    def uri(self, uri: str, where: str) -> Path:
        uri = (uri or "").strip()
        if uri.startswith("model://"):
            return self.bundle / uri[len("model://"):]
        if uri.startswith("file://"):
            return Path(uri[len("file://"):])
        raise WorldError(f"{where}: URI {uri!r} is not model:// or file:// (resolved inside {self.bundle})")

    def model_sdf(self, folder: Path, where: str) -> Path:
        if folder.is_file():
            return folder
        config = folder / "model.config"
        if not folder.is_dir():
            raise WorldError(f"{folder}: model folder not found ({where})")
        if config.is_file():
            root = _parse(config, "model.config")
            self.files.append(config)
            sdf = next((e.text.strip() for e in root.iter("sdf") if e.text and e.text.strip()), None)
            if sdf:
                return folder / sdf
        cands = sorted(folder.glob("*.sdf"))
        if not cands:
            raise WorldError(f"{config}: model.config not found and no .sdf in {folder} ({where})")
        return cands[0]

    def include(self, inc: ET.Element, parent: np.ndarray, where: str) -> None:
        uri = inc.findtext("uri")
        if not uri:
            raise WorldError(f"{where}: <include> without <uri>")
        sdf_path = self.model_sdf(self.uri(uri, where), f"{where}: <include> {uri}")
        root = _parse(sdf_path, "model SDF")
        self.files.append(sdf_path)
        m = parent @ _pose(inc.find("pose"), f"{where}: <include> {uri}")
        for model in root.iter("model"):
            self.model(model, m, sdf_path)
            break
        else:
            raise WorldError(f"{sdf_path}: no <model> element")

    def model(self, model: ET.Element, parent: np.ndarray, sdf_path: Path) -> None:
        where = f"{sdf_path}: model {model.get('name')!r}"
        m = parent @ _pose(model.find("pose"), where)
        for inc in model.findall("include"):
            self.include(inc, m, where)
        for sub in model.findall("model"):
            self.model(sub, m, sdf_path)
        for link in model.findall("link"):
            lm = m @ _pose(link.find("pose"), f"{where} link {link.get('name')!r}")
            for vis in link.findall("visual"):
                self.visual(vis, lm, f"{where} link {link.get('name')!r} visual {vis.get('name')!r}")

    def visual(self, vis: ET.Element, parent: np.ndarray, where: str) -> None:
        m = parent @ _pose(vis.find("pose"), where)
        mesh = vis.find("geometry/mesh")
        if mesh is None:
            return                              # primitive shapes: not used by AWS's track worlds
        uri = mesh.findtext("uri")
        if not uri:
            raise WorldError(f"{where}: <mesh> without <uri>")
        path = self.uri(uri, where)
        scale = _floats(mesh.findtext("scale"), 3, f"{where}: <scale>") if mesh.find("scale") is not None else np.ones(3)
        if not path.is_file():
            raise WorldError(f"{path}: mesh file not found ({where}, <uri>{uri}</uri>)")
        try:
            meshes = read_collada(path)
        except ColladaError as exc:
            raise WorldError(str(exc)) from None
        self.files.append(path)
        for cm in meshes:
            tri = cm.triangles.reshape(-1, 3) * scale
            self.add_surfaces(cm, (tri @ m[:3, :3].T + m[:3, 3]).reshape(-1, 3, 3), path)

    def add_surfaces(self, cm, tri: np.ndarray, path: Path) -> None:
        """Split one Collada mesh (world-frame triangles) into its ground and wall surfaces."""
        if not len(tri):
            return
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        nz = np.abs(n[:, 2]) / np.maximum(np.linalg.norm(n, axis=1), 1e-12)
        ground = (nz > 0.9) & (tri[:, :, 2].max(axis=1) <= GROUND_MAX_Z_M)
        names = [cm.name, cm.geometry, cm.material, cm.texture_path.name if cm.texture_path else ""]
        rgb = self.mean_rgb(cm, path)
        for is_ground, sel in ((True, ground), (False, ~ground)):
            if not sel.any():
                continue
            kind = classify(names, horizontal=is_ground)
            if not is_ground and classify(names, horizontal=True) == FLOOR:
                continue                    # slopes and tops of terrain hills: not walls (left out)
            if kind is None:
                raise WorldError(f"{path}: surface {cm.name!r} (material {cm.material!r}) is flat ground but its "
                                 f"names say neither road, line, centre line nor field")
            self.surfaces.append(Surface(name=cm.name, kind=kind, triangles=tri[sel], mean_rgb=rgb,
                                         mesh_file=path, texture_file=cm.texture_path,
                                         uvs=None if cm.uvs is None else cm.uvs[sel]))

    def mean_rgb(self, cm, dae: Path) -> np.ndarray:
        if cm.texture_path is None:
            rgb = cm.diffuse_rgb if cm.diffuse_rgb is not None else (0.8, 0.8, 0.8)
            return np.array(rgb, np.float64) * 255.0
        p = cm.texture_path
        if p not in self._tex_mean:
            from PIL import Image, UnidentifiedImageError

            if not p.is_file():
                raise WorldError(f"{p}: texture file not found (material {cm.material!r} of {dae})")
            try:
                with Image.open(p) as im:
                    a = np.asarray(im.convert("RGB"), np.float64)
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise WorldError(f"{p}: texture is not a readable image ({exc})") from None
            self._tex_mean[p] = a.reshape(-1, 3).mean(axis=0)
            self.files.append(p)
        return self._tex_mean[p]


# ---------------------------------------------------------------------------------- entry points
def bundle_dir(simapp_dir: str | Path) -> Path:
    """The ``bundle/`` folder of a simapp checkout (accepts the checkout, the bundle itself, or a parent
    of ``bundle/`` anywhere below one level such as ``deepracer-simapp/bundle``)."""
    p = Path(simapp_dir).expanduser()
    for cand in (p / "bundle", p):
        if (cand / "worlds").is_dir():
            return cand
    raise WorldError(f"{p}: not a deepracer-simapp checkout (no bundle/worlds/ folder there)")


def resolve_simapp_dir(simapp_dir: str | Path | None = None) -> Path:
    """The simapp checkout: the argument, else ${DEEPRACER_SIMAPP_DIR}; WorldError if neither is set."""
    if simapp_dir is None:
        simapp_dir = os.environ.get(SIMAPP_ENV)
        if not simapp_dir:
            raise WorldError(f"track 'aws:NAME' needs the deepracer-simapp checkout: set {SIMAPP_ENV}=/path/to/"
                             f"deepracer-simapp (a folder with bundle/worlds/)")
    return bundle_dir(simapp_dir)


def world_names(simapp_dir: str | Path | None = None) -> list[str]:
    """Names of the worlds that have both a .world file and a route."""
    b = resolve_simapp_dir(simapp_dir)
    return sorted(p.stem for p in (b / "worlds").glob("*.world") if (b / "routes" / f"{p.stem}.npy").is_file())


def load_world(simapp_dir: str | Path | None, name: str) -> AwsWorld:
    """Read world ``name`` of a simapp checkout (None: ${DEEPRACER_SIMAPP_DIR}); see the module docstring."""
    b = resolve_simapp_dir(simapp_dir)
    return _load_world_cached(str(b.resolve()), str(name))


def _route(route_file: Path, name: str) -> Track:
    if not route_file.is_file():
        raise WorldError(f"{route_file}: route file not found (world {name!r} needs its waypoints)")
    try:
        return Track.from_npy(route_file, name=f"{AWS_PREFIX}{name}")
    except TrackError as exc:
        raise WorldError(str(exc)) from None


@lru_cache(maxsize=16)
def _load_world_cached(bundle: str, name: str) -> AwsWorld:
    b = Path(bundle)
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise WorldError(f"world name {name!r}: letters, digits, '_', '-' and '.' only")
    world_file = b / "worlds" / f"{name}.world"
    if not world_file.is_file():
        near = sorted(p.stem for p in (b / "worlds").glob("*.world"))
        raise WorldError(f"{world_file}: world file not found (worlds here: {', '.join(near[:20]) or 'none'})")
    route_file = b / "routes" / f"{name}.npy"
    route = _route(route_file, name)
    root = _parse(world_file, "world file")
    world = root.find("world")
    if world is None:
        raise WorldError(f"{world_file}: no <world> element")
    loader = _Loader(b)
    loader.files.append(world_file)
    for inc in world.findall("include"):
        loader.include(inc, np.eye(4), f"{world_file}")
    for model in world.findall("model"):
        loader.model(model, np.eye(4), world_file)
    loader.files.append(route_file)
    kinds = {s.kind for s in loader.surfaces}
    if ROAD not in kinds:
        raise WorldError(f"{world_file}: no road surface found in its meshes "
                         f"({', '.join(str(f) for f in loader.files if f.suffix == '.dae') or 'no meshes'})")
    ambient, background, sun = _scene_light(world, world_file)
    return AwsWorld(name=name, bundle=b, route=route, surfaces=loader.surfaces, ambient=ambient, sun=sun,
                    background_rgb=background, files=loader.files)


def _scene_light(world: ET.Element, world_file: Path):
    """(ambient (3,) 0-1, background (r, g, b) 0-255, [(diffuse, unit direction)] of directional lights)."""
    scene = world.find("scene")
    ambient = np.array([0.4, 0.4, 0.4])        # SDF's default <ambient>
    background = DEFAULT_BACKGROUND
    if scene is not None:
        if scene.find("ambient") is not None:
            ambient = _floats(scene.findtext("ambient"), 3, f"{world_file}: <scene><ambient>")
        if scene.find("background") is not None:
            background = tuple(_floats(scene.findtext("background"), 3, f"{world_file}: <scene><background>"))
        elif scene.find("sky") is not None:
            background = SKY_RGB
    sun = []
    for light in world.findall("light"):
        if light.get("type") != "directional":
            continue
        where = f"{world_file}: light {light.get('name')!r}"
        d = _floats(light.findtext("direction") or "0 0 -1", 3, f"{where} <direction>")
        d = _pose(light.find("pose"), where)[:3, :3] @ d
        d = d / max(np.linalg.norm(d), 1e-12)
        diffuse = _floats(light.findtext("diffuse") or "1 1 1", 3, f"{where} <diffuse>")
        intensity = _floats(light.findtext("intensity") or "1", 1, f"{where} <intensity>")[0]
        sun.append((diffuse * intensity, d))
    bg = tuple(int(round(255 * min(max(c, 0.0), 1.0))) for c in background)
    return ambient, bg, sun


def load_aws_track(spec: str, simapp_dir: str | Path | None = None) -> Track:
    """The route of ``aws:NAME`` as a Track with ``track.world`` (its AwsWorld) attached."""
    name = spec[len(AWS_PREFIX):] if spec.startswith(AWS_PREFIX) else spec
    if not name:
        raise WorldError("track 'aws:': missing the world name (e.g. aws:reinvent_base)")
    world = load_world(simapp_dir, name)
    track = world.route
    track.world = world
    return track


# ---------------------------------------------------------------------------------- waypoints from the mesh
@dataclass
class RouteComparison:
    """The paper's waypoints extracted from a world's road mesh against its official route (metres)."""

    world: str
    extracted: Track
    max_distance_m: float          # symmetric: farthest centre point of either line from the other line
    mean_distance_m: float         # mean distance of the extracted waypoints from the official centre line
    length_difference_m: float     # extracted length - official length
    border_max_distance_m: float   # symmetric, over both borders (open roads: sides paired the nearer way)
    official_width_m: float        # median border-to-border width of the official route

    HEADER = ("| world | shape | waypoints | centre max (mm) | centre mean (mm) | length diff (mm) | "
              "border max (mm) | width mesh / route (m) |\n|---|---|---|---|---|---|---|---|")

    def row(self) -> str:
        e = self.extracted
        return (f"| {self.world} | {'loop' if e.closed else 'open'} | {e.n_waypoints} | {self.max_distance_m * 1e3:.4f} | "
                f"{self.mean_distance_m * 1e3:.4f} | {self.length_difference_m * 1e3:+.4f} | "
                f"{self.border_max_distance_m * 1e3:.1f} | {e.width_m:.3f} / {self.official_width_m:.3f} |")


def _line_distance(p: np.ndarray, line: np.ndarray, closed: bool) -> np.ndarray:
    from . import geometry as geo

    a, b = geo.segments(line, closed)
    return geo.point_segment_distance(p[:, None, :], a[None], b[None]).min(axis=1)


def compare_with_route(world: AwsWorld) -> RouteComparison:
    """Run `mesh.waypoints_from_mesh` on the world's ROAD surfaces and measure it against the route."""
    from .mesh import waypoints_from_mesh

    v, f = world.road_mesh()
    try:
        got = waypoints_from_mesh(v, f, name=f"{AWS_PREFIX}{world.name} road mesh")
    except TrackError as exc:
        raise WorldError(str(exc)) from None
    off = world.route
    d1 = _line_distance(got.centre, off.centre, off.closed)
    d2 = _line_distance(off.centre, got.centre, got.closed)

    def sym(p, q) -> float:
        return float(max(_line_distance(p, q, off.closed).max(), _line_distance(q, p, got.closed).max()))

    border = min(max(sym(got.inner, off.inner), sym(got.outer, off.outer)),
                 max(sym(got.inner, off.outer), sym(got.outer, off.inner)) if not off.closed else np.inf)
    return RouteComparison(world=world.name, extracted=got, max_distance_m=float(max(d1.max(), d2.max())),
                           mean_distance_m=float(d1.mean()), length_difference_m=got.length_m - off.length_m,
                           border_max_distance_m=border, official_width_m=off.width_m)
