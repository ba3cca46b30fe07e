#!/usr/bin/env bash
# Create (or reuse) .venv, install requirements.txt, make tensorflow_vgg/vgg16.npy, and have
# JupyterLab keep the notebook's widgets (its progress bars) when the notebook is saved.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10 or newer is needed"'
  "$PYTHON" -m venv .venv
fi
# Reinstall only when requirements.txt changed since the last successful install.
stamp=.venv/.requirements.sha256
wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
  echo "$wanted" > "$stamp"
fi
# With saveState on, every widget JupyterLab rebuilds from a notebook's saved state marks it
# modified on opening, so the committed notebook keeps none (scripts/static_widget_outputs.py).
settings=.venv/share/jupyter/lab/settings
mkdir -p "$settings"
echo '{"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": true}}' > "$settings/overrides.json"
.venv/bin/python -m tensorflow_vgg.weights
