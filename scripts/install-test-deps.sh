#!/usr/bin/env bash
# Installs the system programs the tests talk to (real peers, not mocks), when they are missing.
# Debian packages only; run as root (or with sudo available).
set -euo pipefail
packages=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || packages+=(mosquitto)
[ -x /usr/bin/chromium ] || packages+=(chromium)
# A real PROXY protocol peer, both ways.
[ -x /usr/sbin/haproxy ] || packages+=(haproxy)
# The container test builds and runs the image with podman (no Docker engine here).
[ -x /usr/bin/podman ] || packages+=(podman)
[ -x /usr/sbin/runc ] || packages+=(runc)
[ -x /bin/busybox ] || packages+=(busybox-static)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
# The tests start their own Mosquitto processes; the packaged service is not needed.
if command -v systemctl >/dev/null 2>&1; then systemctl stop mosquitto haproxy >/dev/null 2>&1 || true; fi
