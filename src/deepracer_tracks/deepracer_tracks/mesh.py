"""Track meshes (OBJ, a Gazebo model) and waypoints extracted from a mesh (the paper's section IV-E).

`track_mesh` triangulates the road surface between the inner and outer border (two triangles per
waypoint, vertices shared) and adds the painted lines as separate thin meshes; `write_obj` writes
them as OBJ groups ``road``, ``border_lines``, ``centre_line``. `write_gazebo_model` wraps the OBJ in
an SDF model folder whose visuals paint each group in the embedded renderer's colours.

`waypoints_from_mesh` is the paper's extraction:
1. border edges are the edges that belong to exactly one triangle (vertices are first merged by
   position, so meshes with per-face vertices work too);
2. the border vertices form two loops (connected components of the border-edge graph); the inner
   one encloses the smaller area;
3. a linear sum assignment (scipy) between the inner and outer vertex sets, with the Euclidean
   distance as the cost, pairs them; 4. the waypoints are the midpoints of the matched pairs,
   ordered along the inner loop (counter-clockwise, starting at the lowest-numbered inner vertex).

An open road (one border loop) is split at its four sharpest corners into two sides and two end
caps (see `waypoints_from_mesh` for the fixes real meshes need). The mesh is read in the x-y plane
(z, the height, is ignored).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepracer_common.fileio import atomic_write_text

from . import geometry as geo
from .texture import TextureStyle
from .track import Track, TrackError


@dataclass
class TrackMesh:
    """Triangle meshes of a track in metres: vertices (V, 3), faces (F, 3) int, per named group."""

    groups: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def road(self) -> tuple[np.ndarray, np.ndarray]:
        return self.groups["road"]


def _strip(left: np.ndarray, right: np.ndarray, closed: bool, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Triangle strip between two polylines of equal length: vertices interleaved left_i, right_i."""
    n = len(left)
    verts = np.zeros((2 * n, 3))
    verts[0::2, :2] = left
    verts[1::2, :2] = right
    verts[:, 2] = z
    i = np.arange(n if closed else n - 1)
    j = (i + 1) % n
    l0, r0, l1, r1 = 2 * i, 2 * i + 1, 2 * j, 2 * j + 1
    faces = np.vstack([np.column_stack([l0, r0, r1]), np.column_stack([l0, r1, l1])])
    return verts, faces.astype(np.int64)


def track_mesh(track: Track, border_width_m: float = 0.05, centre_width_m: float = 0.04,
               dash_length_m: float = 0.15, gap_length_m: float = 0.15, line_height_m: float = 0.001) -> TrackMesh:
    """Road surface (z = 0) plus border lines and centre dashes (z = line_height_m) as separate groups.

    The road strip uses the track's own waypoints: inner[i] and outer[i] are one "rung", so the
    inner and outer border vertex counts are equal (the extraction's assignment is then 1:1).
    """
    groups: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    groups["road"] = _strip(track.inner, track.outer, track.closed, 0.0)
    # border lines: bands from each border towards the other one, border_width wide
    direction = track.outer - track.inner
    unit = direction / np.hypot(*direction.T)[:, None]
    lines = []
    for border, sign in ((track.inner, 1.0), (track.outer, -1.0)):
        lines.append(_strip(border, border + sign * border_width_m * unit, track.closed, line_height_m))
    groups["border_lines"] = _merge(lines)
    # centre dashes: short strips along the centre line
    dense = max(2, int(np.ceil(track.length_m / 0.02)))
    s = np.linspace(0.0, track.length_m, dense, endpoint=not track.closed)
    period = dash_length_m + gap_length_m
    dashes = []
    start = 0.0
    while start < track.length_m - 1e-9:
        end = min(start + (dash_length_m if gap_length_m > 0 else track.length_m), track.length_m)
        ss = np.concatenate([[start], s[(s > start) & (s < end)], [end]])
        xy, heading = track.pose_at(ss)
        normal = np.column_stack([-np.sin(heading), np.cos(heading)]) * (0.5 * centre_width_m)
        dashes.append(_strip(xy + normal, xy - normal, False, line_height_m))
        start += period if gap_length_m > 0 else track.length_m
    groups["centre_line"] = _merge(dashes)
    return TrackMesh(groups)


