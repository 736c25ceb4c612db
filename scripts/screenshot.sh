#!/bin/sh
# Renders a report.html with headless Chromium (Debian's `chromium` package) into a PNG, for
# the README and for looking at it before a release:
#   scripts/screenshot.sh [REPORT_HTML [OUT_PNG [HEIGHT]]]
# Defaults: results/default/report.html into results/default-report.png, 1200 x 1700 pixels
# (the top of the page: the title, the summary table and the first charts).
set -eu
cd "$(dirname "$0")/.."
report=${1:-results/default/report.html}
out=${2:-results/default-report.png}
height=${3:-1700}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "screenshot.sh: no Chromium found; install Debian's chromium package" >&2
  exit 1
fi
abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
# No network and no profile: the page must render from itself alone.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$(mktemp -d)" --proxy-server=127.0.0.1:9 \
  --window-size=1200,"$height" --screenshot="$(pwd)/$out" "file://$abs" 2>/dev/null
echo "wrote $out"
