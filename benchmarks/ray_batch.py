"""Throughput of a --batch of 8 photos at 256 px in one process, on a local Ray cluster with one
worker of 2 threads, and with 2 workers of 1 thread each; and Ray's overhead per picture.

Each configuration is the command line in a fresh process, timed from its start to its end, so
the times hold TensorFlow's start, Ray's cluster and workers, and the saving. Ray's overhead per
picture is (1 worker of 2 threads - one process) / 8: the same arithmetic on the same threads.
Example: `flock /tmp/heavy.lock .venv/bin/python benchmarks/ray_batch.py` (about 6 min on 2
cores). Writes benchmarks/results/ray_batch.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
CONTENTS = sorted((ROOT / "image_resources" / "content").glob("*.jpg"))
STYLE = ROOT / "image_resources" / "style" / "hokusai_great_wave.jpg"
PHOTOS = 8
CONFIGURATIONS = {  # name: (the command line's options, pictures painted at a time)
    "one process (2 threads)": ([], 1),
    "1 Ray worker of 2 threads": (["--workers", "1"], 1),
    "2 Ray workers of 1 thread": (["--workers", "2"], 2),
}


def make_photos(folder: Path) -> list[Path]:
    """Write PHOTOS different 4:3 photos (crops of the sample photos, of a smaller part each
    time, every other one mirrored); all of one shape, so each process traces the loss once."""
    paths = []
    for k in range(PHOTOS):
        image = Image.open(CONTENTS[k % len(CONTENTS)]).convert("RGB")
        if k % 2:
            image = ImageOps.mirror(image)
        width, height = image.size
        crop_width = min(width, height * 4 // 3) * (12 - k) // 12
        left = (width - crop_width) * (k % 3) // 2
        box = (left, 0, left + crop_width, crop_width * 3 // 4)
        paths.append(folder / f"photo{k}.png")
        image.crop(box).resize((400, 300)).save(paths[-1])
    return paths


def run(photos: list[Path], output: Path, options: list[str], iterations: int) -> dict:
    """Run one configuration; return its wall time and what its manifest says of each picture."""
    stats = output.with_suffix(".json")
    command = [
        sys.executable, "-m", "style_transfer", "--batch", *map(str, photos), "--style",
        str(STYLE), "-o", str(output), "--size", "256", "--iterations", str(iterations),
        "--stats", str(stats), *options,
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    runs = json.loads(stats.read_text())["runs"]
    return {
        "seconds": wall,
        "pictures_per_minute": 60 * len(runs) / wall,
        "painting_seconds": [entry["seconds"] for entry in runs],
        "final_losses": [entry["final"]["total"] for entry in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30, help="per picture")
    args = parser.parse_args()
    results = {"photos": PHOTOS, "size": 256, "iterations": args.iterations, "runs": {}}
    with tempfile.TemporaryDirectory() as folder:
        photos = make_photos(Path(folder))
        for k, (name, (options, at_a_time)) in enumerate(CONFIGURATIONS.items()):
            result = run(photos, Path(folder) / f"out{k}", options, args.iterations)
            painting = result["painting_seconds"]
            # Start-up (TensorFlow, Ray, the workers), saving and idle workers at the end.
            result["seconds_outside_pictures"] = result["seconds"] - sum(painting) / at_a_time
            results["runs"][name] = result
            print(
                f"{name}: {result['seconds']:.1f} s, {result['pictures_per_minute']:.2f} "
                f"pictures/min; a picture {min(painting):.1f}-{max(painting):.1f} s, "
                f"{sum(painting):.1f} s in all; {result['seconds_outside_pictures']:.1f} s "
                "outside the pictures",
                flush=True,
            )
    one, ray_one = (results["runs"][name]["seconds"] for name in list(CONFIGURATIONS)[:2])
    results["ray_overhead_seconds_per_picture"] = (ray_one - one) / PHOTOS
    print(f"Ray's overhead: {(ray_one - one) / PHOTOS:.1f} s a picture (1 worker of 2 threads)")
    out = ROOT / "benchmarks" / "results" / "ray_batch.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
