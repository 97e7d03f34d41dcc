"""Gazebo (gz-sim Harmonic) worlds for DeepRacer tracks: the same track, colours and walls as the embedded sim.

`write_gazebo_world(track, folder)` (``deepracer gazebo world TRACK FOLDER``) writes::

    folder/<track>.world.sdf                 physics/sensors systems, sun, floor, walls, the track model
    folder/models/<track>/model.config       (written by deepracer_tracks.mesh.write_gazebo_model)
    folder/models/<track>/model.sdf          road, border lines, centre dashes as flat-colour visuals
    folder/models/<track>/meshes/<track>.obj road surface + painted lines, metres, z up
    folder/models/deepracer/model.config     the car: model.urdf, a copy of deepracer_description's URDF
    folder/models/deepracer/model.urdf       (only with ``with_car=True``, which also includes it at the start)

Run it with Gazebo Harmonic (the ROS 2 Jazzy pairing)::

    GZ_SIM_RESOURCE_PATH=folder/models gz sim -r folder/<track>.world.sdf

or the whole graph with ``ros2 launch launch/gazebo.launch.xml`` (car spawned from robot_description).

What matches the embedded renderer (deepracer_sim.render, default config, no randomization):
- colours: the sim's base palette (``batch_sim.default_palette`` with ``SimConfig.scene`` applied):
  floor, road, border and centre lines, walls (``wall_a``) and the sky (``background_a``); all painted
  as emissive flat colours, because the embedded renderer is unlit (its lighting is a per-episode
  lookup table);
- walls: the rectangle ``track bounding box + SimConfig.barrier_margin_m``, ``barrier_height_m`` tall;
- line widths and dash pattern: the same TextureStyle lengths (the mesh is built from them).
Not reproduced: the wall panel stripes (``wall_b``), the skyline (``background_b``) and the randomized
shadows, noise and colours. A directional sun without shadows shades the car body only.

The committed ``worlds/<track>.world.sdf`` and ``models/<track>/`` for every built-in track are this
module's output (a test checks they are up to date: ``deepracer gazebo update``).
sdformat checks them in the tests (``ign sdf -k``, Debian: libsdformat-dev + ignition-tools).
The track sits 1 mm above the floor (same height = z-fighting). No rclpy: plain Python.
"""
from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from deepracer_common.fileio import atomic_write_text

from deepracer_tracks.library import builtin_names, load_track
from deepracer_tracks.mesh import flat_material, write_gazebo_model
from deepracer_tracks.track import Track, TrackError

COMMAND_HELP = "Gazebo (gz-sim Harmonic): write a track world, spawn pose, check the files"  # `deepracer --help`

__all__ = ["TRACK_Z_M", "CAR_MODEL", "SpawnPose", "model_name", "spawn_pose", "world_sdf", "write_gazebo_world",
           "main"]

TRACK_Z_M = 0.001
"""Height of the track model above the floor (m): avoids z-fighting between the two."""
SPAWN_Z_M = 0.02
"""Height (m) the car is dropped from at the start line (its wheels touch the floor ~4 mm above base_link)."""
WALL_THICKNESS_M = 0.05
CAR_MODEL = "deepracer"
"""The car's Gazebo model name: its gz topics are /model/deepracer/... (URDF and bridge YAML)."""

PACKAGE_DIR = Path(__file__).resolve().parents[1]   # src/deepracer_sim (worlds/, models/)
REPO_GAZEBO_LAUNCH_DIR = PACKAGE_DIR.parents[1] / "launch" / "gazebo"
"""launch/gazebo/ of a source checkout (src/deepracer_sim -> ../../launch/gazebo/)."""
REPO_BRIDGE_YAML = REPO_GAZEBO_LAUNCH_DIR / "bridge.yaml"
"""The committed ros_gz_bridge YAML."""
ROBOT_DESCRIPTION_YAML = REPO_GAZEBO_LAUNCH_DIR / "robot_description.yaml"
"""robot_state_publisher's parameter file holding the URDF (generated: ``deepracer gazebo update``)."""


