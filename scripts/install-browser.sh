#!/usr/bin/env bash
# Installs Debian's Chromium for the UI tests, only when it is missing.
# The tests drive /usr/bin/chromium through Playwright; no browser download from elsewhere.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium
