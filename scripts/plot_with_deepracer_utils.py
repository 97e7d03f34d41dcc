"""The README's log-analysis figure: deepracer-utils reads a `deepracer train` run folder and draws
its own plots (PlottingUtils.plot_track: the reward of every logged step on the track; and the
per-episode aggregates of AnalysisUtils.simulation_agg).

    python scripts/plot_with_deepracer_utils.py RUN_DIR OUT.png
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from deepracer.logs import AnalysisUtils, DeepRacerLog, PlottingUtils  # noqa: E402
from deepracer.tracks import Track  # noqa: E402

from deepracer_tracks.library import load_track  # noqa: E402


def main(run_dir: str, out: str) -> None:
    cfg = yaml.safe_load(open(f"{run_dir}/config.resolved.yaml"))
    ours = load_track(cfg["track"])
    track = Track(ours.name, np.asarray(ours.to_array()))        # the DeepRacer .npy rows (N, 6)
    log = DeepRacerLog(run_dir)
    log.load_training_trace()
    df = log.dataframe()
    agg = AnalysisUtils.simulation_agg(df)
    shown = []

    def keep(*_a, **_k):                                         # deepracer-utils clears its figure after show()
        ax = plt.gcf().axes[0]
        shown.append((ax.images[0].get_array(), [(ln.get_xdata(), ln.get_ydata()) for ln in ax.lines]))
    plt.show = keep
    PlottingUtils.plot_track(df, track, value_field="reward")
    img, borders = shown[-1]
    plt.close("all")
    out_fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.3, 1]})
    from scipy.ndimage import maximum_filter

    # deepracer-utils paints each step as one 1 cm pixel; widen the dots so they show at this size
    ax0.imshow(maximum_filter(np.asarray(img), size=7), cmap="hot", interpolation="bilinear", origin="lower")
    for x, y in borders:
        ax0.plot(x, y, color="lightgrey", lw=0.8)
    ax0.set_title("PlottingUtils.plot_track: reward per step", fontsize=9)
    ax0.set_xticks([])
    ax0.set_yticks([])
    by_it = agg.groupby("iteration")
    ax1.plot(by_it["progress"].mean(), marker="o", label="mean progress (%)")
    ax1.plot(by_it["reward"].mean(), marker="s", label="mean episode reward")
    ax1.set_xlabel("iteration")
    ax1.set_title("AnalysisUtils.simulation_agg, per iteration", fontsize=9)
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    out_fig.suptitle(f"deepracer-utils on a deepracer train run ({cfg['track']}, {len(agg)} episodes)", fontsize=10)
    out_fig.tight_layout()
    out_fig.savefig(out, dpi=70)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
