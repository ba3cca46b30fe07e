#!/usr/bin/env bash
# The main job: set up, then execute Style_Transfer.ipynb headless with papermill at its full
# settings, cell by cell with a progress bar. The executed notebook is saved in place and its
# pictures go to image_resources/outputs/. Override parameters as papermill takes them,
# e.g. ./run.sh -p SIZE 128 (-y 'RATIOS: [0.1, 0.01]' for lists); -o OUT.ipynb writes the
# executed notebook there instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/setup.sh
output=Style_Transfer.ipynb
arguments=()
while [ $# -gt 0 ]; do
  case "$1" in
    -o | --output) output=$2; shift 2 ;;
    *) arguments+=("$1"); shift ;;
  esac
done
exec .venv/bin/papermill Style_Transfer.ipynb "$output" --kernel python3 --cwd . "${arguments[@]}"
