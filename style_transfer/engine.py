"""The command line's one way into the engine: TensorFlow started quietly and deterministically,
then going_further.stylize for every run (fresh, resumed, in a batch or a sweep).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

from style_transfer import checkpoints
from style_transfer.options import counts, settings_of
from style_transfer.progress import Recorder


def _import_quietly(name: str):
    """Import a module that loads TensorFlow, with TensorFlow's start-up lines kept off stderr.

    TensorFlow prints a few lines at import time whatever TF_CPP_MIN_LOG_LEVEL says; they
    would bury a one-line error. They are replayed if the import itself fails.
    """
    if name in sys.modules:
        return sys.modules[name]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            __import__(name)
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return sys.modules[name]


def start(args: argparse.Namespace):
    """Import the engine and make TensorFlow deterministic and seeded: a seed repeats a run."""
    tf_helper = _import_quietly("tf_helper")
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    tf.random.set_seed(args.seed)
    # A batch or sweep builds one loss per run, so TensorFlow warns of "retracing" after five:
    # expected here, and it would break the one-line messages.
    tf.get_logger().setLevel("ERROR")
    return tf_helper


def paint(
    args: argparse.Namespace,
    content: np.ndarray,
    style,
    recorder: Recorder,
    checkpoint: checkpoints.Checkpoint | None = None,
):
    """Run one style transfer as the arguments say, or go on from a checkpoint; return its RunResult.

    start(args) must have loaded the engine.
    """
    import tf_helper
    from going_further.stylize import stylize

    resume = {}
    if checkpoint is not None:
        resume = {"initial": checkpoint.image, "iterations_done": checkpoint.iteration}
    return stylize(
        content,
        style,
        settings_of(args),
        sizes=args.scales,
        iterations=counts(args) if args.scales else None,
        net=tf_helper.network(args.weights),
        callback=recorder,
        frame_every=recorder.frame_every,
        **resume,
    )
