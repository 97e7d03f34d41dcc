"""Vehicle dynamics for N cars: actuators, kinematic bicycle (exact arcs) and a dynamic single-track.

State per car (arrays of shape (N,), updated in place):
  x, y, yaw   pose of base_link in the world (metres, radians)
  v           drive speed: the rear wheels' linear speed (wheel angular velocity x radius), m/s.
              This is what DeepRacer commands. base_link moves at v / cos(beta) in the kinematic model.
  delta       front steering angle (bicycle equivalent of the Ackermann pair), radians, + = left
  vy, r       lateral velocity of base_link in the car frame (m/s) and yaw rate (rad/s)

Actuators, per physics sub-step of length dt:
  delta moves toward the command at most steering_rate * dt (servo slew rate);
  v follows the command as a first-order lag: v <- cmd + (v - cmd) * exp(-dt / tau) (tau = 0: instant).

Kinematic bicycle (``dynamics: kinematic``), Ackermann about base_link: with wheelbase L and
lr = distance from the rear axle forward to base_link, yaw rate r = v tan(delta) / L and base_link's
slip angle beta = atan(lr / L * tan(delta)). Within a sub-step the inputs are constant, so the rear
axle moves EXACTLY along an arc of radius L / tan(delta); base_link is lr ahead of it. Closed form for
constant inputs: the rear axle circles with radius R = L / tan(delta), base_link with
sqrt(R^2 + lr^2), both about the same centre.

Dynamic single-track (``dynamics: dynamic``), for high speeds where the tyres slide: centre of mass at
base_link (lf = L - lr ahead of it is the front axle), longitudinal speed vx = v (the wheel speed
controller is assumed stiff), lateral tyre forces
  F = mu Fz tanh(C alpha / (mu Fz))       (linear with cornering stiffness C, saturating at mu Fz)
with slip angles alpha_f = delta - atan2(vy + lf r, vx), alpha_r = -atan2(vy - lr r, vx) and static
axle loads Fz_f = m g lr / L, Fz_r = m g lf / L;
  m (dvy/dt + vx r) = F_f cos(delta) + F_r,     Iz dr/dt = lf F_f cos(delta) - lr F_r.
Integrated with semi-implicit Euler at dt <= 2 ms; below 0.3 m/s the model is blended into the
kinematic one (fully kinematic at 0.3 m/s, fully dynamic from 0.8 m/s) because tyre slip angles are
ill-defined at standstill. At low speed and lateral acceleration well below mu g it agrees with the
kinematic model; above, the front tyres saturate and the car understeers (slides wide).
"""
from __future__ import annotations

import math

import numba

__all__ = ["step_kinematic", "step_dynamic", "substeps_for", "DYNAMIC_MAX_DT_S", "GRAVITY_M_S2"]

DYNAMIC_MAX_DT_S = 0.002
GRAVITY_M_S2 = 9.81
_BLEND_LO_M_S, _BLEND_HI_M_S = 0.3, 0.8


@numba.njit(cache=True, fastmath=False, nogil=True, inline="always")
def _actuate(delta, v, cmd_delta, cmd_v, rate, tau, dt):
    step = rate * dt
    d = cmd_delta - delta
    if d > step:
        d = step
    elif d < -step:
        d = -step
    delta = delta + d
    if tau > 0.0:
        v = cmd_v + (v - cmd_v) * math.exp(-dt / tau)
    else:
        v = cmd_v
    return delta, v


