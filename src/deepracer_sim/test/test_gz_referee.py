"""The Gazebo referee: the sim node's SimSession rules on an externally moved car (ExternalCar), the
gz set_pose command line, and the node against real rclpy topics with a stand-in `gz` tool (Gazebo
itself does not run here)."""
from __future__ import annotations

import json
import math
import os
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest

from deepracer_description.vehicle import load_vehicle
from deepracer_sim.gz_referee import ExternalCar, set_pose_command
from deepracer_sim.sim_session import SimSession
from deepracer_tracks.library import load_track


def session(track_name="oval", **kw):
    track = load_track(track_name)
    vehicle = load_vehicle()
    car = ExternalCar(track, vehicle, 1.0 / 15)
    return SimSession(track, vehicle=vehicle, car=car, **kw), car, track


def test_external_car_runs_the_sim_rules_to_a_lap():
    s, car, track = session()
    start = car.take_teleport()
    assert start == pytest.approx((track.centre[0][0], track.centre[0][1], spawn_yaw(track)), abs=1e-9)
    assert s.status.event == "reset" and s.status.steps == 0
    # Gazebo drives the car along the centre line at 1 m/s: 1/15 m per frame
    n = int(math.ceil(track.length_m * 15)) + 30
    events = []
    for k in range(1, n):
        xy, heading = track.pose_at(np.array([k / 15.0]))
        car.set_pose(float(xy[0, 0]), float(xy[0, 1]), float(heading[0]), 1.0)
        st = s.step()
        events.append(st.event)
        assert st.episode_status in ("in_progress", "lap_complete")
        assert car.take_teleport() is None                   # nothing to move while on track
    assert "lap_complete" in events and s.status.lap_count == 1
    assert s.status.all_wheels_on_track


def spawn_yaw(track):
    return float(track.pose_at(np.array([0.0]))[1][0])


def test_off_track_moves_the_car_back_and_commands_are_echoed():
    s, car, track = session()
    car.take_teleport()
    s.set_command(1.5, 0.1)
    car.set_pose(50.0, 50.0, 0.0)                            # far off the road
    st = s.step()
    assert st.event == "off_track" and st.episode_status == "off_track" and st.is_offtrack
    assert (st.cmd_speed_m_s, st.cmd_steering_rad) == (1.5, 0.1)
    assert car.take_teleport() is None                       # the off frame itself is reported first
    st = s.step()                                            # next frame: new episode at the start
    assert st.event == "reset" and st.episode == 2
    pose = car.take_teleport()
    assert pose == pytest.approx((track.centre[0][0], track.centre[0][1], spawn_yaw(track)), abs=1e-9)
    with pytest.raises(ValueError, match="finite"):
        car.set_pose(float("nan"), 0.0, 0.0)


def test_set_pose_command():
    argv = set_pose_command("oval", "deepracer", 1.0, -2.0, 0.02, math.pi / 2)
    assert argv[:4] == ["gz", "service", "-s", "/world/oval/set_pose"]
    assert argv[argv.index("--reqtype") + 1] == "gz.msgs.Pose" and argv[argv.index("--reptype") + 1] == "gz.msgs.Boolean"
    req = argv[argv.index("--req") + 1]
    assert 'name: "deepracer"' in req and "x: 1.000000 y: -2.000000 z: 0.020000" in req
    assert f"z: {math.sin(math.pi / 4):.9f} w: {math.cos(math.pi / 4):.9f}" in req


