"""rclpy helpers shared by the workspace's nodes (the only part of deepracer_common that imports ROS)."""
