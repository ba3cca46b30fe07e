#!/usr/bin/env bash
# The main job: set up, then execute Style_Transfer.ipynb headless; pictures go to image_resources/outputs/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/python style_transfer.py image_resources/content/grace_hopper.jpg \
  image_resources/style/hokusai_great_wave.jpg -o image_resources/outputs/grace_hopper_great_wave.jpg \
  --size 512 --gif image_resources/outputs/style_transfer.gif --stats image_resources/outputs/stats.json "$@"
