"""Two namespaced sim_drive graphs in ONE ROS domain (launch_testing shape: start the graphs, wait for
conditions, assert on topics, output and exit codes): each car is driven by its own stack, an
emergency stop on /car1 stops car1 only, nothing is published in the root namespace, and Ctrl-C
ends both launches cleanly (exit 0, no traceback, no "context is invalid")."""
from __future__ import annotations


import pytest

rclpy = pytest.importorskip("rclpy")

pytestmark = pytest.mark.slow   # two launched graphs: > 20 s on the 2-core CI machine

from graph_helpers import REPO, LaunchedGraph, scripted_artifact, spin_until  # noqa: E402

NAMESPACES = ("car1", "car2")


def test_two_namespaced_graphs_do_not_cross_talk(tmp_path):
    from nav_msgs.msg import Odometry
    from rclpy.node import Node
    from std_srvs.srv import SetBool

    artifact = scripted_artifact(tmp_path / "centre_line")
    graphs = {ns: LaunchedGraph(REPO / "launch" / "sim_drive.launch.xml", f"model:={artifact}", "track:=oval",
                                "rate:=15.0", f"namespace:={ns}") for ns in NAMESPACES}
    rclpy.init()
    node = Node("namespace_probe")
    odom: dict[str, list[float]] = {ns: [] for ns in NAMESPACES}
    for ns in NAMESPACES:
        node.create_subscription(Odometry, f"/{ns}/odom", lambda m, ns=ns: odom[ns].append(m.twist.twist.linear.x), 50)
    codes = {}
    try:
        alive = lambda: all(g.proc.poll() is None for g in graphs.values())  # noqa: E731
        assert spin_until(node, lambda: all(o and o[-1] > 0.5 for o in odom.values()), 90.0, alive=alive), \
            "\n".join(g.output[-2000:] for g in graphs.values())
        assert node.count_publishers("/odom") == 0 and node.count_subscribers("/sim/cmd_vel") == 0
        assert node.count_publishers("/car1/sim/cmd_vel") == 1 and node.count_publishers("/car2/sim/cmd_vel") == 1
        # TF in each car's namespace: the two odom -> base_link never meet on one /tf
        assert node.count_publishers("/tf") == 0 and node.count_publishers("/tf_static") == 0
        assert node.count_publishers("/car1/tf") == 1 and node.count_publishers("/car2/tf_static") == 1

        client = node.create_client(SetBool, "/car1/control/emergency_stop")
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(SetBool.Request(data=True))
        assert spin_until(node, future.done, 10.0) and future.result().success
        for o in odom.values():
            o.clear()
        spin_until(node, lambda: len(odom["car1"]) >= 20 and len(odom["car2"]) >= 20, 10.0)
        assert all(v == 0.0 for v in odom["car1"][-5:]), odom["car1"][-5:]     # car1 stopped...
        assert all(v > 0.5 for v in odom["car2"][-5:]), odom["car2"][-5:]      # ...car2 still drives
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        for ns, g in graphs.items():
            codes[ns] = g.stop()
    for ns, g in graphs.items():
        assert codes[ns] == 0, g.output[-3000:]
        assert "Traceback" not in g.output and "context is invalid" not in g.output, g.output[-3000:]
