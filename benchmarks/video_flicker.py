"""Flicker of a styled clip with the temporal loss of Ruder et al. (2016) and without it.

The clip is made here from a sample photo by a camera panning right and zooming in
(video_files.camera_move), so nothing is downloaded. It is styled twice with the same iterations
(--first-frame-iterations for the first frame, --iterations for each other): with each
--temporal-weights, each frame starting from the previous styled frame warped by the flow
(going_further/video.py), and with weight 0, each frame on its own. Flicker of frame i is
mean |styled_i - warp(styled_{i-1})| in 0..255 over the pixels the flow trusts (c = 1), the
flow computed once on the photo's frames; the script prints the mean over the clip, the ratio
to independent frames (the aim: 0.4 or less) and the seconds per frame, and writes both clips
side by side to --out.

Example: `.venv/bin/python benchmarks/video_flicker.py --size 128 --frames 8`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tensorflow_vgg.quiet import set_engine_environment  # noqa: E402

set_engine_environment()  # as the command line starts TensorFlow

import helper  # noqa: E402
import sheets  # noqa: E402
from going_further.optical_flow import frame_flows  # noqa: E402
from going_further.settings import StylizeSettings  # noqa: E402
from going_further.video import VideoStylizer, flicker  # noqa: E402
from style_transfer import video_files  # noqa: E402
from tensorflow_vgg.vgg16_avg_pool import network  # noqa: E402

SAMPLES = ROOT / "image_resources"
CONTENT = SAMPLES / "content/chelsea.jpg"
STYLE = SAMPLES / "style/hokusai_great_wave.jpg"


def style_clip(frames, style, settings, weight: float, first: int) -> tuple[list, float]:
    """Return the styled frames (uint8-rounded, as the command line saves them) and the
    seconds per frame after the first."""
    stylizer = VideoStylizer(network(), [style], settings, weight, first)
    styled, previous, seconds = [], None, []
    for index, frame in enumerate(frames):
        started = time.perf_counter()
        result = stylizer.stylize(index, frame, previous).result
        seconds.append(time.perf_counter() - started)
        image = helper.to_uint8(result.image).astype(np.float32) / 255.0
        styled.append(image)
        previous = (frame, image)
        print(f"  weight {weight:g}, frame {index + 1}: {seconds[-1]:.1f} s", flush=True)
    return styled, float(np.mean(seconds[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128, help="longest side in px")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=40, help="per frame after the first")
    parser.add_argument("--first-frame-iterations", type=int, default=80)
    parser.add_argument("--temporal-weights", default="1e7", help="comma-separated")
    parser.add_argument("--pan", type=float, default=0.03, help="share of the view per frame")
    parser.add_argument("--zoom", type=float, default=0.01, help="closer per frame")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/video_flicker.mp4"))
    args = parser.parse_args()

    photo = helper.load_image(CONTENT)
    height, width = helper.size_for_longest_side(*photo.shape[:2], args.size)
    height, width = height - height % 2, width - width % 2
    frames = video_files.camera_move(photo, args.frames, height, width, args.pan, args.zoom)
    flows = [frame_flows(frames[i - 1], frames[i]) for i in range(1, len(frames))]
    trusted = np.mean([c.mean() for _, c in flows])
    print(f"{len(frames)} frames of {width}x{height} px; the flow trusts {trusted:.0%} of pixels")
    style = helper.load_image(STYLE)
    settings = StylizeSettings(iterations=args.iterations, precision=args.precision)
    first = args.first_frame_iterations

    independent, seconds = style_clip(frames, style, settings, 0.0, first)
    alone = flicker(independent, frames)
    print(f"independent frames: flicker {alone:.2f} (0..255), {seconds:.2f} s per frame")
    for weight in [float(w) for w in args.temporal_weights.split(",")]:
        temporal, seconds = style_clip(frames, style, settings, weight, first)
        held = flicker(temporal, frames)
        print(
            f"temporal weight {weight:g}: flicker {held:.2f} (0..255), ratio {held / alone:.3f} "
            f"(aim: 0.4 or less), {seconds:.2f} s per frame"
        )
    pairs = [np.concatenate([a, b], axis=1) for a, b in zip(independent, temporal)]
    sheets.save_animation(pairs, args.out, frame_ms=250, final_ms=250)
    print(f"wrote {args.out}: independent frames left, temporal weight {weight:g} right")


if __name__ == "__main__":
    main()
