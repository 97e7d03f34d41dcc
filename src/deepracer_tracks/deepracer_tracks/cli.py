"""`deepracer tracks ...`: list, show, import, export tracks, write meshes and textures.

    deepracer tracks list
    deepracer tracks show NAME_OR_PATH [--out track.png] [--reverse]
    deepracer tracks import FILE.npy            validate a DeepRacer .npy file and print its statistics
    deepracer tracks export NAME --out FILE.npy
    deepracer tracks mesh NAME_OR_PATH --out FILE.obj [--gazebo-model FOLDER]
    deepracer tracks texture NAME_OR_PATH --out FILE.png [--metres-per-pixel 0.01]
    deepracer tracks import-world SIMAPP_DIR NAME [NAME ...] [--texture-dir DIR]
                                                read an official AWS world (SDF + Collada) and report what
                                                the embedded renderer gets; then `track: aws:NAME` with
                                                DEEPRACER_SIMAPP_DIR=SIMAPP_DIR

Errors in user input (unknown name, bad file) print one line naming the problem and exit with 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .library import DEFAULT_TRACK, list_tracks, load_track, turn_radii
from .track import Track, TrackError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepracer tracks", description="Track library tools (metres throughout).")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the built-in tracks")
    s = sub.add_parser("show", help="plot a track (borders, centre line, waypoints, start line, direction) to a PNG")
    s.add_argument("track", help="built-in name or path to a .npy / .obj file")
    s.add_argument("--out", type=Path, default=None, help="PNG path (default: <name>.png)")
    s.add_argument("--reverse", action="store_true", help="show the track driven the other way")
    s = sub.add_parser("import", help="validate a DeepRacer .npy track file and print its statistics")
    s.add_argument("file", type=Path)
    s = sub.add_parser("export", help="write a track as a DeepRacer .npy file")
    s.add_argument("track")
    s.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("mesh", help="write a track's road mesh as OBJ (optionally a Gazebo model folder)")
    s.add_argument("track")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--gazebo-model", type=Path, default=None, help="also write a Gazebo model folder here")
    s = sub.add_parser("texture", help="write a track's top-down texture as a PNG (north up)")
    s.add_argument("track")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--metres-per-pixel", type=float, default=0.01)
    s = sub.add_parser("import-world", help="read official AWS worlds (deepracer-simapp bundle/) for the embedded renderer")
    s.add_argument("simapp_dir", type=Path, help="a deepracer-simapp checkout or a folder with its bundle/ layout")
    s.add_argument("names", nargs="+", help="world names (bundle/worlds/NAME.world), e.g. reinvent_base")
    s.add_argument("--texture-dir", type=Path, default=None, help="also write each baked ground texture here (PNG, north up)")
    s.add_argument("--metres-per-pixel", type=float, default=0.01)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return _COMMANDS[args.command](args)
    except (TrackError, ValueError, OSError) as exc:
        print(f"deepracer tracks {args.command}: {exc}", file=sys.stderr)
        return 2


def _list(args) -> int:
    rows = [("name", "difficulty", "length m", "width m", "min radius m", "description")]
    for i in list_tracks():
        name = i.name + (" (default)" if i.name == DEFAULT_TRACK else "")
        rows.append((name, i.difficulty, f"{i.length_m:.2f}", f"{i.width_m:.2f}", f"{i.min_radius_m:.2f}",
                     i.description))
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    for r in rows:
        print("  ".join(r[k].ljust(widths[k]) for k in range(5)) + "  " + r[5])
    print("\nAny DeepRacer .npy file works too: pass its path wherever a track name is accepted.")
    return 0


def _stats(t: Track) -> str:
    r = turn_radii(t.centre, t.closed)
    lines = [
        f"track:        {t.name}" + (f"  ({t.source})" if t.source else ""),
        f"shape:        {'loop' if t.closed else 'open'}, {t.n_waypoints} waypoints, {t.direction}",
        f"length:       {t.length_m:.3f} m (centre line)",
        f"width:        median {t.width_m:.3f} m, min {t.widths_m.min():.3f} m, max {t.widths_m.max():.3f} m",
        f"tightest turn: radius {r.min():.3f} m at waypoint {int(np.argmin(r))}",
    ]
    for w in t.warnings:
        lines.append(f"warning:      {w}")
    return "\n".join(lines)


def _import(args) -> int:
    t = Track.from_npy(args.file)
    print(_stats(t))
    print("valid: yes")
    return 0


def _export(args) -> int:
    t = load_track(args.track)
    t.to_npy(args.out)
    print(f"wrote {args.out} ({len(t.to_array())} rows)")
    return 0


def _mesh(args) -> int:
    from .mesh import write_gazebo_model, write_obj

    t = load_track(args.track)
    write_obj(t, args.out)
    print(f"wrote {args.out}")
    if args.gazebo_model is not None:
        print(f"wrote {write_gazebo_model(t, args.gazebo_model)}")
    return 0


def _texture(args) -> int:
    from PIL import Image

    from .texture import render_texture

    t = load_track(args.track)
    tex = render_texture(t, metres_per_pixel=args.metres_per_pixel)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(tex.image[::-1])).save(args.out)
    print(f"wrote {args.out} ({tex.image.shape[1]} x {tex.image.shape[0]} px, {tex.metres_per_pixel} m/px)")
    return 0


def plot_track(t: Track, ax) -> None:
    """Draw a track on a matplotlib axis: road, borders, centre line, waypoints, start line, direction."""
    def closed(a):
        return np.vstack([a, a[:1]]) if t.closed else a

    ring = np.vstack([closed(t.outer), closed(t.inner)[::-1]]) if t.closed else np.vstack([t.inner, t.outer[::-1]])
    ax.fill(*ring.T, color="0.85", zorder=0)
    if t.closed:
        ax.fill(*closed(t.inner).T, color="white", zorder=0)
    ax.plot(*closed(t.inner).T, color="k", lw=1.2, label="inner border")
    ax.plot(*closed(t.outer).T, color="0.3", lw=1.2, label="outer border")
    ax.plot(*closed(t.centre).T, color="goldenrod", lw=1.0, ls="--", label="centre line")
    ax.scatter(*t.centre.T, s=6, color="tab:blue", zorder=3, label=f"waypoints ({t.n_waypoints})")
    ax.plot([t.inner[0, 0], t.outer[0, 0]], [t.inner[0, 1], t.outer[0, 1]], color="tab:red", lw=3,
            label="start line", zorder=4)
    xy, heading = t.pose_at(np.array([0.0]))
    size = 0.6 * t.width_m
    ax.annotate("", xy=(xy[0, 0] + size * np.cos(heading[0]), xy[0, 1] + size * np.sin(heading[0])),
                xytext=(xy[0, 0], xy[0, 1]), arrowprops=dict(arrowstyle="->", color="tab:red", lw=2), zorder=5)
    step = max(1, t.n_waypoints // 12)
    for i in range(0, t.n_waypoints, step):
        ax.annotate(str(i), t.centre[i], fontsize=6, color="tab:blue")
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(f"{t.name}: {t.length_m:.2f} m, {t.width_m:.2f} m wide, {t.direction}")
    ax.legend(loc="upper right", fontsize=7)


def _show(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = load_track(args.track)
    if args.reverse:
        t = t.reversed()
    out = args.out or Path(f"{t.name}.png")
    fig, ax = plt.subplots(figsize=(8, 6))
    try:
        plot_track(t, ax)
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=120)
    finally:
        plt.close(fig)
    print(_stats(t))
    print(f"wrote {out}")
    return 0


def _import_world(args) -> int:
    from .aws_world import SIMAPP_ENV, RouteComparison, WorldError, bundle_dir, compare_with_route, load_world

    try:
        bundle = bundle_dir(args.simapp_dir)
        rows = []
        for name in args.names:
            w = load_world(args.simapp_dir, name)
            t = w.route
            print(f"world {name}: {bundle / 'worlds' / (name + '.world')}")
            print("  " + _stats(t).replace("\n", "\n  "))
            for kind in ("floor", "road", "border", "centre", "wall"):
                surf = [s for s in w.surfaces if s.kind == kind]
                if surf:
                    rgb = w.wall_rgb() if kind == "wall" else w.class_rgb(kind)
                    print(f"  {kind:7s} {sum(len(s.triangles) for s in surf):6d} triangles  lit colour {rgb}  "
                          f"({', '.join(sorted({s.name for s in surf}))})")
            box = w.wall_box()
            print("  walls:   " + (f"x {box[0][0]:.2f}..{box[0][1]:.2f} m, y {box[0][2]:.2f}..{box[0][3]:.2f} m, "
                                    f"{box[1]:.2f} m high" if box else "none (the floor runs to the horizon)"))
            print(f"  light:   ambient {tuple(round(float(c), 3) for c in w.ambient)}, {len(w.sun)} directional; "
                  f"background {w.background_rgb}")
            cmp = compare_with_route(w)
            rows.append(cmp.row())
            if args.texture_dir is not None:
                from PIL import Image

                from .texture import render_texture

                tex = render_texture(t, metres_per_pixel=args.metres_per_pixel)
                args.texture_dir.mkdir(parents=True, exist_ok=True)
                out = args.texture_dir / f"{name}.png"
                Image.fromarray(np.ascontiguousarray(tex.image[::-1])).save(out)
                print(f"  wrote {out}")
    except WorldError as exc:
        print(f"deepracer tracks import-world: {exc}", file=sys.stderr)
        return 2
    print("\nwaypoints from the road mesh (paper IV-E) vs the official route:")
    print(RouteComparison.HEADER)
    print("\n".join(rows))
    print(f"\nuse: export {SIMAPP_ENV}={args.simapp_dir}   then   track: aws:{args.names[0]}")
    return 0


_COMMANDS = {"import-world": _import_world, "list": _list, "show": _show, "import": _import, "export": _export, "mesh": _mesh,
             "texture": _texture}

if __name__ == "__main__":
    sys.exit(main())
