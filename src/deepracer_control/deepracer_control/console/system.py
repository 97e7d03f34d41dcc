"""Facts about the machine the console shows: CPU temperature (Linux thermal zones)."""
from __future__ import annotations

from pathlib import Path

THERMAL_ROOT = Path("/sys/class/thermal")


def cpu_temperature_c(root: Path = THERMAL_ROOT) -> float | None:
    """The hottest ``thermal_zone*/temp`` (millidegrees C in the file) in deg C; None when there is none."""
    best = None
    for zone in sorted(root.glob("thermal_zone*")):
        try:
            value = int((zone / "temp").read_text().strip()) / 1000.0
        except (OSError, ValueError):
            continue
        best = value if best is None else max(best, value)
    return best
