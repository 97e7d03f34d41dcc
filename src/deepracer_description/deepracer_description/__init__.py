"""URDF of the 1/18 DeepRacer car and the loader that turns it into vehicle and camera geometry.

Public API (plain Python + numpy, no ROS): see :mod:`deepracer_description.vehicle`.
"""
from deepracer_description.vehicle import (
    WHEEL_ORDER,
    CameraGeometry,
    URDFError,
    VehicleGeometry,
    default_urdf_path,
    load_vehicle,
)

__all__ = [
    "URDFError",
    "CameraGeometry",
    "VehicleGeometry",
    "WHEEL_ORDER",
    "default_urdf_path",
    "load_vehicle",
]
