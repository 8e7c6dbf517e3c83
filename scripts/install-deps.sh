#!/usr/bin/env bash
# Installs the Debian packages Vigil's demo, tests and benchmarks need. Idempotent:
# does nothing when everything is already present.
set -euo pipefail
PKGS=(
  ffmpeg                      # ffmpeg/ffprobe: check what we write; the benchmark's baseline
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-x gir1.2-gst-rtsp-server-1.0 gir1.2-gstreamer-1.0 python3-gi  # GStreamer's RTSP server as a real camera
  nasm                        # openh264's assembly (+20% encode/decode speed)
  openssl coreutils util-linux e2fsprogs procps
  chromium chromium-driver    # the browser tests (Debian's Chromium, headless)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
