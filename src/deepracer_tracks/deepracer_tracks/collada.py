"""A small COLLADA 1.4/1.5 reader (xml.etree + numpy): triangles in metres, Z up, with their materials.

What it reads, as Gazebo's loader (gz-common ColladaLoader) treats it:

- ``<asset><unit meter=...>``: every position is multiplied by it (metres);
- ``<asset><up_axis>``: Z_UP as is; Y_UP is turned Z up by +90 deg about x ((x, y, z) -> (x, -z, y));
  X_UP is refused (Gazebo's worlds do not use it);
- the ``<visual_scene>`` node tree: ``<matrix>``, ``<translate>``, ``<rotate>``, ``<scale>`` in
  document order, composed down the tree; ``<instance_geometry>`` (and ``<instance_node>``) with
  ``<bind_material>`` symbols;
- ``<triangles>`` and ``<polylist>`` / ``<polygons>`` (fan-triangulated) with their ``VERTEX`` input
  (``<vertices>`` -> ``POSITION`` source) at its offset;
- the material's effect: ``diffuse`` as a ``<color>`` or a ``<texture>`` (sampler -> surface ->
  ``<image><init_from>`` file, resolved next to the .dae).

Texture coordinates (``TEXCOORD`` set 0 of ``<triangles>``) come along as ``uvs``. Everything else
(cameras, lamps, animations, skins, normals) is ignored. Errors raise
`ColladaError` naming the file and the element.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import numpy as np

__all__ = ["ColladaError", "ColladaMesh", "read_collada"]


class ColladaError(ValueError):
    """A .dae file is missing or unusable; the message names the file and what is wrong."""


@dataclass
class ColladaMesh:
    """One geometry instance: triangles (T, 3, 3) in metres, Z up, in the file's scene frame."""

    name: str                         # node id / name (falls back to the geometry id)
    geometry: str                     # geometry id
    material: str                     # material id ('' if none)
    triangles: np.ndarray             # (T, 3, 3) float64
    diffuse_rgb: tuple[float, float, float] | None   # 0-1 colour when the diffuse is a colour
    texture_path: Path | None         # the diffuse texture image, when it is a texture
    uvs: np.ndarray | None = None     # (T, 3, 2) texture coordinates (TEXCOORD set 0), if the file has them


def _tag(el: ET.Element) -> str:
    return el.tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _tag(c) == name]


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if _tag(c) == name:
            return c
    return None


def _floats(text: str | None, where: str) -> np.ndarray:
    try:
        return np.array((text or "").split(), dtype=np.float64)
    except ValueError:
        raise ColladaError(f"{where}: not a list of numbers") from None


def _ints(text: str | None, where: str) -> np.ndarray:
    try:
        return np.array((text or "").split(), dtype=np.int64)
    except ValueError:
        raise ColladaError(f"{where}: not a list of integers") from None


