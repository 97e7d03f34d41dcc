"""Test isolation for ROS: a private domain per pytest process, discovery on localhost, logs in a temp dir."""
import os
import tempfile

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ["ROS_DOMAIN_ID"] = str(int(os.environ.get("DEEPRACER_TEST_DOMAIN_BASE", "20")) + os.getpid() % 80)
os.environ.setdefault("ROS_LOG_DIR", os.path.join(tempfile.gettempdir(), "deepracer_ros_test_logs"))
os.environ.setdefault("MPLBACKEND", "Agg")


# --- deepracer_control fixtures -------------------------------------------------------------------
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


class FakePwmChip:
    """A fake /sys/class/pwm tree with a tiny "kernel": writing N to pwmchipK/export creates pwmN/.

    The kernel thread polls `export` (every 2 ms) and creates pwmN/{period,duty_cycle,enable} = "0",
    as the real sysfs does (a moment after the write). Values written later stay in the files.
    """

    def __init__(self, root: Path, chip: int = 0, npwm: int = 2) -> None:
        self.root = root
        self.chip_dir = root / f"pwmchip{chip}"
        self.chip_dir.mkdir(parents=True)
        (self.chip_dir / "npwm").write_text(f"{npwm}\n")
        self.export = self.chip_dir / "export"
        self.export.write_text("")
        self.exported: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._kernel, daemon=True)
        self._thread.start()

    def _kernel(self) -> None:
        while not self._stop.wait(0.002):
            text = self.export.read_text().strip()
            if text:
                channel = int(text)
                pwm = self.chip_dir / f"pwm{channel}"
                if not pwm.exists():
                    tmp = self.chip_dir / f".pwm{channel}.tmp"
                    tmp.mkdir()
                    for name in ("period", "duty_cycle", "enable"):
                        (tmp / name).write_text("0\n")
                    tmp.rename(pwm)  # appear atomically, with all files
                    self.exported.append(channel)

    def read(self, channel: int, name: str) -> str:
        return (self.chip_dir / f"pwm{channel}" / name).read_text().strip()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def fake_pwm(tmp_path):
    chip = FakePwmChip(tmp_path / "sys" / "class" / "pwm")
    yield chip
    chip.stop()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than 20 s (a launched graph and a browser)")
