"""The Flask app of the console: pages, JSON API and the MJPEG stream, over a :class:`ConsoleBackend`.

Every route except ``/login`` and the static files needs a login: the session cookie set by
``/?token=...`` or the login form, or ``Authorization: Bearer <token>``. A request without one
gets 401 (API, stream) or the login page. State-changing requests (POST/DELETE) must also carry
the header ``X-Console: 1``, which a cross-site form cannot send (CSRF), and JSON bodies must be
JSON. Every refusal is one line of JSON ``{"error": "..."}`` with a 4xx status.
"""
from __future__ import annotations

import functools
import math
import secrets
import time
from pathlib import Path
from typing import Any, Callable

from flask import Flask, Response, jsonify, redirect, render_template_string, request, send_from_directory, session
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..calibration import RAW_MAX_NS, RAW_MIN_NS, Calibration, CalibrationError, load_calibration, save_calibration
from ..safety import MODES
from .auth import Auth
from .backend import BackendError, ConsoleBackend
from .models import ModelStore, ModelStoreError, check_name
from .system import cpu_temperature_c

STATIC = Path(__file__).with_name("static")
CSRF_HEADER = "X-Console"
FAILED_LOGIN_DELAY_S = 1.0

LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>DeepRacer console: login</title>
<link rel="stylesheet" href="/static/console.css"></head><body class="login">
<form method="post" action="/login"><h1>DeepRacer console</h1>
<p>Open the URL the console printed at start-up, or enter its token (or the password).</p>
<input type="password" name="secret" id="secret" autofocus placeholder="token or password">
<button type="submit">Log in</button>{% if error %}<p class="error">{{ error }}</p>{% endif %}</form></body></html>"""


class ApiError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def create_app(backend: ConsoleBackend, auth: Auth, models: ModelStore | None, calibration_file: str = "",
               max_stream_fps: float = 30.0) -> Flask:
    """The app. ``models=None``: no models_dir configured (model routes answer 409);
    ``calibration_file=''``: calibration can be tried live but not saved."""
    app = Flask(__name__, static_folder=None)
    app.secret_key = secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      MAX_CONTENT_LENGTH=(models.max_bytes + 1024 * 1024) if models else 1024 * 1024)

    def logged_in() -> bool:
        if session.get("auth") is True:
            return True
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and auth.check_token(header[len("Bearer "):])

    def api(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not logged_in():
                return jsonify(error="login required: open the URL with ?token= printed at start-up"), 401
            if request.method in ("POST", "DELETE", "PUT") and request.headers.get(CSRF_HEADER) != "1":
                return jsonify(error=f"missing header {CSRF_HEADER}: 1 (sent by the console page)"), 403
            try:
                result = handler(*args, **kwargs)
            except ApiError as exc:
                return jsonify(error=str(exc)), exc.status
            except ModelStoreError as exc:
                return jsonify(error=str(exc)), exc.status
            except CalibrationError as exc:
                return jsonify(error=f"not saved: {exc}"), 400
            except BackendError as exc:
                return jsonify(error=str(exc)), 503
            return result if isinstance(result, Response) else jsonify(result)
        return wrapped

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError("the request body must be a JSON object")
        return data

    def number(data: dict[str, Any], key: str, low: float, high: float) -> float:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not low <= value <= high:
            raise ApiError(f"{key} = {value!r} must be a number within [{low}, {high}]")
        return float(value)

    def need_models() -> ModelStore:
        if models is None:
            raise ApiError("no models_dir is configured for the console", 409)
        return models

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: HTTPException) -> Any:
        limit = (models.max_bytes if models else 0) // (1024 * 1024)
        return jsonify(error=f"upload larger than the limit of {limit} MiB"), 413

    # -- pages -------------------------------------------------------------------------------------
    @app.get("/")
    def index() -> Any:
        token = request.args.get("token")
        if token is not None:
            if auth.check_token(token):
                session["auth"] = True
                return redirect("/")
            return render_template_string(LOGIN_PAGE, error="wrong token"), 401
        if not logged_in():
            return render_template_string(LOGIN_PAGE, error=None), 401
        return send_from_directory(STATIC, "index.html")

    @app.post("/login")
    def login() -> Any:
        if auth.check_secret(request.form.get("secret")):
            session["auth"] = True
            return redirect("/")
        time.sleep(FAILED_LOGIN_DELAY_S)  # slows guessing a password down (one thread per request)
        return render_template_string(LOGIN_PAGE, error="wrong token or password"), 401

    @app.post("/logout")
    def logout() -> Any:
        session.clear()
        return redirect("/")

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Any:
        return send_from_directory(STATIC, name)

    @app.get("/video.mjpg")
    def video() -> Any:
        if not logged_in():
            return jsonify(error="login required"), 401
        return Response(backend.frames.mjpeg(max_fps=max_stream_fps), mimetype="multipart/x-mixed-replace; boundary=frame",
                        headers={"Cache-Control": "no-store"})

    # -- status ------------------------------------------------------------------------------------
    @app.get("/api/status")
    @api
    def status() -> Any:
        data = backend.status()
        data.update(video=backend.frames.stats(), cpu_temperature_c=cpu_temperature_c(),
                    calibration_file=calibration_file or None, models_dir=str(models.folder) if models else None)
        return data

    # -- manual drive ------------------------------------------------------------------------------
    @app.post("/api/drive")
    @api
    def drive() -> Any:
        data = body()
        backend.drive(number(data, "throttle", -1.0, 1.0), number(data, "steering", -1.0, 1.0))
        return {"ok": True}

    @app.post("/api/stop")
    @api
    def stop() -> Any:
        backend.drive(0.0, 0.0)
        return {"ok": True}

    @app.post("/api/mode")
    @api
    def mode() -> Any:
        value = body().get("mode")
        if value not in MODES:
            raise ApiError(f"mode = {value!r} is not one of {', '.join(MODES)}")
        return {"message": backend.set_mode(value)}

    @app.post("/api/estop")
    @api
    def estop() -> Any:
        engaged = body().get("engaged")
        if not isinstance(engaged, bool):
            raise ApiError("engaged must be true or false")
        return {"message": backend.emergency_stop(engaged)}

    @app.post("/api/max_speed")
    @api
    def max_speed() -> Any:
        return {"message": backend.set_max_speed(number(body(), "scale", 0.0, 1.0))}

    # -- calibration -------------------------------------------------------------------------------
    @app.get("/api/calibration")
    @api
    def get_calibration() -> Any:
        source = "stock defaults"
        cal = Calibration.default()
        error = None
        if calibration_file and Path(calibration_file).exists():
            try:
                cal, source = load_calibration(calibration_file), calibration_file
            except CalibrationError as exc:
                error = str(exc)
        return {"calibration": cal.to_dict(), "source": source, "file": calibration_file or None, "error": error,
                "pulse_range_ns": [RAW_MIN_NS, RAW_MAX_NS]}

    @app.post("/api/calibration/pulse")
    @api
    def pulse() -> Any:
        data = body()
        throttle = number(data, "throttle_ns", RAW_MIN_NS, RAW_MAX_NS)
        steering = number(data, "steering_ns", RAW_MIN_NS, RAW_MAX_NS)
        backend.calibration_pulse(int(round(throttle)), int(round(steering)))
        return {"ok": True}

    @app.post("/api/calibration")
    @api
    def save() -> Any:
        if not calibration_file:
            raise ApiError("no calibration_file is configured for the console: nothing can be saved", 409)
        cal = Calibration.from_dict(body(), source="calibration from the page")
        try:
            kept = save_calibration(cal, calibration_file, backup=True)
        except OSError as exc:
            raise ApiError(f"not saved: cannot write {calibration_file} ({exc.strerror or exc})", 500) from None
        message = f"saved {calibration_file}" + (f" (previous file kept as {kept})" if kept else "")
        try:
            message += "; " + backend.reload_calibration()
        except BackendError as exc:
            message += f"; the control node did not reload it ({exc}): restart it"
        return {"message": message}

    # -- models ------------------------------------------------------------------------------------
    @app.get("/api/models")
    @api
    def list_models() -> Any:
        store = need_models()
        try:
            loaded = backend.loaded_model()
        except BackendError:
            loaded = None
        entries = store.list()
        for entry in entries:
            entry["loaded"] = loaded is not None and Path(entry["path"]).resolve() == loaded.resolve()
        return {"models": entries, "max_upload_mib": store.max_bytes // (1024 * 1024)}

    @app.post("/api/models")
    @api
    def upload() -> Any:
        store = need_models()
        upload_file = request.files.get("file")
        if upload_file is None:
            raise ApiError("no file in the upload (form field 'file')")
        return {"model": store.add(upload_file.stream, upload_file.filename or "")}

    @app.post("/api/models/<name>/select")
    @api
    def select(name: str) -> Any:
        path = need_models().path_of(check_name(name))
        return {"message": backend.select_model(path)}

    @app.delete("/api/models/<name>")
    @api
    def delete(name: str) -> Any:
        need_models().delete(name, backend.loaded_model())
        return {"message": f"deleted {name}"}

    @app.post("/api/autonomous")
    @api
    def autonomous() -> Any:
        run = body().get("run")
        if not isinstance(run, bool):
            raise ApiError("run must be true or false")
        return {"message": backend.autonomous(run)}

    return app