@dataclass(frozen=True)
class SpawnPose:
    """Where the car starts: waypoint 0 of the centre line, facing along the track (m, m, m, rad)."""

    x: float
    y: float
    z: float
    yaw: float

    def create_args(self) -> str:
        """The pose as ``ros_gz_sim create`` arguments."""
        return f"-x {self.x:.4f} -y {self.y:.4f} -z {self.z:.4f} -Y {self.yaw:.4f}"


def model_name(track: Track) -> str:
    """The Gazebo model (folder) name for a track: the name with anything but [A-Za-z0-9_-] as '_'."""
    return re.sub(r"[^A-Za-z0-9_\-]", "_", track.name) or "track"


def spawn_pose(track: Track) -> SpawnPose:
    """The start pose of the car on ``track`` (the embedded sim's episode 0 start, counter-clockwise)."""
    xy, heading = track.pose_at(np.array([0.0]))
    return SpawnPose(float(xy[0, 0]), float(xy[0, 1]), SPAWN_Z_M, float(heading[0]))


def _rgb(row) -> tuple[int, int, int]:
    """An RGB palette row (floats 0-255) as an int triple."""
    return int(row[0]), int(row[1]), int(row[2])


def _rgba(rgb) -> str:
    return " ".join(f"{c / 255.0:.6f}" for c in rgb) + " 1"


def _box_model(name: str, x: float, y: float, sx: float, sy: float, height: float, rgb) -> str:
    size = f"{sx:.4f} {sy:.4f} {height:.4f}"
    return f"""    <model name="{name}">
      <static>true</static>
      <pose>{x:.4f} {y:.4f} {height / 2:.4f} 0 0 0</pose>
      <link name="link">
        <collision name="collision">
          <geometry><box><size>{size}</size></box></geometry>
        </collision>
        <visual name="visual">
          <cast_shadows>false</cast_shadows>
          <geometry><box><size>{size}</size></box></geometry>
{flat_material(_rgb(rgb), "          ")}
        </visual>
      </link>
    </model>
"""


