"""The console's core (no ROS): model store, frame hub, stick mapping, auth, request validation."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from console_helpers import aws_model_archive, tiny_model_archive
from deepracer_control.console.app import create_app
from deepracer_control.console.auth import Auth, AuthError, write_password_file
from deepracer_control.console.backend import twist_from_stick
from deepracer_control.console.models import ModelStore, ModelStoreError, model_name
from deepracer_control.console.video import FrameHub
from deepracer_control.drive import default_vehicle


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return tiny_model_archive(tmp_path_factory.mktemp("art"), "tiny")


def _repack(src: Path, dst: Path, edit) -> Path:
    """Copy a .tar.gz member by member through ``edit(name, data) -> [(name, data), ...]``."""
    with tarfile.open(src, "r:gz") as tin, tarfile.open(dst, "w:gz") as tout:
        for member in tin.getmembers():
            for name, data in edit(member.name, tin.extractfile(member).read()):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tout.addfile(info, io.BytesIO(data))
    return dst


# --- model store ---------------------------------------------------------------------------------------

def test_upload_is_verified_then_moved_into_place(tmp_path, archive):
    store = ModelStore(tmp_path / "models")
    with open(archive, "rb") as fh:
        entry = store.add(fh, "my-model.tar.gz")
    assert entry["name"] == "my-model" and entry["kind"] == "archive"
    assert sorted(p.name for p in store.folder.iterdir()) == ["my-model.tar.gz"]
    assert store.path_of("my-model") == store.folder / "my-model.tar.gz"


@pytest.mark.parametrize("edit, problem", [
    (lambda n, d: [(n, d[:-1] + bytes([d[-1] ^ 1]) if n == "model.bin" else d)], "checksum mismatch for model.bin"),
    (lambda n, d: [] if n == "model.onnx" else [(n, d)], "missing file model.onnx"),
    (lambda n, d: [("../" + n if n == "model.bin" else n, d)], "unsafe path"),
    (lambda n, d: [(n, b"{" if n == "manifest.json" else d)], "manifest.json is not valid JSON"),
])
def test_a_bad_upload_is_refused_and_replaces_nothing(tmp_path, archive, edit, problem):
    store = ModelStore(tmp_path / "models")
    with open(archive, "rb") as fh:
        store.add(fh, "keep.tar.gz")
    before = (store.folder / "keep.tar.gz").read_bytes()
    bad = _repack(archive, tmp_path / "bad.tar.gz", edit)
    with open(bad, "rb") as fh, pytest.raises(ModelStoreError, match=problem) as info:
        store.add(fh, "keep.tar.gz")
    assert "\n" not in str(info.value) and ".tmp-" not in str(info.value)
    assert (store.folder / "keep.tar.gz").read_bytes() == before           # the old model stays
    assert sorted(p.name for p in store.folder.iterdir()) == ["keep.tar.gz"]  # no temp file left


def test_upload_size_limit_and_names(tmp_path):
    store = ModelStore(tmp_path / "models", max_bytes=1000)
    with pytest.raises(ModelStoreError, match="larger than the limit") as info:
        store.add(io.BytesIO(b"x" * 5000), "big.tar.gz")
    assert info.value.status == 413 and list(store.folder.iterdir()) == []
    with pytest.raises(ModelStoreError, match="empty"):
        store.add(io.BytesIO(b""), "e.tar.gz")
    for bad in ("model.zip", ".hidden.tar.gz", "a b.tar.gz", "x" * 101 + ".tar.gz", "..tar.gz", ".tar.gz"):
        with pytest.raises(ModelStoreError):
            model_name(bad)
    assert model_name("../../etc/x.tar.gz") == "x"             # only the base name is ever used
    assert model_name("ok_1.2-x.tgz") == "ok_1.2-x"
    with pytest.raises(ModelStoreError, match="not in") as info:
        store.path_of("nothing")
    assert info.value.status == 404


def test_an_aws_model_archive_is_accepted_and_a_stray_member_refused(tmp_path):
    aws = aws_model_archive(tmp_path, "pb-only-model")
    store = ModelStore(tmp_path / "models")
    with open(aws, "rb") as fh:
        entry = store.add(fh, aws.name)
    assert entry["name"] == "pb-only-model"
    stray = _repack(aws, tmp_path / "stray.tar.gz", lambda n, d: [(n, d), ("run.sh", b"rm -rf /")] if n == "model.pb"
                    else [(n, d)])
    with open(stray, "rb") as fh, pytest.raises(ModelStoreError, match="run.sh"):
        store.add(fh, "stray.tar.gz")
    assert [e["name"] for e in store.list()] == ["pb-only-model"]


def test_the_loaded_model_cannot_be_deleted(tmp_path, archive):
    store = ModelStore(tmp_path / "models")
    with open(archive, "rb") as fh:
        store.add(fh, "a.tar.gz")
    with pytest.raises(ModelStoreError, match="is loaded") as info:
        store.delete("a", loaded=store.folder / "a.tar.gz")
    assert info.value.status == 409
    store.delete("a", loaded=None)
    assert store.list() == []


# --- frames -------------------------------------------------------------------------------------------

def test_frame_hub_rate_latency_and_one_encoding_per_frame():
    now = [100.0]
    hub = FrameHub(clock=lambda: now[0])
    for k in range(16):
        now[0] = 100.0 + k / 15.0
        hub.push(np.full((120, 160), k, np.uint8), stamp_s=now[0] - 0.040)   # 40 ms old on arrival
    stats = hub.stats()
    assert stats["fps"] == pytest.approx(15.0) and stats["latency_ms"] == pytest.approx(40.0)
    seq, jpeg = hub.wait_jpeg(0, 0.1)
    assert seq == 16 and jpeg[:2] == b"\xff\xd8"
    assert hub.wait_jpeg(0, 0.1)[1] is jpeg                   # cached: encoded once for every viewer
    assert hub.wait_jpeg(16, 0.05) is None                    # nothing newer yet
    part = next(hub.mjpeg(max_fps=100.0))
    assert part.startswith(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ") and part.endswith(b"\r\n")
    now[0] += 5.0                                             # the camera stopped: no rate, no latency
    assert hub.stats()["fps"] is None and hub.stats()["latency_ms"] is None


def test_overlay_shows_decision_applied_and_rate():
    hub = FrameHub()
    hub.set_decision({"steering_deg": -15.0, "speed_m_s": 0.8, "latency_ms": 2.5})
    hub.set_applied({"mode": "autonomous", "reason": "command", "steering": -0.5, "throttle": 0.4,
                     "emergency_stop": True})
    lines = hub.overlay_lines()
    assert lines[0] == "model: steer -15.0 deg  speed 0.80 m/s  (2.5 ms)"
    assert lines[1] == "autonomous/command: steering -0.50  throttle +0.40  E-STOP"
    assert lines[2] == "- fps  latency - ms"


# --- stick -> cmd_vel ---------------------------------------------------------------------------------

def test_stick_maps_through_the_vehicle_geometry():
    vehicle = default_vehicle()
    linear, angular = twist_from_stick(vehicle, 0.5, 1.0)
    assert linear == pytest.approx(0.5 * vehicle.max_speed_m_s)
    speed, steering = vehicle.drive_from_twist(linear, angular)
    assert steering == pytest.approx(vehicle.max_steering_angle_rad)
    assert twist_from_stick(vehicle, 0.0, -0.3) == (0.0, -0.3)   # standstill: the sign turns the wheels
    for bad in ((1.5, 0.0), (0.0, float("nan")), ("1", 0.0)):
        with pytest.raises(ValueError):
            twist_from_stick(vehicle, *bad)


# --- auth ---------------------------------------------------------------------------------------------

def test_tokens_and_passwords(tmp_path):
    assert len(Auth().token) >= 24 and Auth().token != Auth().token
    with pytest.raises(AuthError, match="at least 16"):
        Auth(token="short")
    pw = tmp_path / "pw"
    write_password_file(pw, "correct horse")
    assert oct(pw.stat().st_mode & 0o777) == "0o600" and "correct horse" not in pw.read_text()
    auth = Auth(token="t" * 20, password_file=str(pw))
    assert auth.check_secret("correct horse") and auth.check_secret("t" * 20)
    assert not auth.check_secret("wrong") and not auth.check_token(None) and not auth.check_secret("")
    pw.write_text("plain text")
    with pytest.raises(AuthError, match="not a password hash"):
        Auth(password_file=str(pw))
    with pytest.raises(AuthError, match="cannot read"):
        Auth(password_file=str(tmp_path / "missing"))
    with pytest.raises(AuthError, match="at least 8"):
        write_password_file(tmp_path / "p2", "short")


# --- request validation (the app over a recording backend; the real node is in the browser tests) -----

class Recorder:
    def __init__(self) -> None:
        self.frames = FrameHub()
        self.calls: list[tuple] = []

    def status(self):
        return {}

    def drive(self, throttle, steering):
        self.calls.append(("drive", throttle, steering))

    def calibration_pulse(self, t, s):
        self.calls.append(("pulse", t, s))

    def set_mode(self, mode):
        self.calls.append(("mode", mode))
        return f"mode {mode}"

    def reload_calibration(self):
        return "reloaded"

    def loaded_model(self):
        return None


@pytest.fixture
def client(tmp_path):
    backend = Recorder()
    app = create_app(backend, Auth(token="x" * 20), ModelStore(tmp_path / "m", max_bytes=2048),
                     calibration_file=str(tmp_path / "cal.json"))
    c = app.test_client()
    c.environ_base.update(HTTP_AUTHORIZATION="Bearer " + "x" * 20, HTTP_X_CONSOLE="1")
    c.backend = backend
    c.tmp_models = tmp_path / "m"
    return c


@pytest.mark.parametrize("path, payload, message", [
    ("/api/drive", {"throttle": 2.0, "steering": 0.0}, "throttle = 2.0 must be a number within [-1.0, 1.0]"),
    ("/api/drive", {"throttle": True, "steering": 0.0}, "throttle = True"),
    ("/api/drive", [1, 2], "must be a JSON object"),
    ("/api/mode", {"mode": "turbo"}, "mode = 'turbo' is not one of manual, autonomous, calibration"),
    ("/api/calibration/pulse", {"throttle_ns": 999_999, "steering_ns": 1_500_000}, "throttle_ns = 999999"),
    ("/api/calibration", {"Calibration": {"Servo": {"min": 1, "mid": 2, "max": 3, "polarity": 1},
                                          "Motor": {"min": 1_311_000, "mid": 1_446_000, "max": 1_603_500,
                                                    "polarity": -1}}},
     "not saved: calibration from the page: Calibration.Servo.min = 1 ns is outside"),
])
def test_bad_requests_get_one_clear_error_and_do_nothing(client, path, payload, message):
    response = client.post(path, json=payload)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert client.backend.calls == []


def test_good_requests_reach_the_backend_and_save_with_backup(client, tmp_path):
    assert client.post("/api/drive", json={"throttle": 0.5, "steering": -1}).status_code == 200
    assert client.post("/api/mode", json={"mode": "calibration"}).get_json() == {"message": "mode calibration"}
    assert client.backend.calls == [("drive", 0.5, -1.0), ("mode", "calibration")]
    cal = tmp_path / "cal.json"
    cal.write_text("old")
    doc = {"Calibration": {"Servo": {"min": 1_200_000, "mid": 1_450_000, "max": 1_700_000, "polarity": 1},
                           "Motor": {"min": 1_311_000, "mid": 1_446_000, "max": 1_603_500, "polarity": -1}}}
    message = client.post("/api/calibration", json=doc).get_json()["message"]
    assert message == f"saved {cal} (previous file kept as {cal}.bak); reloaded"
    assert (tmp_path / "cal.json.bak").read_text() == "old" and json.loads(cal.read_text())["version"] == 1


def test_uploads_over_the_limit_are_refused_before_reading(client):
    response = client.post("/api/models", data={"file": (io.BytesIO(b"x" * (2 * 1024 * 1024)), "m.tar.gz")})
    assert response.status_code == 413 and "larger than the limit" in response.get_json()["error"]
    assert not (client.tmp_models / "m.tar.gz").exists()
