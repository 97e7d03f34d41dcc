"""Gymnasium env, reward contract, PPO training, robust evaluation, decoupled workers, the Gym-bridge node and the deepracer CLI."""
