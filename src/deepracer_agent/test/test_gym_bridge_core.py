"""FrameSync, the bridge's producer-consumer queue, without ROS: pairing, stale / late / duplicate /
skipped counting across threads, and clear timeouts."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from deepracer_agent.bridge import BridgeTimeout, FrameSync

IMG = np.zeros((120, 160), np.uint8)


def status(frame: int, speed: float = 1.0) -> dict:
    return {"frame": frame, "cmd_speed_m_s": speed, "cmd_steering_rad": 0.0}


def test_pairs_image_and_status_by_stamp_in_any_order():
    sync = FrameSync()
    sync.add_status(20, status(2))
    sync.add_image(10, IMG + 1)
    sync.add_image(20, IMG + 2)
    sync.add_status(10, status(1))
    first = sync.wait(0, 1.0)
    second = sync.wait(first.stamp_ns, 1.0)
    assert (first.stamp_ns, first.status["frame"], int(first.image[0, 0])) == (10, 1, 1)
    assert (second.stamp_ns, second.status["frame"], int(second.image[0, 0])) == (20, 2, 2)
    assert sync.counters.consumed == 2 and sync.counters.stale == 0


def test_stale_late_duplicate_and_skipped_are_counted():
    sync = FrameSync()
    for stamp, frame in ((10, 1), (20, 2)):
        sync.add_image(stamp, IMG)
        sync.add_status(stamp, status(frame, speed=0.5))
    after = sync.latest_stamp_ns                      # "the command goes out now"
    sync.add_image(20, IMG)                           # the same stamp again
    assert sync.counters.duplicate == 1
    sync.add_image(30, IMG)
    sync.add_status(30, status(3, speed=0.5))         # made before our command arrived
    sync.add_image(50, IMG)
    sync.add_status(50, status(5, speed=1.0))         # ours, two frames after the last consumed one
    frame = sync.wait(after, 1.0, accept=lambda s: s["cmd_speed_m_s"] == 1.0)
    assert frame.stamp_ns == 50
    c = sync.counters
    assert (c.stale, c.late, c.duplicate, c.consumed) == (2, 1, 1, 1)
    sync.add_image(60, IMG)
    sync.add_status(60, status(6))
    sync.add_image(80, IMG)
    sync.add_status(80, status(8))
    sync.wait(50, 1.0)
    sync.wait(60, 1.0)
    assert sync.counters.skipped == 1                 # frame 7 never reached the consumer
    sync.restart_sequence()
    sync.add_image(200, IMG)
    sync.add_status(200, status(20))
    sync.wait(80, 1.0)
    assert sync.counters.skipped == 1                 # after a reset a gap is not a skip


def test_consumer_blocks_until_the_producer_thread_delivers():
    sync = FrameSync()

    def produce():
        time.sleep(0.1)
        sync.add_status(5, status(1))
        time.sleep(0.05)
        sync.add_image(5, IMG)

    threading.Thread(target=produce).start()
    start = time.monotonic()
    frame = sync.wait(0, 2.0)
    assert frame.stamp_ns == 5 and time.monotonic() - start >= 0.14


def test_timeout_names_the_topics():
    sync = FrameSync()
    sync.add_image(5, IMG)                            # an image whose status never comes
    with pytest.raises(BridgeTimeout, match="/camera/image_raw and /sim/lap_status"):
        sync.wait(0, 0.1)


def test_memory_is_bounded():
    sync = FrameSync(max_pending=8)
    for stamp in range(100):
        sync.add_image(stamp, IMG)
    assert len(sync._images) == 8


def test_episode_end_is_delivered_even_when_stale_or_late():
    sync = FrameSync()
    ended = {"frame": 2, "cmd_speed_m_s": 0.5, "cmd_steering_rad": 0.0, "episode_status": "off_track"}
    sync.add_image(10, IMG)
    sync.add_status(10, {**ended, "frame": 1, "episode_status": "in_progress"})
    sync.add_image(20, IMG)
    sync.add_status(20, ended)                         # the car left the track before our command
    after = sync.latest_stamp_ns
    sync.add_image(30, IMG)
    sync.add_status(30, {**ended, "frame": 3, "episode_status": "in_progress", "event": "reset"})
    frame = sync.wait(after, 1.0, accept=lambda s: s["cmd_speed_m_s"] == 1.0,
                      must_deliver=lambda s: s["episode_status"] != "in_progress")
    assert frame.stamp_ns == 20 and frame.status["episode_status"] == "off_track"
    assert sync.counters.stale == 1 and sync.counters.consumed == 1
