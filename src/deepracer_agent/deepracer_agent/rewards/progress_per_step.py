def reward_function(params):
    '''
    Speed training: reward the progress made per step, with a bonus for finishing the lap.

    progress / steps is the average lap percentage per step; a faster car earns more per step.
    At 15 steps per second, a 20 s lap is 300 steps: 100 / 300 = 0.33 per step.
    '''

    progress = params['progress']
    steps = params['steps']

    if params['is_offtrack'] or not params['all_wheels_on_track']:
        return 1e-3

    reward = 1e-3
    if steps > 0 and progress > 0:
        reward = max(progress / steps, 1e-3)

    # Bonus for completing the lap, larger the fewer steps it took
    if progress >= 100:
        reward += 10000.0 / steps

    return float(reward)
