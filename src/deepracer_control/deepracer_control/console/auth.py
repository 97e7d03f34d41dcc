"""Who may use the console: a login token (random per start unless configured) or a password.

The token is printed at start-up as a ready-to-open URL (``http://host:port/?token=...``); opening
it logs the browser in (a signed session cookie, SameSite=Strict, HttpOnly). Tools can send it as
``Authorization: Bearer <token>`` instead. A password is optional: a file holding a werkzeug
password hash (written by ``python -m deepracer_control.console.auth set-password FILE``); the
login form then accepts it as well. Comparisons are constant-time.
"""
from __future__ import annotations

import argparse
import getpass
import hmac
import os
import secrets
import sys
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

MIN_TOKEN_CHARS = 16
MIN_PASSWORD_CHARS = 8


class AuthError(ValueError):
    """A bad token or password file; the message names it."""


class Auth:
    """Checks tokens and passwords. ``token=''`` draws a random one (``secrets.token_urlsafe``)."""

    def __init__(self, token: str = "", password_file: str = "") -> None:
        if token and len(token) < MIN_TOKEN_CHARS:
            raise AuthError(f"token: at least {MIN_TOKEN_CHARS} characters, got {len(token)}")
        self.token = token or secrets.token_urlsafe(24)
        self.password_hash = read_password_file(password_file) if password_file else None

    def check_token(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(value.encode("utf-8"), self.token.encode("utf-8"))

    def check_secret(self, value: str | None) -> bool:
        """The login form's field: the token or (when configured) the password."""
        if not value:
            return False
        if self.check_token(value):
            return True
        return self.password_hash is not None and check_password_hash(self.password_hash, value)


def read_password_file(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AuthError(f"password_file {p}: cannot read it ({exc.strerror})") from None
    if ":" not in text or "$" not in text:
        raise AuthError(f"password_file {p}: not a password hash (write it with "
                        f"'python -m deepracer_control.console.auth set-password {p}')")
    return text


def write_password_file(path: str | os.PathLike[str], password: str) -> None:
    """Hash ``password`` (scrypt) into ``path``, readable by its owner only."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AuthError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(generate_password_hash(password) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepracer_control.console.auth",
                                     description="Set the console's password (stored as a hash).")
    sub = parser.add_subparsers(dest="cmd", required=True)
    setp = sub.add_parser("set-password", help="prompt for a password and write its hash to FILE")
    setp.add_argument("file")
    args = parser.parse_args(argv)
    first = getpass.getpass("new console password: ")
    if getpass.getpass("again: ") != first:
        print("console auth: the passwords differ; nothing written", file=sys.stderr)
        return 1
    try:
        write_password_file(args.file, first)
    except (AuthError, OSError) as exc:
        print(f"console auth: {exc}", file=sys.stderr)
        return 1
    print(f"password hash written to {args.file}; start the console with password_file:={args.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
