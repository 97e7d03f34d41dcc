#!/usr/bin/env bash
# System packages the tests need that PyPI does not carry: redis-server (decoupled training tests),
# chromium + chromium-driver (the web console's browser tests; playwright drives /usr/bin/chromium),
# libsdformat-dev + ignition-tools (`ign sdf -k` checks the Gazebo worlds, models and URDF; neither
# package alone gives a working checker; a machine with Gazebo Harmonic has `gz sdf` instead).
# cmake, g++ and the Python headers: colcon builds the message packages src/tf2_msgs and
# src/ackermann_msgs (rosidl generates C/C++ typesupport and a Python C extension).
# Installed with apt when missing and we are root (CI, fresh Debian); otherwise we say what to install.
set -euo pipefail
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
# the headers of the Python the virtualenv is made from (the Makefile's PYTHON, python3 by default)
py="${PYTHON:-python3}"
if ! "$py" -c 'import os, sysconfig, sys; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
  need+=(python3-dev)
fi
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
if ! command -v gz >/dev/null 2>&1; then
  if ! command -v ign >/dev/null 2>&1 || ! dpkg -s libsdformat-dev >/dev/null 2>&1; then
    need+=(libsdformat-dev ignition-tools)
  fi
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # the Debian package starts a system redis on 6379; the tests start their own servers, so stop it
  (service redis-server stop || true) >/dev/null 2>&1
else
  echo "WARNING: missing system packages: ${need[*]} (sudo apt-get install ${need[*]}); the tests that need them will fail" >&2
fi
