"""Test isolation for ROS: a private domain per pytest process, discovery on localhost, logs in a temp dir."""
import os
import tempfile

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ["ROS_DOMAIN_ID"] = str(int(os.environ.get("DEEPRACER_TEST_DOMAIN_BASE", "20")) + os.getpid() % 80)
os.environ.setdefault("ROS_LOG_DIR", os.path.join(tempfile.gettempdir(), "deepracer_ros_test_logs"))
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than 20 s (a real training run, a launched graph)")