def _merge(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    verts, faces, offset = [], [], 0
    for v, f in parts:
        verts.append(v)
        faces.append(f + offset)
        offset += len(v)
    return np.vstack(verts), np.vstack(faces)


def write_obj(mesh: TrackMesh | Track, path: str | Path) -> Path:
    """Write the mesh (or a track's default mesh) as a Wavefront OBJ with one group per part, atomically."""
    if isinstance(mesh, Track):
        mesh = track_mesh(mesh)
    path = Path(path)
    lines = ["# DeepRacer workspace track mesh (metres; z up)"]
    offset = 0
    for name, (verts, faces) in mesh.groups.items():
        lines.append(f"o {name}")
        lines.append(f"g {name}")
        lines.extend(f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts)
        lines.extend(f"f {a + 1 + offset} {b + 1 + offset} {c + 1 + offset}" for a, b, c in faces)
        offset += len(verts)
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path




def read_obj(path: str | Path) -> TrackMesh:
    """Read an OBJ file's vertices and faces per group (polygons are fan-triangulated).

    Faces before any ``g``/``o`` line go to group ``default``. Raises TrackError naming the file
    and line for anything malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise TrackError(f"mesh file {path}: no such file")
    verts: list[tuple[float, float, float]] = []
    group_faces: dict[str, list[tuple[int, int, int]]] = {}
    current = "default"
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise TrackError(f"mesh file {path}: cannot read it as text ({exc})") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        try:
            if parts[0] == "v":
                xyz = [float(v) for v in parts[1:4]]
                if len(xyz) < 2 or not np.all(np.isfinite(xyz)):
                    raise ValueError("a vertex needs finite x y [z]")
                verts.append((xyz[0], xyz[1], xyz[2] if len(xyz) > 2 else 0.0))
            elif parts[0] in ("g", "o"):
                current = parts[1] if len(parts) > 1 else "default"
            elif parts[0] == "f":
                idx = []
                for token in parts[1:]:
                    k = int(token.split("/")[0])
                    k = k - 1 if k > 0 else len(verts) + k
                    if not 0 <= k < len(verts):
                        raise ValueError(f"vertex index {token} out of range")
                    idx.append(k)
                if len(idx) < 3:
                    raise ValueError("a face needs at least 3 vertices")
                faces = group_faces.setdefault(current, [])
                faces.extend((idx[0], idx[i], idx[i + 1]) for i in range(1, len(idx) - 1))
        except ValueError as exc:
            raise TrackError(f"mesh file {path}, line {lineno}: {exc}") from None
    if not group_faces:
        raise TrackError(f"mesh file {path}: no faces")
    v = np.array(verts, dtype=np.float64).reshape(-1, 3)
    return TrackMesh({name: (v, np.array(f, dtype=np.int64)) for name, f in group_faces.items()})


def waypoints_from_mesh(vertices: np.ndarray, faces: np.ndarray, name: str = "mesh") -> Track:
    """The paper's waypoint extraction from a road mesh (see the module docstring) -> a validated Track.

    Robust to what real (AWS) meshes do: per-face duplicate vertices (merged by position, 1 um),
    a road made of several pieces (merged where they share positions), T-junctions (a piece's
    vertex lying inside another piece's edge: that edge is split there, so seams inside the road
    are not borders), slivers (border loops under 10 % of the second-longest loop's length are
    dropped) and open roads (one border loop: split at its 4 sharpest corners into two sides and
    two end caps; waypoints then run from one cap to the other).
    """
    v = np.asarray(vertices, dtype=np.float64)[:, :2]
    f = np.asarray(faces, dtype=np.int64)
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise TrackError(f"{name}: expected triangles (F, 3), got faces of shape {f.shape}")
    # merge vertices that share a position (meshes often duplicate them per face)
    key = np.round(v / 1e-6).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    by_first = np.argsort(first)                  # keep the file's vertex order (first occurrence)
    rank = np.empty_like(by_first)
    rank[by_first] = np.arange(len(by_first))
    v = v[first[by_first]]
    f = rank[inverse.reshape(-1)][f]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]   # drop degenerate triangles
    # 1. border edges: in exactly one triangle (after splitting edges at T-junction vertices)
    border = _border_edges(v, f)
    if len(border) == 0:
        raise TrackError(f"{name}: the mesh has no border edges (a closed surface, not a road)")
    # 2. connected components of the border-edge graph -> loops
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(v)
    graph = coo_matrix((np.ones(len(border)), (border[:, 0], border[:, 1])), shape=(n, n))
    n_comp, comp = connected_components(graph, directed=False)
    used = np.unique(border)
    loops = [np.intersect1d(np.flatnonzero(comp == c), used) for c in np.unique(comp[used])]
    ordered = [_walk_loop(loop, border, name) for loop in loops]
    perim = [geo.polyline_length(v[o], True) for o in ordered]
    keep = np.argsort(perim)[::-1]
    if len(keep) > 2 and perim[keep[2]] < 0.1 * perim[keep[1]]:
        keep = [k for k in keep if perim[k] >= 0.1 * perim[keep[1]]]
    elif len(keep) == 2 and perim[keep[1]] < 0.1 * perim[keep[0]]:
        keep = keep[:1]
    ordered = [ordered[k] for k in keep]
    if len(ordered) == 1:
        return _open_strip(v, ordered[0], name)
    if len(ordered) != 2:
        raise TrackError(f"{name}: the road mesh has {len(ordered)} border loop(s); a loop track has exactly 2 "
                         f"(inner and outer), an open road 1")
    areas = [abs(geo.signed_area(v[o])) for o in ordered]
    inner_idx, outer_idx = (ordered[0], ordered[1]) if areas[0] < areas[1] else (ordered[1], ordered[0])
    # the inner loop counter-clockwise, starting at its lowest vertex number
    if geo.signed_area(v[inner_idx]) < 0:
        inner_idx = inner_idx[::-1]
    inner_idx = np.roll(inner_idx, -int(np.argmin(inner_idx)))
    inner, outer = _match(v[inner_idx], v[outer_idx])
    # 4. waypoints: midpoints of the matched pairs
    centre = 0.5 * (inner + outer)
    return Track(centre, inner, outer, closed=True, name=name, source=None)


def _match(pi: np.ndarray, po: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3. linear sum assignment between two vertex sets (Euclidean cost), in the order of ``pi``."""
    from scipy.optimize import linear_sum_assignment

    cost = np.hypot(pi[:, None, 0] - po[None, :, 0], pi[:, None, 1] - po[None, :, 1])
    rows, cols = linear_sum_assignment(cost)
    order = np.argsort(rows)
    return pi[rows[order]], po[cols[order]]


def _border_edges(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """(E, 2) edges in exactly one triangle, edges first split at vertices lying inside them (T-junctions)."""
    edges = np.sort(np.vstack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    border = uniq[counts == 1]
    if len(border) == 0:
        return border
    # T-junctions: a border vertex strictly inside another border edge splits it
    cand = np.unique(border)
    split: list[np.ndarray] = []
    changed = False
    tol = 1e-6
    for a, b in border:
        pa, pb = v[a], v[b]
        d = pb - pa
        L2 = float(d @ d)
        q = v[cand] - pa
        t = (q @ d) / max(L2, 1e-300)
        off = np.abs(q[:, 0] * d[1] - q[:, 1] * d[0]) / max(np.sqrt(L2), 1e-300)
        on = (t > 1e-9) & (t < 1 - 1e-9) & (off < tol)
        if on.any():
            changed = True
            inner = cand[on][np.argsort(t[on])]
            chain = np.concatenate([[a], inner, [b]])
            split.append(np.column_stack([chain[:-1], chain[1:]]))
        else:
            split.append(np.array([[a, b]]))
    if not changed:
        return border
    pieces = np.sort(np.vstack(split), axis=1)
    uniq, counts = np.unique(pieces, axis=0, return_counts=True)
    return uniq[counts == 1]


def _open_strip(v: np.ndarray, loop: np.ndarray, name: str) -> Track:
    """Waypoints of an open road from its single border loop: the 4 sharpest corners delimit two
    sides (the two longest arcs between corners) and two end caps; the sides are matched (linear sum
    assignment) and the midpoints run from one cap to the other along the first side; the inner
    border is the left one (of that driving direction)."""
    p = v[loop]
    m = len(p)
    if m < 4:
        raise TrackError(f"{name}: the open road's border has {m} vertices; need at least 4")
    a = p - np.roll(p, 1, axis=0)
    b = np.roll(p, -1, axis=0) - p
    turn = np.abs(np.arctan2(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0], (a * b).sum(1)))
    corners = np.sort(np.argsort(turn)[-4:])
    arcs = [(corners[i], corners[(i + 1) % 4]) for i in range(4)]

    def arc(i0: int, i1: int) -> np.ndarray:
        return np.arange(i0, i1 + 1) if i1 > i0 else np.concatenate([np.arange(i0, m), np.arange(0, i1 + 1)])

    lengths = [geo.polyline_length(p[arc(*ab)], False) for ab in arcs]
    s = int(np.argmax([lengths[0] + lengths[2], lengths[1] + lengths[3]]))
    side_a, side_b = arc(*arcs[s]), arc(*arcs[s + 2])[::-1]
    if turn[corners].min() < np.radians(30):
        raise TrackError(f"{name}: the road mesh has 1 border loop without 4 clear corners (an open road needs "
                         f"two end caps); cannot extract waypoints")
    left, right = _match(p[side_a], p[side_b])
    centre = 0.5 * (left + right)
    # inner = left of the driving direction (as offset_borders); drive from side_a's first end
    tangent = centre[-1] - centre[0]
    if (tangent[0] * (left - centre)[:, 1].mean() - tangent[1] * (left - centre)[:, 0].mean()) < 0:
        left, right = right, left
    return Track(centre, left, right, closed=False, name=name, source=None)


def _walk_loop(loop_vertices: np.ndarray, border: np.ndarray, name: str) -> np.ndarray:
    """Order the vertices of one border loop by walking its edges (each vertex must have degree 2)."""
    members = set(loop_vertices.tolist())
    neighbours: dict[int, list[int]] = {int(k): [] for k in loop_vertices}
    for a, b in border:
        if int(a) in members:
            neighbours[int(a)].append(int(b))
            neighbours[int(b)].append(int(a))
    if any(len(nb) != 2 for nb in neighbours.values()):
        bad = next(k for k, nb in neighbours.items() if len(nb) != 2)
        raise TrackError(f"{name}: border vertex {bad} has {len(neighbours[bad])} border edges; the road mesh "
                         f"must be a simple strip (each border vertex on exactly 2 border edges)")
    start = int(loop_vertices[0])
    out = [start]
    prev, cur = start, neighbours[start][0]
    while cur != start:
        out.append(cur)
        a, b = neighbours[cur]
        prev, cur = cur, (b if a == prev else a)
        if len(out) > len(loop_vertices):
            raise TrackError(f"{name}: a border loop does not close")
    if len(out) != len(loop_vertices):
        raise TrackError(f"{name}: a border component is not a single loop")
    return np.array(out, dtype=np.int64)


def track_from_obj(path: str | Path, group: str = "road") -> Track:
    """Extract a track from an OBJ road mesh: faces of ``group`` if present, otherwise all faces."""
    path = Path(path)
    mesh = read_obj(path)
    if group in mesh.groups:
        v, f = mesh.groups[group]
    else:
        v = next(iter(mesh.groups.values()))[0]
        f = np.vstack([faces for _, faces in mesh.groups.values()])
    try:
        track = waypoints_from_mesh(v, f, name=path.stem)
    except TrackError as exc:
        raise TrackError(f"mesh file {path}: {exc}") from None
    track.source = str(path)
    return track


#: OBJ group (gz-sim submesh) -> the TextureStyle colour it is painted with.
MESH_GROUP_COLOURS = {"road": "road_rgb", "border_lines": "border_rgb", "centre_line": "centre_rgb"}


def flat_material(rgb: tuple[int, int, int], indent: str = "") -> str:
    """SDF ``<material>`` that shows ``rgb`` (0-255) as a flat colour whatever the lights.

    The embedded renderer paints the palette colours unlit; in Gazebo the same look is an emissive
    colour with black ambient/diffuse/specular (the lit terms then add nothing).
    """
    r, g, b = (f"{c / 255.0:.6f}" for c in rgb)
    return (f"{indent}<material>\n"
            f"{indent}  <ambient>0 0 0 1</ambient>\n"
            f"{indent}  <diffuse>0 0 0 1</diffuse>\n"
            f"{indent}  <specular>0 0 0 1</specular>\n"
            f"{indent}  <emissive>{r} {g} {b} 1</emissive>\n"
            f"{indent}</material>")


def _model_sdf(name: str, colours: dict[str, tuple[int, int, int]]) -> str:
    visuals = []
    for group in MESH_GROUP_COLOURS:
        # the lines lie line_height_m (1 mm) above the road in the mesh itself: no z-fighting
        visuals.append(f"""      <visual name="{group}">
        <cast_shadows>false</cast_shadows>
        <geometry>
          <mesh>
            <uri>meshes/{name}.obj</uri>
            <submesh><name>{group}</name><center>false</center></submesh>
          </mesh>
        </geometry>
{flat_material(colours[group], "        ")}
      </visual>""")
    body = "\n".join(visuals)
    return f"""<?xml version="1.0"?>
<!-- DeepRacer track {name}, generated by deepracer_tracks.mesh.write_gazebo_model: the road and its
     painted lines as flat colours (the embedded renderer's TextureStyle). Visual only: the car drives
     on the world's ground plane (the track is flat), so no thin-mesh collisions. -->
<sdf version="1.9">
  <model name="{name}">
    <static>true</static>
    <link name="track">
{body}
    </link>
  </model>
</sdf>
"""


_CONFIG_TEMPLATE = """<?xml version="1.0"?>
<model>
  <name>{name}</name>
  <version>1.0</version>
  <sdf version="1.9">model.sdf</sdf>
  <description>DeepRacer track {name} ({length:.2f} m, {width:.2f} m wide), generated by deepracer_tracks.</description>
</model>
"""


def write_gazebo_model(track: Track, folder: str | Path, style: TextureStyle | None = None,
                       colours: dict[str, tuple[int, int, int]] | None = None) -> Path:
    """Write a Gazebo model folder: model.config, model.sdf and meshes/<name>.obj. Returns model.sdf's path.

    The mesh's groups (road, border_lines, centre_line; line widths and dashes from ``style``) are
    separate visuals (gz-sim submeshes), each painted in ``style``'s colour (default TextureStyle(),
    what the embedded renderer uses; ``colours`` overrides a group's RGB, e.g. a sim config's scene
    colours). ``ign sdf -k`` / ``gz sdf -k`` checks the files
    (src/deepracer_tracks/test/test_mesh.py).
    """
    style = style or TextureStyle()
    paint = {group: getattr(style, attr) for group, attr in MESH_GROUP_COLOURS.items()}
    for group, rgb in (colours or {}).items():
        if group not in paint:
            raise ValueError(f"colours: unknown mesh group {group!r} (groups: {', '.join(paint)})")
        paint[group] = tuple(int(c) for c in rgb)
    folder = Path(folder)
    name = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in track.name) or "track"
    mesh = track_mesh(track, border_width_m=style.border_width_m, centre_width_m=style.centre_width_m,
                      dash_length_m=style.dash_length_m, gap_length_m=style.gap_length_m)
    write_obj(mesh, folder / "meshes" / f"{name}.obj")
    atomic_write_text(folder / "model.config", _CONFIG_TEMPLATE.format(name=name, length=track.length_m,
                                                                   width=track.width_m))
    sdf = folder / "model.sdf"
    atomic_write_text(sdf, _model_sdf(name, paint))
    return sdf
