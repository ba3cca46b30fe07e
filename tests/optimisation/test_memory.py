"""The peak-memory estimate against a measured run, and the command line's refusal to overrun."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

import helper
import machine
from benchmarks.peak_memory import measure_peak_rss
from going_further import tile_geometry
from going_further.settings import StylizeSettings
from optimisation import memory
from style_transfer import cli, preflight
from style_transfer.reading import parse_arguments
from style_transfer.request import Request
from tensorflow_vgg.layers import halo, layer_sizes

GIB = 2**30


def test_estimate_is_within_a_quarter_of_every_recorded_measurement():
    for size, iterations, measured_mib in memory.MEASURED:
        estimate_mib = memory.estimate_peak_bytes(size, size, iterations=iterations) / 2**20
        assert estimate_mib == pytest.approx(measured_mib, rel=0.25), (size, iterations)


@pytest.mark.slow
def test_estimate_is_within_a_quarter_of_a_measured_run(
    repo_root, content_path, style_path, tmp_path
):
    size, iterations = 256, 2
    arguments = [str(content_path), str(style_path), "-o", str(tmp_path / "out.png")]
    measured_mib = measure_peak_rss(
        [*arguments, "--size", str(size), "--iterations", str(iterations)], cwd=repo_root
    )
    with Image.open(content_path) as image:  # the estimate takes the real shape at --size
        width, height = image.size
    scale = size / max(width, height)
    shape = (round(height * scale), round(width * scale))
    estimate_mib = memory.estimate_peak_bytes(*shape, style_shape=shape, iterations=iterations)
    estimate_mib /= 2**20
    print(f"{size} px, {iterations} iterations: measured {measured_mib:.0f} MiB, "
          f"estimated {estimate_mib:.0f} MiB")  # fmt: skip
    assert estimate_mib == pytest.approx(measured_mib, rel=0.25)


def test_activations_are_counted_from_the_layer_shapes():
    # conv1_1 and conv1_2 at full size with 64 channels, then pool1 at half size.
    expected = 4 * (2 * 64 * 64 * 64 + 32 * 32 * 64)
    assert memory.activation_bytes(64, 64, ["pool1"]) == expected
    # A deeper layer costs more, and SAME pooling rounds odd sides up.
    assert memory.activation_bytes(64, 64, ["conv5_1"]) > memory.activation_bytes(64, 64, ["pool1"])
    assert layer_sizes(33, 17, "pool1")[-1][1:3] == (17, 9)


def test_lbfgs_memory_grows_with_the_corrections_it_keeps():
    pixels = 100 * 100
    assert memory.lbfgs_bytes(pixels, 3) < memory.lbfgs_bytes(pixels, 60)
    assert memory.lbfgs_bytes(pixels, 60) == memory.lbfgs_bytes(pixels, 500)  # 50 kept at most
    lbfgs = memory.estimate_peak_bytes(512, 512, optimizer="lbfgs")
    adam = memory.estimate_peak_bytes(512, 512, optimizer="adam")
    assert lbfgs - adam == memory.lbfgs_bytes(512 * 512, 300)


def test_lbfgs_keeps_fewer_pairs_on_large_images_so_1024_px_fits_in_4_gib():
    from optimisation import lbfgs

    assert lbfgs.pairs_for(3 * 256 * 256) == 50
    assert lbfgs.pairs_for(3 * 1024 * 1024) == 10  # 10 pairs of 12 MiB vectors: 240 MiB
    assert 2 * 4 * 3 * 1024 * 1024 * lbfgs.pairs_for(3 * 1024 * 1024) <= lbfgs.PAIRS_BUDGET_BYTES
    full_run = memory.estimate_peak_bytes(1024, 1024, style_shape=(1024, 1024), iterations=300)
    assert full_run < 4 * GIB


def test_largest_fitting_size_is_the_boundary():
    budget = 4 * GIB
    largest = memory.largest_fitting_size(600, 800, budget)
    assert largest is not None

    def estimate(size):
        h, w = round(600 * size / 800), size
        return memory.estimate_peak_bytes(h, w, style_shape=(h, w))

    assert estimate(largest) <= budget < estimate(largest + 1)
    assert memory.largest_fitting_size(600, 800, memory.BASE_BYTES // 2) is None


def test_available_memory_is_read_from_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24684096 kB\nMemAvailable:    1048576 kB\n")
    assert machine.available_bytes(meminfo) == GIB
    assert machine.available_bytes(tmp_path / "nothing") is None


@pytest.fixture
def small_images(tmp_path):
    pixels = np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "content.png")
    Image.fromarray(pixels[::-1]).save(tmp_path / "style.png")
    return tmp_path / "content.png", tmp_path / "style.png"


def test_command_line_refuses_a_run_that_does_not_fit(tmp_path, small_images, monkeypatch, capsys):
    monkeypatch.setattr(machine, "available_bytes", lambda: 3 * GIB)
    monkeypatch.delenv(memory.MEMORY_CHECK_ENV_VAR, raising=False)
    output = tmp_path / "out.png"
    code = cli.main(
        [str(small_images[0]), str(small_images[1]), "-o", str(output), "--size", "4000",
         "--iterations", "300"]
    )  # fmt: skip
    error = capsys.readouterr().err.strip()
    assert code == 2 and not output.exists()
    assert len(error.splitlines()) == 1 and error.startswith("error: a run at --size 4000")
    # Even in the smallest tiles, 4000x3000 px does not fit in 3 GiB: the fix is the largest
    # size that does.
    largest = memory.largest_fitting_size(3000, 4000, 3 * GIB, True, iterations=300)
    core = tile_geometry.plan_tiles(3000, 4000, StylizeSettings())
    assert core == 2 * halo(memory.DEFAULT_LAYERS)
    estimate = memory.tiled_peak_bytes(3000, 4000, core, iterations=300)
    assert estimate > 3 * GIB
    assert f"needs about {machine.format_bytes(estimate)}" in error
    assert "3.0 GiB is available" in error
    assert f"use --size {largest} or less" in error and "--no-memory-check" in error
    h, w = helper.size_for_longest_side(3000, 4000, largest)
    assert memory.estimate_peak_bytes(h, w, style_shape=(h, w), iterations=300) > 3 * GIB
    assert memory.tiled_peak_bytes(h, w, core, iterations=300) <= 3 * GIB


def test_a_picture_too_large_for_the_budget_is_planned_in_tiles_not_refused(monkeypatch):
    monkeypatch.setattr(machine, "available_bytes", lambda: 24 * GIB)
    image = np.zeros((2731, 4096, 3), np.float32)
    layers = list(memory.DEFAULT_LAYERS)
    whole = memory.estimate_peak_bytes(2731, 4096, style_shape=(2731, 4096), iterations=6)
    assert whole > 24 * GIB  # refused before tiles
    estimate = preflight.check_memory(args_for(4096), image, image, layers, 6)
    assert estimate <= 6 * GIB
    args = args_for(4096, scales=[512, 1024, 2048, 4096], iterations=[200, 71, 18, 6])
    note = preflight.tiling_note(image, image, args)
    core = memory.tile_core()
    grids = [tile_geometry.tile_grid(h, w, core) for h, w in ((1365, 2048), (2731, 4096))]
    counts = [len(rows) * len(columns) for rows, columns in grids]
    assert note.startswith(
        f", evaluated at 2048 and 4096 px in {counts[0]} and {counts[1]} tiles ("
    )
    assert "over the budget of 4.0 GiB" in note


def test_tiles_are_planned_by_the_budget_or_forced_and_aligned_to_the_pooling_grid(monkeypatch):
    monkeypatch.setattr(machine, "available_bytes", lambda: 24 * GIB)
    settings = StylizeSettings()
    assert tile_geometry.plan_tiles(683, 1024, settings) is None  # about 3 GiB: whole
    assert tile_geometry.plan_tiles(1365, 2048, settings) == memory.tile_core()
    assert tile_geometry.plan_tiles(1365, 2048, settings.replace(memory_budget=20.0)) is None
    assert (
        tile_geometry.plan_tiles(64, 64, settings.replace(tile=40)) == 32
    )  # on conv5_1's 16 px grid
    assert (
        tile_geometry.plan_tiles(1365, 2048, settings.replace(optimizer="adam"))
        == memory.tile_core()
    )
    monkeypatch.setattr(machine, "available_bytes", lambda: 2 * GIB)  # less free than the budget
    core = tile_geometry.plan_tiles(683, 1024, settings)  # smaller tiles, to fit in what is free
    assert core < memory.tile_core() and core % 16 == 0
    assert memory.tiled_peak_bytes(683, 1024, core, iterations=300) <= 2 * GIB
    assert memory.tiled_peak_bytes(683, 1024, core + 16, iterations=300) > 2 * GIB
    core = memory.tile_core()
    window = core + 2 * halo(memory.DEFAULT_LAYERS)
    assert core % 16 == 0
    assert memory.ACTIVATION_FACTOR * memory.activation_bytes(window, window) <= memory.TILE_BYTES
    larger = window + 16
    assert memory.ACTIVATION_FACTOR * memory.activation_bytes(larger, larger) > memory.TILE_BYTES


def args_for(size: int, **options) -> Request:
    """The request of a run at --size `size`, 300 iterations, with `options` set."""
    argv = ["content.png", "style.png", "-o", "out.png", "--size", str(size), "--iterations", "300"]
    request, _ = parse_arguments(argv)
    return dataclasses.replace(request, **options)


def test_the_check_can_be_switched_off(monkeypatch):
    monkeypatch.setattr(machine, "available_bytes", lambda: GIB)
    image = np.zeros((2000, 2000, 3), np.float32)
    layers = list(memory.DEFAULT_LAYERS)
    with pytest.raises(memory.InsufficientMemoryError, match="use --size"):
        preflight.check_memory(args_for(2000), image, image, layers, 300)
    estimate = preflight.check_memory(
        args_for(2000, no_memory_check=True), image, image, layers, 300
    )
    assert estimate > GIB
    monkeypatch.setenv(memory.MEMORY_CHECK_ENV_VAR, "1")
    assert preflight.check_memory(args_for(2000), image, image, layers, 300) == estimate


def test_a_large_style_scale_is_gathered_in_tiles_with_either_optimiser(monkeypatch):
    content, style = np.zeros((500, 500, 3), np.float32), np.zeros((2000, 2000, 3), np.float32)
    layers = list(memory.DEFAULT_LAYERS)
    plain = memory.estimate_peak_bytes(500, 500, style_shape=(500, 500), iterations=300)
    scaled = memory.estimate_peak_bytes(500, 500, style_shape=(2000, 2000), iterations=300)
    assert plain < scaled
    monkeypatch.setattr(machine, "available_bytes", lambda: (plain + scaled) // 2)
    for optimizer in ("lbfgs", "adam"):
        args = args_for(500, style_scale=4.0, optimizer=optimizer)
        estimate = preflight.check_memory(args, content, style, layers, 300)
        assert estimate < (plain + scaled) // 2, optimizer


@pytest.mark.parametrize(("height", "width"), [(681, 1024), (1365, 2048), (2724, 4096), (200, 133)])
def test_the_tile_grid_covers_the_picture_within_the_window_budget_with_less_halo(height, width):
    core, margin = 624, halo(memory.DEFAULT_LAYERS)
    rows, columns = tile_geometry.tile_grid(height, width, core)
    exact_rows, exact_columns = tile_geometry.tile_grid(height, width, core, exact=True)
    for spans, length in ((rows, height), (columns, width)):
        assert spans[0][0] == 0 and spans[-1][1] == length
        assert all(a[1] == b[0] and a[0] % 16 == 0 for a, b in zip(spans, spans[1:]))

    def windows(spans, length):
        return [min(length, end + margin) - max(0, start - margin) for start, end in spans]

    heights, widths = windows(rows, height), windows(columns, width)
    assert max(heights) * max(widths) <= (core + 2 * margin) ** 2
    area = sum(heights) * sum(widths)
    assert area <= sum(windows(exact_rows, height)) * sum(windows(exact_columns, width))
    assert all(start % core == 0 for start, _ in exact_rows + exact_columns)
    if (height, width) == (681, 1024):  # a wide picture: one row of two wide tiles
        assert (len(rows), len(columns)) == (1, 2) and area == 681 * (1024 + 2 * margin)
