"""Drive command to servo/ESC PWM: calibration, safety watchdog, PWM backends, control node and car camera node."""