@numba.njit(cache=True, nogil=True)
def step_kinematic(x, y, yaw, v, delta, vy, r, cmd_delta, cmd_v, steering_rate, tau, wheelbase, lr, dt,
                   substeps):
    """Advance every car by `substeps` sub-steps of `dt` seconds (kinematic bicycle, exact arcs)."""
    for i in range(x.shape[0]):
        xi, yi, psi, vi, di = x[i], y[i], yaw[i], v[i], delta[i]
        for _ in range(substeps):
            di, vi = _actuate(di, vi, cmd_delta[i], cmd_v[i], steering_rate[i], tau[i], dt)
            w = vi * math.tan(di) / wheelbase
            # rear axle position, exact arc, back to base_link
            xr = xi - lr * math.cos(psi)
            yr = yi - lr * math.sin(psi)
            dpsi = w * dt
            if abs(dpsi) < 1e-9:
                xr += vi * dt * math.cos(psi + 0.5 * dpsi)
                yr += vi * dt * math.sin(psi + 0.5 * dpsi)
            else:
                rad = vi / w
                xr += rad * (math.sin(psi + dpsi) - math.sin(psi))
                yr -= rad * (math.cos(psi + dpsi) - math.cos(psi))
            psi += dpsi
            xi = xr + lr * math.cos(psi)
            yi = yr + lr * math.sin(psi)
        # keep yaw in (-pi, pi]
        psi = math.atan2(math.sin(psi), math.cos(psi))
        x[i], y[i], yaw[i], v[i], delta[i] = xi, yi, psi, vi, di
        r[i] = vi * math.tan(di) / wheelbase
        vy[i] = lr * r[i]


@numba.njit(cache=True, nogil=True)
def step_dynamic(x, y, yaw, v, delta, vy, r, cmd_delta, cmd_v, steering_rate, tau, wheelbase, lr, dt,
                 substeps, mass, inertia, stiffness, mu):
    """Advance every car by substeps * dt seconds with the dynamic single-track model (mu per car)."""
    lf = wheelbase - lr
    fzf = mass * GRAVITY_M_S2 * lr / wheelbase
    fzr = mass * GRAVITY_M_S2 * lf / wheelbase
    for i in range(x.shape[0]):
        xi, yi, psi, vi, di, vyi, ri = x[i], y[i], yaw[i], v[i], delta[i], vy[i], r[i]
        mui = mu[i]
        for _ in range(substeps):
            di, vi = _actuate(di, vi, cmd_delta[i], cmd_v[i], steering_rate[i], tau[i], dt)
            r_kin = vi * math.tan(di) / wheelbase
            vy_kin = lr * r_kin
            blend = (vi - _BLEND_LO_M_S) / (_BLEND_HI_M_S - _BLEND_LO_M_S)
            if blend <= 0.0:
                vyi, ri = vy_kin, r_kin
            else:
                if blend > 1.0:
                    blend = 1.0
                alpha_f = di - math.atan2(vyi + lf * ri, vi)
                alpha_r = -math.atan2(vyi - lr * ri, vi)
                ff = mui * fzf * math.tanh(stiffness * alpha_f / (mui * fzf))
                fr = mui * fzr * math.tanh(stiffness * alpha_r / (mui * fzr))
                cd = math.cos(di)
                vyi += ((ff * cd + fr) / mass - vi * ri) * dt
                ri += ((lf * ff * cd - lr * fr) / inertia) * dt
                if blend < 1.0:
                    vyi = blend * vyi + (1.0 - blend) * vy_kin
                    ri = blend * ri + (1.0 - blend) * r_kin
            cp, sp = math.cos(psi), math.sin(psi)
            xi += (vi * cp - vyi * sp) * dt
            yi += (vi * sp + vyi * cp) * dt
            psi += ri * dt
        psi = math.atan2(math.sin(psi), math.cos(psi))
        x[i], y[i], yaw[i], v[i], delta[i], vy[i], r[i] = xi, yi, psi, vi, di, vyi, ri


def substeps_for(dynamics: str, frame_dt_s: float, substeps: int) -> tuple[int, float]:
    """(number of sub-steps, sub-step length) per frame; the dynamic model needs dt <= 2 ms."""
    n = int(substeps)
    if dynamics == "dynamic":
        n = max(n, int(math.ceil(frame_dt_s / DYNAMIC_MAX_DT_S - 1e-9)))
    return n, frame_dt_s / n

