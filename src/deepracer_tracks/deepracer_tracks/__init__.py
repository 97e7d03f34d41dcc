"""Track geometry, meshes, waypoints from meshes, DeepRacer .npy import/export, textures and the built-in track library.

The public entry points: `load_track` (THE way to get a track), `Track`, `TrackQuery`, `TrackError`,
`list_tracks`, `DEFAULT_TRACK`; textures in `deepracer_tracks.texture`, meshes in `deepracer_tracks.mesh`.
"""
from .library import DEFAULT_TRACK, TrackInfo, list_tracks, load_track
from .track import Track, TrackError, TrackQuery

__all__ = ["DEFAULT_TRACK", "Track", "TrackError", "TrackInfo", "TrackQuery", "list_tracks", "load_track"]
