#!/usr/bin/env bash
# The main job: set up, then execute Style_Transfer.ipynb headless with papermill at its full
# settings, cell by cell with a progress bar. The executed notebook is saved in place (papermill
# records each cell's time in its metadata) and its pictures go to image_resources/outputs/,
# which git ignores. A full run in place also refreshes, on purpose, the pictures the README
# shows in image_resources/examples/. Override parameters as papermill takes them,
# e.g. ./run.sh -p SIZE 96 (-y 'RATIOS: [0.1, 0.01]' for lists); -o OUT.ipynb writes the
# executed notebook there instead (and leaves image_resources/examples/ alone).
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
.venv/bin/papermill Style_Transfer.ipynb "$output" --kernel python3 --cwd . ${arguments[@]+"${arguments[@]}"}
if [ "$output" = Style_Transfer.ipynb ]; then
  # The committed form keeps progress bars as text, no widget state (opening it in JupyterLab
  # must not mark it modified; see the script).
  .venv/bin/python scripts/static_widget_outputs.py Style_Transfer.ipynb
fi
if [ "$output" = Style_Transfer.ipynb ] && [ ${#arguments[@]} -eq 0 ]; then
  mkdir -p image_resources/examples
  for name in final_results.jpg going_further_colors.jpg grace_hopper_hokusai_great_wave.jpg \
    figure1_content_reconstructions.jpg figure1_style_reconstructions.jpg style_transfer.gif; do
    cp "image_resources/outputs/$name" image_resources/examples/
  done
  echo "refreshed the README's pictures in image_resources/examples/"
fi