def _rotation(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    axis = axis / max(np.linalg.norm(axis), 1e-300)
    x, y, z = axis
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    C = 1 - c
    return np.array([[c + x * x * C, x * y * C - z * s, x * z * C + y * s],
                     [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
                     [z * x * C - y * s, z * y * C + x * s, c + z * z * C]])


def _node_matrix(node: ET.Element, where: str) -> np.ndarray:
    m = np.eye(4)
    for c in node:
        t = _tag(c)
        if t == "matrix":
            v = _floats(c.text, f"{where}: <matrix>")
            if v.size != 16:
                raise ColladaError(f"{where}: <matrix> needs 16 numbers, got {v.size}")
            m = m @ v.reshape(4, 4)
        elif t == "translate":
            v = _floats(c.text, f"{where}: <translate>")
            k = np.eye(4)
            k[:3, 3] = v[:3]
            m = m @ k
        elif t == "rotate":
            v = _floats(c.text, f"{where}: <rotate>")
            k = np.eye(4)
            k[:3, :3] = _rotation(v[:3], math.radians(v[3]))
            m = m @ k
        elif t == "scale":
            v = _floats(c.text, f"{where}: <scale>")
            m = m @ np.diag([v[0], v[1], v[2], 1.0])
    return m


def _fan(polys: list[np.ndarray]) -> np.ndarray:
    """(T, 3) fan triangulation of polygons given as vertex index arrays."""
    tris = [np.column_stack([np.full(len(p) - 2, p[0]), p[1:-1], p[2:]]) for p in polys if len(p) >= 3]
    return np.concatenate(tris) if tris else np.zeros((0, 3), np.int64)


def _asset(root: ET.Element, path: Path) -> tuple[float, str]:
    """(<unit meter>, <up_axis>) of a COLLADA root (defaults 1.0, Z_UP)."""
    meter, up_axis = 1.0, "Z_UP"
    asset = _child(root, "asset")
    if asset is None:
        return meter, up_axis
    unit = _child(asset, "unit")
    if unit is not None and unit.get("meter"):
        try:
            meter = float(unit.get("meter", ""))
        except ValueError:
            raise ColladaError(f"{path}: <unit meter={unit.get('meter')!r}> is not a number") from None
    up = _child(asset, "up_axis")
    if up is not None and up.text:
        up_axis = up.text.strip()
    return meter, up_axis


class _Reader:
    def __init__(self, path: Path):
        self.path = path
        try:
            self.root = ET.parse(path).getroot()
        except FileNotFoundError:
            raise ColladaError(f"{path}: mesh file not found") from None
        except ET.ParseError as exc:
            raise ColladaError(f"{path}: not valid XML ({exc})") from None
        except OSError as exc:
            raise ColladaError(f"{path}: cannot read ({exc.strerror or exc})") from None
        if _tag(self.root) != "COLLADA":
            raise ColladaError(f"{path}: not a COLLADA file (root element <{_tag(self.root)}>)")
        self.ids = {el.get("id"): el for el in self.root.iter() if el.get("id")}
        self.meter, self.up = _asset(self.root, path)
        if self.up not in ("Z_UP", "Y_UP"):
            raise ColladaError(f"{path}: <up_axis>{self.up}</up_axis> is not supported (Z_UP or Y_UP)")
        root_m = np.diag([self.meter] * 3 + [1.0])
        if self.up == "Y_UP":
            root_m = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1.0]]) @ root_m
        self.root_matrix = root_m
        self._geo_cache: dict[str, list[tuple[str, np.ndarray, np.ndarray | None]]] = {}

    def ref(self, url: str | None, where: str) -> ET.Element:
        key = (url or "").lstrip("#")
        el = self.ids.get(key)
        if el is None:
            raise ColladaError(f"{self.path}: {where} refers to #{key}, which the file does not define")
        return el

    def geometry(self, geo_id: str) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
        """[(material symbol, (T, 3, 3) local positions, (T, 3, 2) UVs or None)] of a geometry."""
        if geo_id in self._geo_cache:
            return self._geo_cache[geo_id]
        where = f"{self.path}: geometry {geo_id!r}"
        mesh = _child(self.ids[geo_id], "mesh")
        out: list[tuple[str, np.ndarray, np.ndarray | None]] = []
        if mesh is not None:
            verts = _child(mesh, "vertices")
            positions = None
            if verts is not None:
                for inp in _children(verts, "input"):
                    if inp.get("semantic") == "POSITION":
                        positions = self.source(inp.get("source"), where)
            vert_id = verts.get("id") if verts is not None else None
            for prim in mesh:
                if _tag(prim) in ("triangles", "polylist", "polygons"):
                    out.append(self._primitive(prim, positions, vert_id, where))
        self._geo_cache[geo_id] = out
        return out

    def _inputs(self, prim: ET.Element, positions, vert_id, where: str):
        """(positions, their offset, UV source or None, its offset, stride) of a primitive's inputs."""
        kind = _tag(prim)
        inputs = _children(prim, "input")
        stride = 1 + max((int(i.get("offset", 0)) for i in inputs), default=0)
        pos, off, uv_src, uv_off = None, 0, None, 0
        for inp in inputs:
            sem = inp.get("semantic")
            if sem == "VERTEX":
                if (inp.get("source") or "").lstrip("#") != vert_id:
                    raise ColladaError(f"{where}: <{kind}> VERTEX input {inp.get('source')!r} is not the mesh's <vertices>")
                pos, off = positions, int(inp.get("offset", 0))
            elif sem == "POSITION":
                pos, off = self.source(inp.get("source"), where), int(inp.get("offset", 0))
            elif sem == "TEXCOORD" and inp.get("set", "0") == "0" and uv_src is None:
                uv_src, uv_off = self.source(inp.get("source"), where, width=2), int(inp.get("offset", 0))
        if pos is None:
            raise ColladaError(f"{where}: <{kind}> has no VERTEX/POSITION input")
        return pos, off, uv_src, uv_off, stride

    def _primitive(self, prim: ET.Element, positions, vert_id, where: str) -> tuple[str, np.ndarray, np.ndarray | None]:
        """One <triangles>/<polylist>/<polygons>: (material symbol, (T, 3, 3) positions, UVs or None)."""
        kind = _tag(prim)
        pos, off, uv_src, uv_off, stride = self._inputs(prim, positions, vert_id, where)
        ps = _children(prim, "p")
        uv_tri = None
        if kind == "polygons":
            tri = _fan([_ints(p.text, f"{where}: <p>").reshape(-1, stride)[:, off] for p in ps])
        else:
            idx = np.concatenate([_ints(p.text, f"{where}: <p>") for p in ps]) if ps else np.zeros(0, np.int64)
            if idx.size % stride:
                raise ColladaError(f"{where}: <{kind}> <p> length {idx.size} is not a multiple of its {stride} inputs")
            corner = idx.reshape(-1, stride)[:, off]
            if kind == "triangles":
                if corner.size % 3:
                    raise ColladaError(f"{where}: <triangles> index count {corner.size} is not a multiple of 3")
                tri = corner.reshape(-1, 3)
                if uv_src is not None:
                    uv_idx = idx.reshape(-1, stride)[:, uv_off].reshape(-1, 3)
                    if uv_idx.size and 0 <= uv_idx.min() and uv_idx.max() < len(uv_src):
                        uv_tri = uv_src[uv_idx]
            else:
                vc = _child(prim, "vcount")
                counts = _ints(vc.text if vc is not None else "", f"{where}: <vcount>")
                if counts.sum() != len(corner):
                    raise ColladaError(f"{where}: <polylist> <vcount> sums to {counts.sum()}, <p> has {len(corner)} corners")
                tri = _fan(np.split(corner, np.cumsum(counts)[:-1]))
        if tri.size and (tri.min() < 0 or tri.max() >= len(pos)):
            raise ColladaError(f"{where}: <{kind}> vertex index {int(tri.max())} out of range ({len(pos)} positions)")
        return prim.get("material", ""), pos[tri], uv_tri

    def source(self, url: str | None, where: str, width: int = 3) -> np.ndarray:
        src = self.ref(url, f"{where}: input")
        fa = _child(src, "float_array")
        if fa is None:
            raise ColladaError(f"{where}: source {src.get('id')!r} has no <float_array>")
        v = _floats(fa.text, f"{where}: source {src.get('id')!r}")
        stride = 3
        tc = _child(src, "technique_common")
        acc = _child(tc, "accessor") if tc is not None else None
        if acc is not None and acc.get("stride"):
            stride = int(acc.get("stride", "3"))
        if width == 2 and (acc is None or not acc.get("stride")):
            stride = 2
        if stride < width or v.size % stride:
            raise ColladaError(f"{where}: source {src.get('id')!r} has {v.size} numbers, not a multiple of stride {stride}")
        return v.reshape(-1, stride)[:, :width]

    def material(self, mat_id: str) -> tuple[tuple[float, float, float] | None, Path | None]:
        """(diffuse colour 0-1 or None, diffuse texture path or None) of a material."""
        mat = self.ids.get(mat_id)
        if mat is None:
            raise ColladaError(f"{self.path}: material {mat_id!r} is bound but not defined")
        ie = _child(mat, "instance_effect")
        if ie is None:
            return None, None
        effect = self.ref(ie.get("url"), f"material {mat_id!r}")
        for el in effect.iter():
            if _tag(el) != "diffuse":
                continue
            col = _child(el, "color")
            if col is not None:
                v = _floats(col.text, f"{self.path}: material {mat_id!r} diffuse")
                return (float(v[0]), float(v[1]), float(v[2])), None
            tex = _child(el, "texture")
            if tex is not None:
                return None, self._texture_file(effect, tex.get("texture", ""), mat_id)
        return None, None

    def _texture_file(self, effect: ET.Element, sampler_sid: str, mat_id: str) -> Path:
        params = {p.get("sid"): p for p in effect.iter() if _tag(p) == "newparam"}
        image_id = sampler_sid
        p = params.get(sampler_sid)
        if p is not None:                       # sampler2D -> source -> surface -> init_from
            s2d = next((c for c in p if _tag(c) == "sampler2D"), None)
            src = _child(s2d, "source") if s2d is not None else None
            if src is not None and src.text:
                surf = params.get(src.text.strip())
                init = next((e for e in surf.iter() if _tag(e) == "init_from"), None) if surf is not None else None
                if init is not None and init.text:
                    image_id = init.text.strip()
            elif s2d is not None:               # COLLADA 1.5: <instance_image url=...>
                ii = next((e for e in s2d.iter() if _tag(e) == "instance_image"), None)
                if ii is not None:
                    image_id = (ii.get("url") or "").lstrip("#")
        image = self.ids.get(image_id)
        if image is None:
            raise ColladaError(f"{self.path}: material {mat_id!r}: texture image {image_id!r} is not defined")
        init = next((e for e in image.iter() if _tag(e) == "init_from"), None)
        ref = None
        if init is not None:
            ref_el = _child(init, "ref")
            ref = (ref_el.text if ref_el is not None else init.text) or ""
        if not ref or not ref.strip():
            raise ColladaError(f"{self.path}: image {image_id!r} has no file name")
        ref = unquote(ref.strip())
        if ref.startswith("file://"):
            ref = ref[len("file://"):]
        return (self.path.parent / ref).resolve() if not Path(ref).is_absolute() else Path(ref)

    def meshes(self) -> list[ColladaMesh]:
        scene = _child(self.root, "scene")
        ivs = _child(scene, "instance_visual_scene") if scene is not None else None
        vs: ET.Element | None
        if ivs is not None:
            vs = self.ref(ivs.get("url"), "<scene>")
        else:
            lib = _child(self.root, "library_visual_scenes")
            vs = _child(lib, "visual_scene") if lib is not None else None
        if vs is None:
            raise ColladaError(f"{self.path}: no <visual_scene>")
        out: list[ColladaMesh] = []
        for node in _children(vs, "node"):
            self._walk(node, self.root_matrix, out, depth=0)
        return out

    def _walk(self, node: ET.Element, parent: np.ndarray, out: list[ColladaMesh], depth: int) -> None:
        if depth > 64:
            raise ColladaError(f"{self.path}: node tree deeper than 64 (a cycle of <instance_node>?)")
        name = node.get("name") or node.get("id") or ""
        m = parent @ _node_matrix(node, f"{self.path}: node {name!r}")
        for c in node:
            t = _tag(c)
            if t == "node":
                self._walk(c, m, out, depth + 1)
            elif t == "instance_node":
                self._walk(self.ref(c.get("url"), f"node {name!r} <instance_node>"), m, out, depth + 1)
            elif t == "instance_geometry":
                geo = self.ref(c.get("url"), f"node {name!r} <instance_geometry>")
                binds: dict[str, str] = {}
                for im in c.iter():
                    if _tag(im) == "instance_material":
                        binds[im.get("symbol", "")] = (im.get("target") or "").lstrip("#")
                geo_id = geo.get("id", "")
                for symbol, tris, uvs in self.geometry(geo_id):
                    mat_id = binds.get(symbol, symbol if symbol in self.ids else "")
                    rgb, tex = self.material(mat_id) if mat_id else (None, None)
                    flat = tris.reshape(-1, 3)
                    world = flat @ m[:3, :3].T + m[:3, 3]
                    out.append(ColladaMesh(name=name or geo_id, geometry=geo_id, material=mat_id,
                                           triangles=world.reshape(-1, 3, 3), diffuse_rgb=rgb, texture_path=tex,
                                           uvs=uvs))


def read_collada(path: str | Path) -> list[ColladaMesh]:
    """Every geometry instance of a .dae file's visual scene, positions in metres, Z up (see module doc)."""
    return _Reader(Path(path)).meshes()
