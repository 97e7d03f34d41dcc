"""Example reward functions, one AWS DeepRacer-style file each (``reward_function(params)``).

They are plain files for :func:`deepracer_agent.reward.load_reward_function`, written exactly as
one would paste them into the AWS DeepRacer console; this package marker only makes them ship
with the wheel. ``centerline.py`` is the default (AWS's three-marker centre-line example).
"""
