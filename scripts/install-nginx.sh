#!/usr/bin/env bash
# Installs Debian's nginx for the fleet tests (the load balancer in front of the replicas), only
# when it is missing. The tests run it unprivileged from a configuration of their own
# (`nginx -p DIR -c DIR/nginx.conf`); the system service is neither enabled nor started here.
set -euo pipefail

if [ -x /usr/sbin/nginx ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# policy-rc.d answering 101 keeps the package from starting the system nginx on port 80.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=""
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod +x "$POLICY"
  CREATED_POLICY=1
fi
trap '[ -n "$CREATED_POLICY" ] && $SUDO rm -f "$POLICY"' EXIT
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends nginx
