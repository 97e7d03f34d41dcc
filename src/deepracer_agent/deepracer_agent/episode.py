"""The episode rules live in :mod:`deepracer_sim.episode` (the simulator's rules, shared by the env,
the sim node and evaluation). This name is kept so ``deepracer_agent.episode`` imports keep working."""
from deepracer_sim.episode import *  # noqa: F401,F403
from deepracer_sim.episode import EPISODE_STATUS, EpisodeConfig, EpisodeConfigError, EpisodeRules  # noqa: F401
