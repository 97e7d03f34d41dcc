"""Track geometry, meshes, waypoints from meshes, DeepRacer .npy import/export, textures and the built-in track library."""
