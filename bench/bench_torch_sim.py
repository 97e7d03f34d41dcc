"""Throughput of the torch simulator (deepracer_sim.torch_sim): camera frames/s and physics steps/s.

    python bench/bench_torch_sim.py --device cuda --cars 4096 8192 [--compile] [--augmentation]

    python bench/bench_torch_sim.py --device cpu --threads 1 --cars 64 --rollout sim2real_gpu --families

Prints one line per case: cars, camera, mode (eager / compiled), frames/s (render only), steps/s
(cars x physics frames per second), and peak device memory. --rollout CONFIG instead times the GPU
trainer's environment (`torch_train._Rollout`: sim step, reward and episode rules, the resets with
their per-car randomization draws, render and frame stack; uniformly random actions, no policy) for
a training config (a shipped name or a YAML; --set overrides, e.g. n_envs comes from --cars): env
steps/s, resets per step and the share of the resets, and on CUDA the host syncs per step (torch's
sync debug mode). --families adds one line with the randomization off and one per family alone;
--reset-cars K times only the simulator's reset of K random cars (the host work a GPU waits for). --augmentation adds one line per case:
frames/s with the paper's image augmentations on (probability 0.2, all five, and 1.0) and physics
steps/s with action noise on, each as a ratio to the same sim without them (eager; with --compile
also with the compiled renderer; the augmentations themselves run eager). Timed with device synchronisation,
median of --repeats runs of --iters calls after warm-up. Results go to BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from deepracer_sim.config import SimConfig
from deepracer_sim.randomization import ActionNoiseOption, AugmentationOption, RandomizationConfig
from deepracer_sim.torch_sim import TorchBatchSim
from deepracer_tracks.library import load_track


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _time(fn, dev, iters, repeats):
    fn()
    fn()
    _sync(dev)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        _sync(dev)
        out.append((time.perf_counter() - t0) / iters)
    return statistics.median(out)


def _augmentation_line(track, n, cam, dev, xy, hd, steer, speed, iters, repeats, compile_render) -> None:
    """Render with augmentation (p=0.2 / 1.0) and step with action noise vs the same sim without
    them, timed interleaved (off, p0.2, p1.0 per repeat) so that a change in machine load hits all
    alike; the ratios are medians over the repeats. compile_render: all three sims compile=True."""
    sims = {}
    for p in (None, 0.2, 1.0):
        rnd = RandomizationConfig() if p is None else RandomizationConfig(
            augmentation=AugmentationOption(enabled=True, probability=p), action_noise=ActionNoiseOption(enabled=True))
        s = TorchBatchSim(track, n, SimConfig(camera_model=cam, randomization=rnd), seed=0, device=dev,
                          compile=compile_render)
        s.reset(np.arange(n), xy[:, 0], xy[:, 1], hd)
        sims["off" if p is None else p] = s
    render = {k: [] for k in sims}
    step = {k: [] for k in ("off", 1.0)}
    for _ in range(repeats):
        for k, s in sims.items():
            render[k].append(_time(s.render, dev, iters, 1))
        for k in step:
            step[k].append(_time(lambda s=sims[k]: s.step(steer, speed), dev, iters, 1))
    med = statistics.median
    fps = {k: n / med(v) for k, v in render.items()}
    ratio = {p: med(a / b for a, b in zip(render["off"], render[p])) for p in (0.2, 1.0)}
    step_ratio = med(a / b for a, b in zip(step["off"], step[1.0]))
    mode = "compiled" if compile_render else "eager"
    print(f"cars={n} camera={cam} mode={mode} augmentation: frames_per_s off={fps['off']:,.0f} "
          f"p0.2={fps[0.2]:,.0f} ({ratio[0.2]:.2f}x) p1.0={fps[1.0]:,.0f} ({ratio[1.0]:.2f}x); "
          f"action noise physics_steps_per_s={n / med(step[1.0]):,.0f} ({step_ratio:.2f}x)", flush=True)


def _rollout_cases(config: str, overrides: list[str], families: bool) -> list[tuple[str, list[str]]]:
    """(name, overrides): the config as is, and with families its randomization off / each family alone."""
    from deepracer_agent.config import load_config, shipped_config

    path = config if config.endswith((".yaml", ".yml")) else str(shipped_config(config))
    cases = [("as_is", overrides)]
    if families:
        names = load_config(path, overrides).sim_config().randomization.enabled_names
        off = [f"sim.randomization.{k}.enabled=false" for k in names]
        cases.append(("none", overrides + off))
        for k in names:
            cases.append((k, overrides + [o for o in off if not o.startswith(f"sim.randomization.{k}.")]))
    return [(name, [*over]) for name, over in cases]


def _rollout_line(config: str, case: str, overrides: list[str], n: int, dev, steps: int, warmup: int) -> None:
    """Time `torch_train._Rollout.step` (random actions) for one config; prints one line."""
    import warnings

    from deepracer_agent.config import load_config, shipped_config
    from deepracer_agent.torch_train import _Rollout

    path = config if config.endswith((".yaml", ".yml")) else str(shipped_config(config))
    cfg = load_config(path, [*overrides, f"n_envs={n}", "device=cpu-torch" if dev.type == "cpu" else "device=cuda"])
    t0 = time.perf_counter()
    env = _Rollout(cfg, dev, False)
    build = time.perf_counter() - t0
    gen = torch.Generator(device=dev)
    gen.manual_seed(0)
    n_act = env.steer.shape[0]
    resets, reset_s = [0], [0.0]
    inner = env._reset

    def timed_reset(ids):            # host work + uploads of the resets (synchronised at both ends)
        _sync(dev)
        t = time.perf_counter()
        inner(ids)
        _sync(dev)
        reset_s[0] += time.perf_counter() - t
        resets[0] += len(ids)

    def act():
        return torch.randint(0, n_act, (n,), generator=gen, device=dev)

    for _ in range(warmup):
        env.step(act())
    syncs = float("nan")
    if dev.type == "cuda":           # count the host syncs of a few steps (not timed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                for _ in range(4):
                    env.step(act())
                _sync(dev)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        syncs = sum("synchroniz" in str(w.message) for w in caught) / 4
    env._reset = timed_reset
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        env.step(act())
    _sync(dev)
    dt = time.perf_counter() - t0
    env._reset = inner
    per_car = reset_s[0] / resets[0] * 1000 if resets[0] else float("nan")
    print(f"rollout config={Path(config).stem} case={case} device={dev.type} cars={n} "
          f"env_steps_per_s={n * steps / dt:,.0f} ms_per_step={dt / steps * 1000:.1f} "
          f"resets_per_step={resets[0] / steps:.1f} reset_ms_per_step={reset_s[0] / steps * 1000:.1f} "
          f"({per_car:.2f} ms per reset car) syncs_per_step={syncs:.1f} build_s={build:.1f}", flush=True)


def _reset_line(config: str, overrides: list[str], n: int, dev, k: int, repeats: int) -> None:
    """Time `TorchBatchSim.reset` of k random cars out of n (new episode draws + uploads), no frames."""
    from deepracer_agent.config import load_config, shipped_config

    path = config if config.endswith((".yaml", ".yml")) else str(shipped_config(config))
    cfg = load_config(path, [*overrides, f"n_envs={n}"])
    track = load_track(cfg.track)
    sim = TorchBatchSim(track, n, cfg.sim_config(), seed=0, device=dev)
    rng = np.random.default_rng(0)

    def reset():
        ids = np.sort(rng.choice(n, k, replace=False))
        xy, hd = track.pose_at(rng.uniform(0, track.length_m, k))
        sim.reset(ids, xy[:, 0], xy[:, 1], hd)
    t = _time(reset, dev, repeats, 3)
    print(f"resets config={Path(config).stem} device={dev.type} cars={n} reset_cars={k} ms_per_reset={t * 1000:.1f} "
          f"ms_per_car={t / k * 1000:.2f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--cars", type=int, nargs="+", default=[4096])
    ap.add_argument("--cameras", nargs="+", default=["pinhole", "fisheye"])
    ap.add_argument("--compile", action="store_true", help="also time torch.compile'd render")
    ap.add_argument("--augmentation", action="store_true",
                    help="also time render with augmentation (p=0.2 and 1.0) and step with action noise")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU device)")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--track", default="reinvent2018_like")
    ap.add_argument("--rollout", default=None, metavar="CONFIG",
                    help="time the GPU trainer's environment for this training config instead (cars = n_envs)")
    ap.add_argument("--set", action="append", default=[], metavar="K=V", help="--rollout: config overrides")
    ap.add_argument("--families", action="store_true",
                    help="--rollout: also the randomization off and each enabled family alone")
    ap.add_argument("--steps", type=int, default=16, help="--rollout: timed steps (after --warmup)")
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--reset-cars", type=int, default=None, metavar="K",
                    help="--rollout: time only the simulator's reset of K random cars (no frames, no policy)")
    a = ap.parse_args(argv)
    dev = torch.device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.rollout:
        if dev.type == "cuda":
            print(f"# {torch.cuda.get_device_name(dev)}, torch {torch.__version__}", flush=True)
        for case, over in _rollout_cases(a.rollout, a.set, a.families):
            for n in a.cars:
                if a.reset_cars:
                    _reset_line(a.rollout, over, n, dev, a.reset_cars, a.iters)
                else:
                    _rollout_line(a.rollout, case, over, n, dev, a.steps, a.warmup)
        return
    track = load_track(a.track)
    if dev.type == "cuda":
        print(f"# {torch.cuda.get_device_name(dev)}, torch {torch.__version__}", flush=True)
    for cam in a.cameras:
        for n in a.cars:
            t0 = time.perf_counter()
            sim = TorchBatchSim(track, n, SimConfig(camera_model=cam), seed=0, device=dev)
            rng = np.random.default_rng(0)
            xy, hd = track.pose_at(rng.uniform(0, track.length_m, n))
            sim.reset(np.arange(n), xy[:, 0], xy[:, 1], hd)
            build = time.perf_counter() - t0
            steer = torch.full((n,), 0.1, dtype=torch.float64, device=dev)
            speed = torch.full((n,), 1.5, dtype=torch.float64, device=dev)
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            t_render = _time(sim.render, dev, a.iters, a.repeats)
            mem = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else float("nan")
            t_step = _time(lambda sim=sim: sim.step(steer, speed), dev, a.iters, a.repeats)
            print(f"cars={n} camera={cam} mode=eager frames_per_s={n / t_render:,.0f} "
                  f"physics_steps_per_s={n / t_step:,.0f} peak_mem_GiB={mem:.1f} build_s={build:.1f}", flush=True)
            if a.augmentation:
                for comp in (False, True) if a.compile else (False,):
                    _augmentation_line(track, n, cam, dev, xy, hd, steer, speed, a.iters, a.repeats, comp)
            if a.compile:
                r, st = sim.renderer, sim._state
                fn = torch.compile(r.render, dynamic=False)
                args = (st["x"], st["y"], st["yaw"], st["cam_index"], st["palette"], st["mix"], st["lut"],
                        st["shadow"], st["tex_noise"], sim._shade)
                t0 = time.perf_counter()
                ref = fn(*args)
                _sync(dev)
                ctime = time.perf_counter() - t0
                same = float((ref == r.render(*args)).float().mean())
                t_c = _time(lambda fn=fn, args=args: fn(*args), dev, a.iters, a.repeats)
                print(f"cars={n} camera={cam} mode=compiled frames_per_s={n / t_c:,.0f} compile_s={ctime:.0f} "
                      f"identical_to_eager={same:.5f}", flush=True)
            del sim
            if dev.type == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
