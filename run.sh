#!/usr/bin/env bash
# The main job: set up, then execute Style_Transfer.ipynb headless at its full settings. The
# executed notebook is saved in place and its pictures go to image_resources/outputs/.
# Extra arguments go to scripts/run_notebook.py, e.g. ./run.sh -p SIZE 128 -o /tmp/run.ipynb
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/python scripts/run_notebook.py Style_Transfer.ipynb "$@"
