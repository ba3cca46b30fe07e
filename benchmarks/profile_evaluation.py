"""Where one loss-and-gradient evaluation spends its time: TensorFlow's profiler, summed by op.

Profiles one evaluation (after warm-up; float32 unless `--precision bfloat16`) of the default
loss on Grace Hopper x the Great Wave with the network's direct convolutions and with
Winograd's, and prints the operations that took the most time (summed over the threads that
ran them, so the total exceeds the wall time on several cores). Run from the repository root:
`.venv/bin/python benchmarks/profile_evaluation.py --size 512`.
"""

from __future__ import annotations

import argparse
import collections
import glob
import tempfile

import benchmark  # first: sets TensorFlow's start-up environment, puts the repo on sys.path
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

import helper
import tf_helper
from optimisation.settings import Settings
from tensorflow_vgg.vgg16_avg_pool import CONVOLUTIONS, Vgg16

ROOT = benchmark.ROOT
CONTAINERS = {"PartitionedCall", "StatefulPartitionedCall"}
XLA_RUN = "CpuExecutable::ExecuteAsyncOnStream"  # one run of an XLA-compiled function


def op_seconds(logdir: str) -> collections.Counter:
    """Return seconds per op type (TensorFlow ops and XLA clusters) from a profiler trace."""
    totals: collections.Counter = collections.Counter()
    for path in glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as file:
            space.ParseFromString(file.read())
        for plane in space.planes:
            if not plane.name.startswith("/host:CPU"):
                continue
            names = {key: meta.name for key, meta in plane.event_metadata.items()}
            for line in plane.lines:
                for event in line.events:
                    name = names.get(event.metadata_id, "")
                    if name == XLA_RUN:
                        totals["XLA-compiled clusters"] += event.duration_ps * 1e-12
                    if name.count(":") != 1 or ": " in name:  # TF ops: "node name:OpType"
                        continue  # (XLA's own kernels inside XLA_RUN: "node: fusion")
                    node, op = name.split(":")
                    if op.startswith("__inference") or op in CONTAINERS:
                        continue  # calls: their time is that of the ops inside
                    if "_transform/" in node:  # winograd.py's name scopes
                        op = f"{op} (Winograd's transforms)"
                    totals[op] += event.duration_ps * 1e-12
    return totals


def profile(convolution: str, size: int, top: int, precision: str, border: str) -> None:
    """Print the `top` ops of one evaluation at size x size px in `precision`."""
    content = helper.resize(
        helper.load_image(ROOT / "image_resources/content/grace_hopper.jpg"), size, size
    )
    style = helper.resize(
        helper.load_image(ROOT / "image_resources/style/hokusai_great_wave.jpg"), size, size
    )
    net = Vgg16(convolution=convolution)
    loss = tf_helper.StyleTransferLoss(net, content, style, Settings(border=border), precision)
    loss.terms_and_gradient(content)
    loss.terms_and_gradient(content)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        loss.terms_and_gradient(content)
        tf.profiler.experimental.stop()
        totals = op_seconds(logdir)
    every = sum(totals.values())
    print(f"{convolution}, {size} px {precision}, {border} border: {every:.2f} s of op time in all")
    for op, seconds in totals.most_common(top):
        print(f"  {op:<28} {seconds:7.3f} s  {100 * seconds / every:5.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--convolutions", nargs="+", default=list(CONVOLUTIONS))
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--border", default="mirror", choices=["mirror", "zero"])
    args = parser.parse_args()
    for convolution in args.convolutions:
        profile(convolution, args.size, args.top, args.precision, args.border)


if __name__ == "__main__":
    main()
