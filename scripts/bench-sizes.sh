#!/usr/bin/env bash
# Times the fast size path: one endpoint changed on a 100- and a 10,000-endpoint object.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench sizes
