"""going_further.video's API for a notebook: stylize_video styles frames in order with one
progress count across them, and flicker measures what the temporal loss removes."""

import numpy as np
import pytest

from going_further.settings import StylizeSettings
from going_further.video import flicker, frame_iterations, stylize_video
from style_transfer import video_files


def test_flicker_is_the_mean_change_along_the_flow_in_levels(small_photo):
    frame = small_photo(48, 64)
    still = [frame, frame]  # no motion: the flow is zero and trusted everywhere
    assert flicker([frame, frame], still) == pytest.approx(0.0, abs=1e-6)
    brighter = np.clip(frame + 0.1, 0, 1)
    expected = 255.0 * float(np.abs(brighter - frame).mean())
    assert flicker([frame, brighter], still) == pytest.approx(expected, rel=1e-3)


def test_stylize_video_styles_each_frame_and_numbers_iterations_across_them(
    net, small_photo, small_painting
):
    frames = video_files.camera_move(small_photo(96, 128), 3, 32, 40, pan=0.05)
    counts = frame_iterations(3, 2)
    assert counts == [4, 2, 2]
    seen = []
    settings = StylizeSettings(iterations=2, seed=1, precision="float32")
    video = stylize_video(
        frames,
        small_painting(32, 32),
        settings,
        temporal_weight=1e7,
        iterations=counts,
        net=net,
        callback=lambda i, terms, image: seen.append(i),
        frame_every=1,
    )
    assert len(video.images) == 3 and video.image is video.images[-1]
    assert all(image.shape == (32, 40, 3) for image in video.images)
    assert seen == list(range(1, 9))
    assert "temporal" in video.runs[1].terms and video.runs[1].terms["temporal"] > 0
    with pytest.raises(ValueError, match="one iteration count per frame"):
        stylize_video(frames, small_painting(32, 32), settings, temporal_weight=0, iterations=[2])
