#!/usr/bin/env bash
# System packages the test suite uses for real (libseccomp2 for the sandbox's filter, a browser, Redis,
# PostgreSQL, a Docker engine with compose and debootstrap for tests/test_compose.py). Needs root; a
# machine without them skips those tests with a reason.
set -euo pipefail
packages=(libseccomp2 redis-server postgresql chromium chromium-driver docker.io docker-compose debootstrap)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "not root: cannot install ${missing[*]}; their tests will be skipped" >&2
        exit 0
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
