"""Helpers for the console tests: headless Debian chromium through playwright, processes, artifacts."""
from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
URL_RE = re.compile(r"console ready: open (http://127\.0\.0\.1:\d+/)\?token=(\S+)")


def screenshot(page, folder: Path, name: str) -> Path:
    """A PNG of the page, reduced to a 64-colour palette (small enough to commit under docs/images)."""
    from PIL import Image

    path = folder / name
    Image.open(io.BytesIO(page.screenshot())).convert("RGB").quantize(colors=64).save(path, optimize=True)
    return path


@pytest.fixture(scope="module")
def playwright():
    driver = Playwright()
    yield driver
    driver.close()


def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: $DEEPRACER_CONSOLE_SCREENSHOTS (e.g. docs/images, for the README) or a temp dir."""
    folder = Path(os.environ.get("DEEPRACER_CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Playwright:
    """One playwright driver per test module (its sync API allows only one at a time); each graph gets
    its own headless chromium (the Debian package, never a downloaded build) with a fresh profile."""

    def __init__(self) -> None:
        sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make setup)")
        if not os.access(CHROMIUM, os.X_OK):
            pytest.skip(f"{CHROMIUM} is missing (scripts/install_system_deps.sh installs chromium)")
        self._pw = sync_api.sync_playwright().start()

    def browser(self, profile: Path):
        """A persistent context on ``profile`` (playwright passes it as --user-data-dir)."""
        context = self._pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 760})
        context.set_default_timeout(15_000)
        return context

    def close(self) -> None:
        self._pw.stop()


class Proc:
    """A subprocess whose output is collected line by line (for the console URL and the dry-run log)."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: re.Pattern, timeout_s: float) -> re.Match:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = pattern.search(line)
                if m:
                    return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern.pattern!r}; output:\n{self.output[-4000:]}")

    def stop(self, timeout_s: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        return self.proc.returncode


def node_process(module: str, **params: object) -> Proc:
    cmd = [sys.executable, "-m", module, "--ros-args"]
    for name, value in params.items():
        cmd += ["-p", f"{name}:={value}"]
    return Proc(cmd)


def tiny_model_archive(folder: Path, name: str) -> Path:
    """A small but real model artifact (hand-built ONNX + OpenVINO IR), packed as <name>.tar.gz."""
    sys.path.insert(0, str(REPO / "src" / "deepracer_inference" / "test"))
    try:
        from tiny_artifact import make_artifact
    finally:
        sys.path.pop(0)
    artifact, _, _ = make_artifact(folder / name)
    archive = folder / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(artifact.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def wait(predicate, timeout_s: float, step_s: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()


def http(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def switch_mode(page, mode: str) -> None:
    """Click a mode button and wait until the status panel reports the control node in that mode."""
    page.click(f"#mode-{mode}")
    assert wait(lambda: page.inner_text("#st-mode") == mode, 10.0), page.inner_text("#st-mode")


def aws_model_archive(folder: Path, name: str) -> Path:
    """An AWS-convention model (model.pb frozen graph + model_metadata.json, as the stock car's console
    takes it) packed as <name>.tar.gz, written by the AWS-interchange test helpers (skip if absent)."""
    pytest.importorskip("deepracer_agent.frozen_graph", reason="the AWS frozen-graph writer is not installed")
    sys.path.insert(0, str(REPO / "src" / "deepracer_agent" / "test"))
    try:
        from aws_helpers import tar_folder, write_aws_model
    finally:
        sys.path.pop(0)
    return tar_folder(write_aws_model(folder / f"{name}_src"), folder / f"{name}.tar.gz")
