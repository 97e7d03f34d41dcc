"""The car's web console (core layer, no rclpy): a Flask app over a :class:`~.backend.ConsoleBackend`.

The ROS adapter is :mod:`deepracer_control.nodes.console_node`; everything that can be computed
without ROS (authentication, the MJPEG frame hub, the model store, request validation) lives here.
"""
