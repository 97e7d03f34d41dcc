"""The console's calibration panel in a real browser (headless Debian chromium, playwright) against
control_node[dry-run] + console_node as processes: a slider changes the duty cycle the dry-run
backend logs, Save writes calibration.json (old file kept as .bak) and the control node reloads it,
an impossible calibration is refused with the field named, and pulses outside 1-2 ms never reach
the PWM.
"""
from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("rclpy")

from console_helpers import URL_RE, http, node_process, playwright, screenshot, screenshot_dir, switch_mode, wait  # noqa: E402,F401

pytestmark = pytest.mark.slow


DRY_RUN_RE = r"dry-run PWM: throttle [-+.0-9]+ -> (\d+) ns, steering [-+.0-9]+ -> (\d+) ns"


def test_calibration_slider_changes_the_dry_run_duty_cycle_and_saves(tmp_path, playwright):
    cal_file = tmp_path / "calibration.json"
    original = {"Calibration": {"Servo": {"min": 1_200_000, "mid": 1_450_000, "max": 1_700_000, "polarity": 1},
                                "Motor": {"min": 1_311_000, "mid": 1_446_000, "max": 1_603_500, "polarity": -1}},
                "version": 1}
    cal_file.write_text(json.dumps(original))
    control = node_process("deepracer_control.nodes.control_node", backend="dry-run", mode="manual",
                           calibration_file=cal_file)
    console = node_process("deepracer_control.nodes.console_node", port=0, calibration_file=cal_file)
    browser = None
    try:
        m = console.wait_for_line(URL_RE, 30.0)
        browser = playwright.browser(tmp_path / "profile")
        page = browser.new_page()
        page.goto(f"{m.group(1)}?token={m.group(2)}")
        assert wait(lambda: page.input_value("#servo-max") == "1700000", 10.0)
        switch_mode(page, "calibration")
        page.locator("#servo-max").fill("1750000")           # the slider, as a user drags it
        pulses = lambda: [tuple(map(int, x.groups())) for x in map(re.compile(DRY_RUN_RE).search, control.lines) if x]  # noqa: E731
        assert wait(lambda: (1_446_000, 1_750_000) in pulses(), 5.0), control.output[-2000:]
        assert wait(lambda: page.inner_text("#cal-live-steering") == "1750000", 5.0)
        page.locator("#motor-min").fill("1300000")
        assert wait(lambda: (1_300_000, 1_450_000) in pulses(), 5.0), control.output[-2000:]
        screenshot(page, screenshot_dir(tmp_path), "console_calibration.png")
        page.click("#cal-save")
        assert wait(lambda: "saved" in page.inner_text("#message"), 10.0), page.inner_text("#message")
        assert "calibration reloaded" in page.inner_text("#message")
        saved = json.loads(cal_file.read_text())["Calibration"]
        assert saved["Servo"]["max"] == 1_750_000 and saved["Motor"]["min"] == 1_300_000
        assert json.loads((tmp_path / "calibration.json.bak").read_text()) == original
        # an impossible calibration (min above max) is refused with the field named; the file stays
        before = cal_file.read_text()
        page.locator("#servo-min").fill("1800000")
        page.click("#cal-save")
        assert wait(lambda: "Calibration.Servo.min" in page.inner_text("#message"), 10.0), page.inner_text("#message")
        assert cal_file.read_text() == before
        # pulses outside 1-2 ms never reach the PWM, whatever a tool sends
        token = {"Authorization": f"Bearer {m.group(2)}", "X-Console": "1", "Content-Type": "application/json"}
        status, text = http(m.group(1) + "api/calibration/pulse", "POST", token,
                            b'{"throttle_ns": 1446000, "steering_ns": 10000000}')
        assert status == 400 and "steering_ns" in text
    finally:
        if browser is not None:
            browser.close()
        console.stop()
        control.stop()
    assert all(1_000_000 <= t <= 2_000_000 and 1_000_000 <= s <= 2_000_000 for t, s in pulses())
