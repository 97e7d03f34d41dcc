def reward_function(params):
    '''
    Speed benchmark reward (bench/bench_training.py speed --set reward_file=...): the squared average
    progress rate. progress / steps is the lap percentage per step so far; summed over a lap of T steps
    it is ~100 whatever T is, so on its own it does not reward speed. Its square sums to ~10000 / T:
    a faster lap earns more. Off the track: 1e-3.
    '''
    if params['is_offtrack'] or not params['all_wheels_on_track']:
        return 1e-3
    steps = params['steps']
    progress = params['progress']
    if steps <= 0 or progress <= 0:
        return 1e-3
    rate = progress / steps          # % of the lap per step (15 steps per second)
    return float(max(10.0 * rate * rate, 1e-3))