def world_sdf(model: str, world_name: str | None = None, bounds: tuple[float, float, float, float] | None = None,
              wall_height_m: float = 0.5, car_pose: SpawnPose | None = None, palette=None) -> str:
    """SDF 1.9 text of a gz-sim world: systems, sun, floor, walls around ``bounds``, ``model://<model>``.

    ``bounds``: (xmin, xmax, ymin, ymax) of the walls in metres (None: no walls, a 50 m floor).
    ``car_pose``: also include ``model://deepracer`` there. ``palette``: (8, 3) RGB rows
    randomization.PALETTE_NAMES (default: deepracer_sim.batch_sim.default_palette(), the embedded
    renderer's): floor, walls (wall_a) and sky (background_a) come from it.
    """
    for what, value in (("model", model), ("world name", world_name or model)):
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", value):
            raise ValueError(f"Gazebo {what} {value!r} must use only letters, digits, '_' and '-'")
    world_name = world_name or model
    if palette is None:
        from .batch_sim import default_palette

        palette = default_palette()
    floor_rgb, wall_rgb, sky_rgb = (_rgb(palette[i]) for i in (0, 4, 6))
    if bounds is None:
        cx, cy, sx, sy = 0.0, 0.0, 50.0, 50.0
    else:
        xmin, xmax, ymin, ymax = (float(v) for v in bounds)
        if not (xmax > xmin and ymax > ymin and all(map(math.isfinite, (xmin, xmax, ymin, ymax)))):
            raise ValueError(f"world bounds {bounds!r} must be finite with xmin < xmax and ymin < ymax")
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
        sx, sy = xmax - xmin + 2 * WALL_THICKNESS_M, ymax - ymin + 2 * WALL_THICKNESS_M
    walls = ""
    if bounds is not None and wall_height_m > 0:
        t = WALL_THICKNESS_M
        walls = "".join([
            _box_model("wall_south", cx, ymin - t / 2, sx, t, wall_height_m, wall_rgb),
            _box_model("wall_north", cx, ymax + t / 2, sx, t, wall_height_m, wall_rgb),
            _box_model("wall_west", xmin - t / 2, cy, t, ymax - ymin, wall_height_m, wall_rgb),
            _box_model("wall_east", xmax + t / 2, cy, t, ymax - ymin, wall_height_m, wall_rgb),
        ])
    car = ""
    if car_pose is not None:
        car = f"""    <include>
      <uri>model://{CAR_MODEL}</uri>
      <name>{CAR_MODEL}</name>
      <pose>{car_pose.x:.4f} {car_pose.y:.4f} {car_pose.z:.4f} 0 0 {car_pose.yaw:.4f}</pose>
    </include>
"""
    size = f"{sx:.4f} {sy:.4f}"
    return f"""<?xml version="1.0"?>
<!-- DeepRacer track world ({escape(model)}) for gz-sim Harmonic, generated by deepracer_sim.gazebo.
     Colours and walls are the embedded renderer's (flat, unlit). Run:
     GZ_SIM_RESOURCE_PATH=<folder>/models gz sim -r <this file>   (or launch/gazebo.launch.xml) -->
<sdf version="1.9">
  <world name="{escape(world_name)}">
    <physics name="1ms" type="ignored">
      <max_step_size>0.001</max_step_size>
      <real_time_factor>1.0</real_time_factor>
    </physics>
    <plugin filename="gz-sim-physics-system" name="gz::sim::systems::Physics"/>
    <plugin filename="gz-sim-user-commands-system" name="gz::sim::systems::UserCommands"/>
    <plugin filename="gz-sim-scene-broadcaster-system" name="gz::sim::systems::SceneBroadcaster"/>
    <plugin filename="gz-sim-sensors-system" name="gz::sim::systems::Sensors">
      <render_engine>ogre2</render_engine>
    </plugin>
    <gravity>0 0 -9.8</gravity>
    <scene>
      <ambient>1 1 1 1</ambient>
      <background>{_rgba(sky_rgb)}</background>
      <shadows>false</shadows>
    </scene>
    <light type="directional" name="sun">
      <cast_shadows>false</cast_shadows>
      <pose>0 0 10 0 0 0</pose>
      <diffuse>0.8 0.8 0.8 1</diffuse>
      <specular>0.1 0.1 0.1 1</specular>
      <direction>-0.5 0.1 -0.9</direction>
    </light>
    <model name="ground_plane">
      <static>true</static>
      <pose>{cx:.4f} {cy:.4f} 0 0 0 0</pose>
      <link name="link">
        <collision name="collision">
          <geometry>
            <plane><normal>0 0 1</normal><size>{size}</size></plane>
          </geometry>
        </collision>
        <visual name="visual">
          <cast_shadows>false</cast_shadows>
          <geometry>
            <plane><normal>0 0 1</normal><size>{size}</size></plane>
          </geometry>
{flat_material(floor_rgb, "          ")}
        </visual>
      </link>
    </model>
{walls}    <include>
      <uri>model://{model}</uri>
      <name>track</name>
      <pose>0 0 {TRACK_Z_M:g} 0 0 0</pose>
    </include>
{car}  </world>
</sdf>
"""




_CAR_CONFIG = f"""<?xml version="1.0"?>
<model>
  <name>{CAR_MODEL}</name>
  <version>1.0</version>
  <sdf version="1.9">model.urdf</sdf>
  <description>The 1/18 AWS DeepRacer car (copy of deepracer_description/urdf/deepracer.urdf, with gz-sim systems).</description>
</model>
"""


def write_car_model(models_dir: str | Path) -> Path:
    """Write ``models_dir/deepracer/`` (model.config + model.urdf, the workspace URDF); returns the URDF copy."""
    from deepracer_description.vehicle import default_urdf_path

    folder = Path(models_dir) / CAR_MODEL
    urdf = folder / "model.urdf"
    atomic_write_text(urdf, default_urdf_path().read_text())
    atomic_write_text(folder / "model.config", _CAR_CONFIG)
    return urdf


