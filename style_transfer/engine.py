"""The command line's one way into the engine: TensorFlow started quietly and deterministically,
then going_further.stylize for every run (fresh, resumed, in a batch or a sweep).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from style_transfer import checkpoints
from style_transfer.progress import Recorder
from tensorflow_vgg.quiet import quiet_start, set_engine_environment, withdraw_frozen_weights

if TYPE_CHECKING:
    from style_transfer.preflight import Images
    from style_transfer.request import Request


def start(seed: int, threads: int | None = None, request: Request | None = None):
    """Start TensorFlow quietly, deterministic and seeded (a seed repeats a run).

    `threads` caps TensorFlow's thread pools (a Ray worker's CPUs); it must come before
    TensorFlow's first operation in the process, and a later start keeps the first's pools.
    With the `request` the process runs, the weights are told frozen unless it could tile
    (`freeze_weights_unless_tiled`). Returns tensorflow_vgg's `network`, which builds the
    network once per weights file.
    """
    if request is not None:
        freeze_weights_unless_tiled(request)
    with quiet_start():
        import tensorflow as tf

        from tensorflow_vgg.vgg16_avg_pool import network

    if threads is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already runs: its pools are set for the process
            pass
    tf.config.experimental.enable_op_determinism()
    tf.random.set_seed(seed)
    return network


# Whether this process is the command line's own (`python -m style_transfer`), where nothing
# but the network runs; not where Python code calls cli.main (a notebook, the tests).
OWN_PROCESS = False


def claim_process() -> None:
    """Mark this process as the command line's own (OWN_PROCESS): called by its __main__."""
    global OWN_PROCESS
    OWN_PROCESS = True


def freeze_weights_unless_tiled(request: Request) -> None:
    """In the command line's own process, tell oneDNN that the weights are frozen
    (quiet.FROZEN_WEIGHTS), so that each convolution reorders its kernel once, unless a picture
    of the request's size could be evaluated in tiles; there each tile's functions would keep
    their own reordered kernels, 15% more peak memory at 2048 px, and a default inherited from
    a parent process is taken back. TensorFlow reads it at its first oneDNN convolution: call
    this before. The test is `tile_geometry.plan_tiles` on a square of each scale's side (the
    most pixels a side allows) with a square style `--style-scale` times as large."""
    from going_further import tile_geometry

    if not OWN_PROCESS:
        return
    settings = request.settings()
    style_scale = max(1.0, request.style_scale or 1.0)
    for side, iterations in zip(request.sizes, request.counts):
        style_side = round(side * style_scale)
        square = settings.replace(iterations=iterations)
        if tile_geometry.plan_tiles(side, side, square, (style_side, style_side)) is not None:
            withdraw_frozen_weights()
            return
    set_engine_environment()


def paint(
    request: Request,
    images: Images,
    recorder: Recorder,
    checkpoint: checkpoints.Checkpoint | None = None,
):
    """Run one style transfer as the request says, or go on from a checkpoint; return its RunResult.

    start(request.seed) must have loaded the engine.
    """
    import tf_run
    from going_further.spatial_control import StyleMasks
    from going_further.stylize import stylize
    from tensorflow_vgg.vgg16_avg_pool import network

    masks = None
    if images.masks is not None:
        masks = StyleMasks(tuple(images.masks), images.image_masks and tuple(images.image_masks))
    resume = {}
    if checkpoint is not None:
        resume = {"initial": checkpoint.image, "iterations_done": checkpoint.iteration}
    try:
        return stylize(
            images.content,
            images.style,
            request.settings(),
            sizes=request.scales,
            iterations=request.counts if request.scales else None,
            masks=masks,
            net=network(request.weights, request.convolution),
            callback=recorder,
            frame_every=recorder.frame_every,
            **resume,
        )
    except tf_run.Interrupted as stop:  # Ctrl-C: the best image so far is saved all the same
        return stop.result