FAKE_GZ = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["FAKE_GZ_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
print("data: true")
"""

NODE_CLIENT = r"""
import json, sys, time, threading
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import Trigger
from geometry_msgs.msg import Twist

x0, y0, yaw0 = (float(v) for v in sys.argv[1:4])
rclpy.init()
n = Node("fake_gazebo")
odom = n.create_publisher(Odometry, "/odom", 10)
img = n.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
clock = n.create_publisher(Clock, "/clock", 10)
cmd = n.create_publisher(Twist, "/sim/cmd_vel", 10)
statuses = []
n.create_subscription(String, "/sim/lap_status", lambda m: statuses.append(json.loads(m.data)), 50)
reset = n.create_client(Trigger, "/sim/reset")
t_ns = [1_000_000_000]

def frame(x, y, yaw):
    t_ns[0] += 66_666_667
    stamp = Time(sec=t_ns[0] // 10**9, nanosec=t_ns[0] % 10**9)
    o = Odometry(); o.header.stamp = stamp
    o.pose.pose.position.x, o.pose.pose.position.y = x, y
    import math
    o.pose.pose.orientation.z, o.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
    odom.publish(o)
    c = Clock(); c.clock = stamp; clock.publish(c)
    time.sleep(0.02)
    rclpy.spin_once(n, timeout_sec=0.01)
    im = Image(); im.header.stamp = stamp; im.height, im.width, im.encoding, im.step = 1, 1, "mono8", 1
    im.data = [0]; img.publish(im)
    for _ in range(5):
        rclpy.spin_once(n, timeout_sec=0.02)
    return t_ns[0]

assert reset.wait_for_service(timeout_sec=30), "no /sim/reset"
deadline = time.time() + 30
while n.count_subscribers("/camera/image_raw") == 0 and time.time() < deadline:
    rclpy.spin_once(n, timeout_sec=0.1)
t = Twist(); t.linear.x = 1.0; cmd.publish(t)
for k in range(3):
    frame(x0 + 0.05 * k, y0, yaw0)
frame(40.0, 40.0, 0.0)                                   # off the road
future = reset.call_async(Trigger.Request())
# the referee moves the car (fake gz), then waits for the next frame: give it frames until it answers
start = time.time()
while not future.done() and time.time() - start < 60:
    frame(x0, y0, yaw0)
assert future.done(), "no answer from /sim/reset within 60 s"
answer = future.result()
for _ in range(20):
    rclpy.spin_once(n, timeout_sec=0.05)
print(json.dumps({"statuses": statuses, "success": answer.success, "message": answer.message}))
rclpy.shutdown()
"""


def test_node_with_real_topics_and_a_stand_in_gz(tmp_path):
    track = load_track("oval")
    gz = tmp_path / "gz"
    gz.write_text(FAKE_GZ)
    gz.chmod(gz.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "gz.log"
    env = {**os.environ, "FAKE_GZ_LOG": str(log)}
    node = subprocess.Popen([sys.executable, "-m", "deepracer_sim.nodes.gz_referee_node", "--ros-args",
                             "-p", "track:=oval", "-p", f"gz_command:={gz}", "-p", "start_timeout_s:=10.0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        x0, y0 = track.centre[0]
        out = subprocess.run([sys.executable, "-c", NODE_CLIENT, str(x0), str(y0), str(spawn_yaw(track))],
                             capture_output=True, text=True, timeout=180, env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        node.send_signal(signal.SIGINT)
        try:
            node_out = node.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            node.kill()
            node_out = node.communicate()[0]
            pytest.fail(f"gz_referee_node did not stop on SIGINT within 30 s:\n{node_out}")
    assert result["success"], result["message"] + node_out
    answer = json.loads(result["message"])
    statuses = result["statuses"]
    events = [s["event"] for s in statuses]
    off = events.index("off_track")                          # (the very first status may precede discovery)
    assert off >= 1 and all(e is None for e in events[:off]), (events, node_out)
    assert statuses[off]["is_offtrack"] and statuses[off - 1]["episode_status"] == "in_progress"
    assert statuses[off - 1]["cmd_speed_m_s"] == pytest.approx(1.0)         # the /sim/cmd_vel echo
    # the off-track frame's next frame begins a new episode (reset_on_off_track), then /sim/reset another
    moves = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(moves) >= 1 and all(m[:3] == ["service", "-s", "/world/oval/set_pose"] for m in moves)
    start = [s for s in statuses if s["stamp_ns"] == answer["stamp_ns"]]
    assert len(start) == 1 and start[0]["event"] == "reset" and start[0]["steps"] == 0
    assert start[0]["episode"] == answer["episode"] >= 2


@pytest.mark.parametrize("args, message", [
    (["-p", "track:=no_such_track"], "unknown track 'no_such_track'"),
    (["-p", "max_step:=5"], "max_step"),
])
def test_node_refuses_a_bad_parameter_in_one_line(args, message):
    out = subprocess.run([sys.executable, "-m", "deepracer_sim.nodes.gz_referee_node", "--ros-args", *args],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    errors = [line for line in (out.stdout + out.stderr).splitlines() if "ERROR" in line]
    assert len(errors) == 1 and message in errors[0], out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