def write_gazebo_world(track: str | Path | Track, folder: str | Path, world_name: str | None = None,
                       worlds_dir: str | Path | None = None, with_car: bool = False, config=None) -> Path:
    """Write the track's Gazebo model under ``folder/models/`` and a world around it; returns the world path.

    ``track``: a built-in name, a .npy/.obj path or a Track (deepracer_tracks.load_track rules).
    ``world_name``: the gz world name and file stem (default: the track's model name).
    ``worlds_dir``: where the world file goes (default ``folder``). ``with_car``: also write
    ``models/deepracer`` and include the car at the start line. ``config``: a SimConfig for the walls
    (default SimConfig()). Raises TrackError for an unknown track, ValueError for a bad name.
    """
    from .config import SimConfig

    config = config or SimConfig()
    track = track if isinstance(track, Track) else load_track(track)
    folder = Path(folder)
    name = model_name(track)
    world_name = world_name or name
    pts = np.vstack([track.centre, track.inner, track.outer])
    lo, hi = pts.min(axis=0) - config.barrier_margin_m, pts.max(axis=0) + config.barrier_margin_m
    from .batch_sim import default_palette

    palette = config.scene.apply(default_palette())
    text = world_sdf(name, world_name, (lo[0], hi[0], lo[1], hi[1]), config.barrier_height_m,
                     spawn_pose(track) if with_car else None, palette)
    colours = {group: _rgb(palette[row]) for group, row in
               (("road", 1), ("border_lines", 2), ("centre_line", 3))}
    write_gazebo_model(track, folder / "models" / name, colours=colours)
    if with_car:
        write_car_model(folder / "models")
    world = Path(worlds_dir if worlds_dir is not None else folder) / f"{world_name}.world.sdf"
    atomic_write_text(world, text)
    return world


def update_package(package_dir: Path = PACKAGE_DIR, robot_description: Path | None = ROBOT_DESCRIPTION_YAML) -> list[Path]:
    """Regenerate the committed ``worlds/`` and ``models/`` (every built-in track, no car) and, in a
    source checkout, ``launch/gazebo/robot_description.yaml``; returns the worlds."""
    from deepracer_description.vehicle import default_urdf_path

    for sub in ("worlds", "models"):
        if (package_dir / sub).is_dir():
            shutil.rmtree(package_dir / sub)
    worlds = [write_gazebo_world(name, package_dir, worlds_dir=package_dir / "worlds") for name in builtin_names()]
    if robot_description is not None and robot_description.parent.is_dir():
        atomic_write_text(robot_description, robot_description_yaml(default_urdf_path().read_text()))
    return worlds




def robot_description_yaml(urdf_text: str) -> str:
    """A ROS parameter file (``/**``) with ``robot_description`` = ``urdf_text`` exactly (a YAML block literal).

    Why a file: ``ros2 launch`` parses a ``<param value="...">`` as YAML, and a URDF with ``: `` in a
    comment is not valid YAML (ros2/launch#729; launch XML has no string type); a parameter file
    goes to the node unparsed by launch.
    """
    if "\t" in urdf_text or "\r" in urdf_text:
        raise ValueError("the URDF must not contain tabs or carriage returns (YAML block literal)")
    body = "".join(f"      {line}\n" if line else "\n" for line in urdf_text.rstrip("\n").split("\n"))
    return ("# robot_state_publisher parameters for launch/gazebo.launch.xml: the workspace URDF, verbatim.\n"
            "# GENERATED from src/deepracer_description/urdf/deepracer.urdf by `deepracer gazebo update`: do not edit.\n"
            "/**:\n  ros__parameters:\n    robot_description: |\n" + body)


def data_dir() -> Path:
    """Where the committed worlds/ and models/ are: the source tree (also a --symlink-install), else
    the installed share/deepracer_sim (a plain colcon install)."""
    if (PACKAGE_DIR / "worlds").is_dir():
        return PACKAGE_DIR
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("deepracer_sim"))
    except Exception:  # noqa: BLE001 - not installed / no ament index
        return PACKAGE_DIR


def default_check_files() -> list[Path]:
    """What ``deepracer gazebo check`` checks by default: the bridge YAML (source checkout), every
    committed world and track model, and the car's URDF."""
    from deepracer_description.vehicle import default_urdf_path

    data = data_dir()
    paths = [p for p in [REPO_BRIDGE_YAML] if p.is_file()]     # (robot_description.yaml: a test checks it)
    paths += sorted((data / "worlds").glob("*.world.sdf")) + sorted((data / "models").glob("*/model.sdf"))
    return paths + [default_urdf_path()]


