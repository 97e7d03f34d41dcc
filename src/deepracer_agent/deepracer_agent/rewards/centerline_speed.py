def reward_function(params):
    '''
    Follow the center line, and go faster when the car is close to it.
    '''

    track_width = params['track_width']
    distance_from_center = params['distance_from_center']
    speed = params['speed']

    # Set the speed threshold based on your action space
    SPEED_THRESHOLD = 0.8

    # Continuous centre-line term: 1 on the line, 0 at the edge of the track
    half_width = 0.5 * track_width
    centre_reward = max(0.0, 1.0 - distance_from_center / half_width)

    # Bonus for speed, only worth having near the centre line
    if speed >= SPEED_THRESHOLD:
        reward = centre_reward * 1.5
    else:
        reward = centre_reward

    if params['is_offtrack']:
        reward = 1e-3

    return float(max(reward, 1e-3))
