"""deepracer_common: the ground floor of the workspace.

Core (numpy/yaml only, no rclpy, no torch): :mod:`.options` (the validated-options schema),
:mod:`.fileio` (the atomic file write), :mod:`.launch_runner` (``deepracer launch``), :mod:`.cli`
(the ``deepracer`` dispatcher). ROS node helpers: :mod:`.nodes.params`.
"""
