"""The control node: drive commands (Twist) -> safety -> PWM backend (sysfs | sim | dry-run).

All names are relative (they resolve in the node's namespace).

Topics in:  cmd_vel (geometry_msgs/Twist, teleop; passes in mode "manual"),
            cmd_vel_auto (Twist, inference; passes in mode "autonomous"),
            cmd_vel_stamped, cmd_vel_auto_stamped (geometry_msgs/TwistStamped, the same two sources
            for Jazzy's stamped teleop tools, e.g. ``teleop_twist_keyboard --ros-args -p stamped:=true
            -r cmd_vel:=cmd_vel_stamped``; both types are always accepted, the latest message wins),
            control/calibration_pwm (std_msgs/Int32MultiArray [throttle_duty_ns, steering_duty_ns];
            passes in mode "calibration"; clamped to 1.0-2.0 ms).
Topics out: control/applied (std_msgs/String JSON: what the PWM got and why, on every change and
            at the 50 Hz tick; the console reads it), /diagnostics (diagnostic_msgs/DiagnosticArray,
            1 Hz: status "control", level OK / WARN (watchdog or emergency stop neutral) with the same
            fields as key/values), control/applied_drive (ackermann_msgs/AckermannDriveStamped, with
            every control/applied: the applied command as speed m/s and front steering angle rad,
            ``DriveMapper.to_drive``; frame_id base_link), sim/cmd_vel (Twist, sim backend only).
Services:   control/emergency_stop (std_srvs/SetBool: true latches neutral, false releases),
            control/set_mode/manual, control/set_mode/autonomous, control/set_mode/calibration
            (std_srvs/Trigger: switch the mode; the same as setting the ``mode`` parameter),
            control/reload_calibration (std_srvs/Trigger: re-read ``calibration_file``; an invalid
            file is refused with the reason and the old calibration stays).
The mode is also the ``mode`` parameter (``ros2 param set /control_node mode autonomous``).

Start-up is all-or-nothing: an invalid calibration or a missing PWM chip logs ONE error naming the
field or path and the process exits with status 1, with the outputs neutral (sysfs channels an
earlier process left enabled are disabled; nothing else is written).
"""
from __future__ import annotations

import json
import sys

import rclpy
from ackermann_msgs.msg import AckermannDriveStamped
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.node import Node
from std_msgs.msg import Int32MultiArray, String
from rclpy.parameter import Parameter
from std_srvs.srv import SetBool, Trigger

from deepracer_common.nodes.lifecycle import run_node
from deepracer_common.nodes.params import NodeParameters, ParameterError, Spec

from ..calibration import Calibration, CalibrationError, load_calibration
from ..drive import DriveMapper
from ..pwm import (DEFAULT_SYSFS_ROOT, ActuatorCommand, DryRunPWM, PWMBackend, PWMError, SimPWM, SysfsPWM,
                   disable_sysfs_outputs, neutral_command)
from ..safety import MODES, SafetySupervisor, Source, parse_mode

BACKENDS = ("sysfs", "sim", "dry-run")
TICK_HZ = 50.0

SPECS = [
    Spec("backend", "dry-run", "PWM backend: sysfs (the car), sim (publishes /sim/cmd_vel), dry-run (logs)",
         choices=BACKENDS),
    Spec("calibration_file", "", "DeepRacer calibration.json; empty = the stock defaults"),
    Spec("pwm_chip", 0, "N in <sysfs_root>/pwmchipN", range=(0, 63)),
    Spec("sysfs_root", DEFAULT_SYSFS_ROOT, "where the pwmchipN folders are"),
    Spec("throttle_channel", 0, "PWM channel of the ESC", range=(0, 31)),
    Spec("steering_channel", 1, "PWM channel of the steering servo", range=(0, 31)),
    Spec("max_speed_scale", 1.0, "throttle at the URDF max speed (open loop), 0..1", read_only=False,
         range=(0.0, 1.0)),
    Spec("watchdog_timeout_s", 0.25, "neutral when no command arrived for this long (s)", read_only=False,
         range=(0.05, 5.0)),
    Spec("mode", "manual", "manual (/cmd_vel) | autonomous (/cmd_vel_auto) | calibration (/control/calibration_pwm)",
         read_only=False, choices=MODES),
]


class ControlStartupError(RuntimeError):
    """The node cannot start; the message names the parameter, field or path."""


