#!/usr/bin/env bash
# Debian packages the product and its tests use (fonts for PDFs, Chromium for the browser
# tests). Installed when missing and when run as root; otherwise the tests that need them
# fail and say what is missing.
set -uo pipefail
need=()
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Debian packages: ${need[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
            || echo "could not install ${need[*]}" >&2
    else
        echo "missing Debian packages (install as root): ${need[*]}" >&2
    fi
fi
exit 0
