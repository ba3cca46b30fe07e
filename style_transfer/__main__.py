"""`python -m style_transfer PHOTO PAINTING -o OUT`: see style_transfer/cli.py."""

import sys

try:
    import numpy  # noqa: F401
    import PIL  # noqa: F401
except ModuleNotFoundError as missing:  # a Python outside the project's environment
    print(
        f"error: this Python ({sys.executable}) has no {missing.name}; run the project's own, "
        ".venv/bin/python -m style_transfer ..., after `bash scripts/setup.sh` has made it",
        file=sys.stderr,
    )
    sys.exit(2)

from tensorflow_vgg.quiet import set_environment  # noqa: E402

set_environment()  # before any path of the command line imports TensorFlow

from style_transfer import engine  # noqa: E402

engine.claim_process()  # nothing but the network runs here (engine.freeze_weights_unless_tiled)

from style_transfer.cli import main  # noqa: E402

sys.exit(main())
