#!/usr/bin/env bash
# Installs the Debian tools the tests use besides the browser, only when they are missing:
# apache2-utils for `htpasswd` (the htpasswd import is tested on files it writes).
set -euo pipefail

if command -v htpasswd >/dev/null 2>&1; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y apache2-utils
