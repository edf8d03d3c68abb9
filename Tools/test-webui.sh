#!/usr/bin/env bash
# Web UI tests in a real browser: headless Chromium driven by Selenium against a real runner on SmolLM2.
#   - installs Debian's chromium and chromium-driver when missing (as root, or through sudo);
#   - installs the pinned packages (Tools/requirements-test.txt) into .venv;
#   - fetches SmolLM2 (Tools/fetch-smollm2.sh) and uses $SWIFTFILE_BIN or builds the release runner;
#   - runs pytest on Tests/webui (extra arguments go to pytest).
# Screenshots land in .cache/screenshots/ (git-ignored); chat.png shows a real streamed answer.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then sudo=(); elif command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
        echo "test-webui: chromium and chromium-driver are missing and I cannot install them (not root, no sudo)" >&2
        exit 1
    fi
    packages=(chromium chromium-driver)
    # Try the package lists already on the machine first; fetch them only if that fails (fresh container).
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1; then
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
    fi
fi

bash Tools/setup-venv.sh >/dev/null  # pinned packages: Tools/requirements-test.txt
bash Tools/fetch-smollm2.sh >/dev/null
if [ -z "${SWIFTFILE_BIN:-}" ]; then
    swift build -c release --product swiftfile >/dev/null
    export SWIFTFILE_BIN="$root/.build/release/swiftfile"
fi
export CHROMIUM_BIN="${CHROMIUM_BIN:-$(command -v chromium)}"
export CHROMEDRIVER_BIN="${CHROMEDRIVER_BIN:-$(command -v chromedriver)}"
mkdir -p .cache/screenshots
exec .venv/bin/python -m pytest -q Tests/webui "$@"
