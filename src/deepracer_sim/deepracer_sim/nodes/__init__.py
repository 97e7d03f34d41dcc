"""Thin rclpy adapters around the core of this package."""