def check_files(paths: list[Path] | None = None) -> list[str]:
    """Check Gazebo files: ``.yaml`` against ros_gz_bridge's schema, SDF worlds/models and URDFs with sdformat.

    Default: the committed bridge YAML (in a source checkout), worlds, models and the URDF. A world's
    ``model://`` includes resolve in ``models/`` beside it or one folder up. Returns one line per
    problem (empty = all good); raises RuntimeError when sdformat's checker is not installed.
    """
    from deepracer_tracks.sdformat import check_sdf

    from .gz_bridge import BridgeConfigError, load_bridge_config

    if paths is None:
        paths = default_check_files()
    def one(path: Path) -> str | None:
        if path.suffix in (".yaml", ".yml"):
            try:
                load_bridge_config(path)
            except BridgeConfigError as exc:
                return str(exc)
            return None
        if not path.is_file():
            return f"{path}: no such file"
        models = [d for d in (path.parent / "models", path.parent.parent / "models") if d.is_dir()]
        result = check_sdf(path, models)
        return None if result.ok else f"{path}: " + " | ".join(result.output.splitlines())

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:      # each check is a short sdformat process
        results = list(pool.map(one, [Path(p) for p in paths]))
    return [r for r in results if r is not None]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepracer gazebo",
                                     description="Gazebo (gz-sim Harmonic) files for DeepRacer tracks and the car.")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("world", help="write a world (+ track model) for a track")
    w.add_argument("track", help="built-in name or .npy/.obj file")
    w.add_argument("folder", help="output folder (gets <world>.world.sdf and models/)")
    w.add_argument("--world-name", default=None, help="gz world name and file stem (default: the track's)")
    w.add_argument("--with-car", action="store_true",
                   help="also write models/deepracer (the URDF) and include the car at the start line")
    p = sub.add_parser("pose", help="print a track's spawn pose as gazebo.launch.xml arguments")
    p.add_argument("track", help="built-in name or .npy/.obj file")
    c = sub.add_parser("check", help="check the bridge YAML, worlds, models and URDF (sdformat: ign/gz sdf -k)")
    c.add_argument("files", nargs="*", type=Path,
                   help="files to check (.yaml: bridge schema; .sdf/.urdf: sdformat); default: the committed ones")
    sub.add_parser("update", help="regenerate deepracer_sim's committed worlds/ and models/ (developers)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``deepracer gazebo world|pose|check|update``; see ``--help``. Returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "update":
            if not (PACKAGE_DIR / "setup.py").is_file():
                raise ValueError("update regenerates the source tree's files: run it from a source checkout "
                                 "(colcon build --symlink-install)")
            for world in update_package():
                print(f"wrote {world}")
            return 0
        if args.command == "check":
            problems = check_files(args.files or None)
            for line in problems:
                print(f"deepracer gazebo check: {line}", file=sys.stderr)
            if not problems:
                print("deepracer gazebo check: all files valid")
            return 1 if problems else 0
        track = load_track(args.track)
        pose = spawn_pose(track)
        if args.command == "pose":
            print(f"x:={pose.x:.4f} y:={pose.y:.4f} yaw:={pose.yaw:.4f}")
            return 0
        world = write_gazebo_world(track, args.folder, args.world_name, with_car=args.with_car)
    except (TrackError, ValueError, OSError, RuntimeError) as exc:
        print(f"deepracer gazebo: {exc}", file=sys.stderr)
        return 2
    models = Path(args.folder).resolve() / "models"
    print(f"wrote {world}")
    print(f"run:    GZ_SIM_RESOURCE_PATH={models} gz sim -r {world.resolve()}")
    if not args.with_car:
        track_arg = str(Path(args.track).resolve()) if Path(args.track).is_file() else args.track
        print(f"launch: ros2 launch launch/gazebo.launch.xml world:={world.resolve()} resource_path:={models} "
              f"track:={track_arg} gz_world:={world.name[:-len('.world.sdf')]} "
              f"x:={pose.x:.4f} y:={pose.y:.4f} yaw:={pose.yaw:.4f} model:=MODEL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
