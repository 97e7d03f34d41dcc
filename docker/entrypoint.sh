#!/usr/bin/env bash
# `docker run IMAGE VERB ARGS...` = `deepracer VERB ARGS...` inside the built workspace.
set -euo pipefail
set +u
source /opt/deepracer/install/setup.bash
set -u
exec python -m deepracer_common.cli "$@"
