"""URDF of the 1/18 DeepRacer car and the loader that turns it into vehicle and camera geometry."""
