"""PPO update time with and without regularisation.invariance (weight 1): the demo config, one torch
thread, the same 512-step rollout trained 3 times per model, two models of each, one process.

    python bench/bench_invariance_cost.py
"""
import time, torch
from deepracer_agent.config import load_config, shipped_config, check_inputs
from deepracer_agent import train as T
torch.set_num_threads(1)
out = {}
for name, over in (("plain", []), ("invariance", ["regularisation.invariance=1.0"])) * 2:
    cfg = load_config(shipped_config("demo"), over)
    track, reward = check_inputs(cfg)
    model = T.build_model(cfg, T.make_env(cfg, track, reward), None)
    model.learn(512)                              # one rollout + one update (warm-up)
    t = time.perf_counter()
    for _ in range(3):
        model.train()                             # 3 updates on the same 512-step rollout
    out.setdefault(name, []).append((time.perf_counter() - t) / 3)
print({k: [round(v, 2) for v in vs] for k, vs in out.items()},
      "ratio", round(min(out["invariance"]) / min(out["plain"]), 3))