class ControlNode(Node):
    """Applies the drive command of the current mode to the PWM backend, neutral when unsafe."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("control_node", **node_kwargs)
        self.backend: PWMBackend | None = None
        try:
            self._start()
        except BaseException:
            if self.backend is not None:
                self.backend.close()
            self.destroy_node()
            raise

    # -- start-up ----------------------------------------------------------------------------------
    def _start(self) -> None:
        p = self._declare_parameters()
        mode = parse_mode(p["mode"])
        if p["throttle_channel"] == p["steering_channel"]:
            raise ControlStartupError(
                f"parameters throttle_channel and steering_channel are both {p['throttle_channel']}")

        try:
            calibration = load_calibration(p["calibration_file"]) if p["calibration_file"] else Calibration.default()
        except CalibrationError as exc:
            if p["backend"] == "sysfs":  # no valid neutral known: stop the pulses a previous run left on
                disable_sysfs_outputs(p["pwm_chip"], (p["throttle_channel"], p["steering_channel"]), p["sysfs_root"])
            raise ControlStartupError(f"invalid calibration: {exc}") from None
        if not p["calibration_file"] and p["backend"] == "sysfs":
            self.get_logger().warn("calibration_file is empty: using the stock DeepRacer default calibration")

        self.mapper = DriveMapper(calibration, max_speed_scale=p["max_speed_scale"])
        if p["backend"] == "sysfs":
            try:
                self.backend = SysfsPWM(calibration, p["pwm_chip"], throttle_channel=p["throttle_channel"],
                                        steering_channel=p["steering_channel"], root=p["sysfs_root"])
            except PWMError as exc:
                raise ControlStartupError(str(exc)) from None
        elif p["backend"] == "sim":
            self.backend = SimPWM(calibration)
        else:
            self.backend = DryRunPWM(calibration, log=rclpy.logging.get_logger("deepracer_control.dry_run").info)

        self.supervisor: SafetySupervisor[ActuatorCommand] = SafetySupervisor(
            self.mapper.neutral(), mode=mode, timeout_s=p["watchdog_timeout_s"])
        self._last_applied: tuple[ActuatorCommand, str] | None = None

        self.applied_pub = self.create_publisher(String, "control/applied", 10)
        self.drive_pub = self.create_publisher(AckermannDriveStamped, "control/applied_drive", 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.sim_pub = self.create_publisher(Twist, "sim/cmd_vel", 10) if p["backend"] == "sim" else None
        self.create_subscription(Twist, "cmd_vel", lambda m: self._on_twist(Source.TELEOP, m), 10)
        self.create_subscription(Twist, "cmd_vel_auto", lambda m: self._on_twist(Source.INFERENCE, m), 10)
        self.create_subscription(TwistStamped, "cmd_vel_stamped", lambda m: self._on_twist(Source.TELEOP, m.twist), 10)
        self.create_subscription(TwistStamped, "cmd_vel_auto_stamped",
                                 lambda m: self._on_twist(Source.INFERENCE, m.twist), 10)
        self.create_subscription(Int32MultiArray, "control/calibration_pwm", self._on_calibration_pwm, 10)
        self.create_service(SetBool, "control/emergency_stop", self._on_emergency_stop)
        for name in MODES:
            self.create_service(Trigger, f"control/set_mode/{name}",
                                lambda req, resp, name=name: self._on_set_mode(name, resp))
        self.create_service(Trigger, "control/reload_calibration", self._on_reload_calibration)
        self._applied_fields: dict = {}
        self.create_timer(1.0, self._publish_diagnostics)
        self._calibration_file = p["calibration_file"]
        self.create_timer(1.0 / TICK_HZ, self._tick)
        self._apply()
        self.get_logger().info(
            f"control node ready: backend {p['backend']}, mode {mode.value}, watchdog {p['watchdog_timeout_s']} s, "
            f"max_speed_scale {p['max_speed_scale']}")

    def _declare_parameters(self) -> dict:
        try:
            self.params = NodeParameters(self, SPECS, apply=self._apply_parameters)
        except ParameterError as exc:
            raise ControlStartupError(str(exc)) from None
        return self.params.values

    # -- runtime parameters ---------------------------------------------------------------------------
    def _apply_parameters(self, checked: dict) -> None:
        """Post-set callback: apply runtime changes (validated before by NodeParameters)."""
        if "mode" in checked:
            self.supervisor.set_mode(checked["mode"])
            self.get_logger().info(f"mode -> {checked['mode']} (neutral until its source sends a command)")
        if "max_speed_scale" in checked:
            self.mapper.max_speed_scale = checked["max_speed_scale"]
        if "watchdog_timeout_s" in checked:
            self.supervisor.watchdog.timeout_s = checked["watchdog_timeout_s"]
        self._apply()

    # -- commands --------------------------------------------------------------------------------------
    def _on_twist(self, source: Source, msg: Twist) -> None:
        if self.supervisor.submit(source, self.mapper.from_twist(msg.linear.x, msg.angular.z)):
            self._apply()

    def _on_calibration_pwm(self, msg: Int32MultiArray) -> None:
        if len(msg.data) != 2:
            self.get_logger().warn(f"control/calibration_pwm: expected [throttle_duty_ns, steering_duty_ns], "
                                   f"got {len(msg.data)} values; ignored", throttle_duration_sec=5.0)
            return
        if self.supervisor.submit(Source.CALIBRATION, self.mapper.from_duty_ns(msg.data[0], msg.data[1])):
            self._apply()

    def _on_emergency_stop(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self.supervisor.emergency_stop(request.data)
        self._apply()
        response.success = True
        response.message = "emergency stop engaged: neutral until released" if request.data else \
            "emergency stop released: waiting for a fresh command"
        self.get_logger().warn(response.message)
        return response

    def _on_set_mode(self, mode: str, response: Trigger.Response) -> Trigger.Response:
        result = self.set_parameters([Parameter("mode", value=mode)])[0]
        response.success = bool(result.successful)
        response.message = f"mode {mode}" if result.successful else result.reason
        return response

    def _on_reload_calibration(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if not self._calibration_file:
            response.success, response.message = False, "calibration_file is empty: nothing to reload"
            return response
        try:
            calibration = load_calibration(self._calibration_file)
        except CalibrationError as exc:
            response.success, response.message = False, f"calibration not reloaded, the old one stays: {exc}"
            self.get_logger().error(response.message)
            return response
        self.mapper.calibration = calibration
        self.backend.calibration = calibration
        self.supervisor.neutral = neutral_command(calibration)
        self.supervisor.set_mode(self.supervisor.mode)  # forget the held command: it used the old mapping
        self._apply()
        response.success, response.message = True, f"calibration reloaded from {self._calibration_file}"
        self.get_logger().info(response.message)
        return response

    def _tick(self) -> None:
        self._apply()

    # -- output ----------------------------------------------------------------------------------------
    def _apply(self) -> None:
        """Write what the supervisor says to the backend; publish the monitoring topics."""
        command, reason = self.supervisor.output()
        changed = self._last_applied != (command, reason)
        if changed and self._last_applied is not None and reason == "watchdog" and self._last_applied[1] == "command":
            self.get_logger().warn(f"watchdog: no command for {self.supervisor.watchdog.timeout_s} s -> neutral")
        try:
            self.backend.apply(command)
        except PWMError as exc:  # e.g. the PWM device vanished: report, keep trying each tick
            self.get_logger().error(str(exc), throttle_duration_sec=1.0)
        self._last_applied = (command, reason)
        if self.sim_pub is not None:
            linear_x, angular_z = self.mapper.to_twist(command)
            twist = Twist()
            twist.linear.x, twist.angular.z = linear_x, angular_z
            self.sim_pub.publish(twist)
        self._applied_fields = {
            "mode": self.supervisor.mode.value, "reason": reason, "backend": self.backend.name,
            "throttle": round(command.throttle, 6), "steering": round(command.steering, 6),
            "throttle_duty_ns": command.throttle_duty_ns, "steering_duty_ns": command.steering_duty_ns,
            "clamp_count": self.mapper.clamp_count, "emergency_stop": self.supervisor.estop.engaged}
        self.applied_pub.publish(String(data=json.dumps(self._applied_fields)))
        drive = AckermannDriveStamped()
        drive.header.stamp = self.get_clock().now().to_msg()
        drive.header.frame_id = "base_link"
        drive.drive.speed, drive.drive.steering_angle = self.mapper.to_drive(command)
        self.drive_pub.publish(drive)

    def _publish_diagnostics(self) -> None:
        """/diagnostics: one DiagnosticStatus "<node name>: control" with the applied fields."""
        fields = self._applied_fields
        if not fields:
            return
        level, message = DiagnosticStatus.OK, f"{fields['mode']}: {fields['reason']}"
        if fields["emergency_stop"] or fields["reason"] == "watchdog":
            level = DiagnosticStatus.WARN
        status = DiagnosticStatus(level=level, name=f"{self.get_fully_qualified_name()}: control",
                                  message=message, hardware_id=fields["backend"],
                                  values=[KeyValue(key=k, value=str(v)) for k, v in fields.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)

    def close(self) -> None:
        """Neutral, then release the outputs (sysfs: enable = 0)."""
        if self.backend is not None:
            self.backend.close()


def main(args: list[str] | None = None) -> int:
    """Entry point; returns the exit status (1 when the node cannot start). ``close()`` (neutral,
    outputs released) runs on every exit path, SIGINT and SIGTERM included."""
    return run_node(ControlNode, "control_node", (ControlStartupError,), args)


if __name__ == "__main__":
    sys.exit(main())
