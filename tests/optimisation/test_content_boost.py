"""The content boost: its ramp of alpha's factors, resumed and combined with a precision
schedule, and a run that weighs the content more in its first iterations only."""

from __future__ import annotations

import pytest

import tf_helper
import tf_run
from going_further.stylize import stylize
from loss_settings import SettingsError
from optimisation import content_boost, precisions
from optimisation.settings import Settings
from optimisation.starts import initial_image


def per_iteration(schedule) -> list:
    """Return a schedule [(..., count), ...] as one entry per iteration, without its count."""
    return [step[:-1] for step in schedule for _ in range(step[-1])]


@pytest.mark.parametrize(
    ("iterations", "expected"),
    [
        (300, [(4.0, 20), (2.0, 20), (1.0, 260)]),
        (1000, [(4.0, 20), (2.0, 20), (1.0, 960)]),
        (100, [(4.0, 6), (2.0, 6), (1.0, 88)]),
        (60, [(4.0, 4), (2.0, 4), (1.0, 52)]),
        (59, [(1.0, 59)]),
        (1, [(1.0, 1)]),
    ],
)
def test_the_ramp_is_a_few_iterations_at_four_then_two_then_one(iterations, expected):
    assert content_boost.factors(iterations) == expected


@pytest.mark.parametrize("iterations", [1, 59, 61, 300])
def test_a_resumed_run_goes_on_with_the_whole_runs_ramp(iterations):
    whole = per_iteration(content_boost.factors(iterations))
    for done in range(iterations):
        rest = content_boost.factors(iterations, done)
        assert per_iteration(rest) == whole[done:]
        assert all(count > 0 for _, count in rest)


@pytest.mark.parametrize("done", [0, 5, 150, 210, 299])
def test_combined_schedules_keep_each_ones_value_at_every_iteration(done):
    mixed = precisions.phases("mixed", 300, done)
    boosts = content_boost.factors(300, done)
    combined = content_boost.combined(mixed, boosts)
    assert per_iteration(combined) == [
        (precision, factor)
        for (precision,), (factor,) in zip(per_iteration(mixed), per_iteration(boosts))
    ]
    assert all(count > 0 for *_, count in combined)
    with pytest.raises(ValueError, match="schedules of different lengths"):
        content_boost.combined(mixed, [(1.0, 300 - done + 1)])


class BoostSeen(tf_run.WrappedLoss):
    """A loss that records the content boost of every evaluation with its gradient."""

    def __init__(self, loss):
        super().__init__(loss)
        self.boosts: list[float] = []

    def terms_and_gradient(self, image):
        self.boosts.append(self.content_boost)
        return self.loss.terms_and_gradient(image)


@pytest.fixture
def pair(small_photo, small_painting):
    return small_photo(40, 40), small_painting(40, 56)


def boosts_of_a_run(net, pair, settings, **options) -> tuple[list[float], BoostSeen, object]:
    content, style = pair
    loss = BoostSeen(tf_helper.StyleTransferLoss(net, content, style, settings))
    result = tf_run.run_style_transfer(content, style, settings, net=net, loss=loss, **options)
    return loss.boosts, loss, result


def test_a_run_from_its_own_start_weighs_the_content_four_then_two_times_then_once(net, pair):
    settings = Settings(iterations=60, precision="float32")  # a ramp of 4 + 4 iterations
    boosts, loss, result = boosts_of_a_run(net, pair, settings)
    # Each step is 4 iterations, each at least one evaluation, and re-evaluates its start.
    assert boosts[:5] == [4.0] * 5 and 2.0 in boosts and boosts[-1] == 1.0
    assert boosts == sorted(boosts, reverse=True)
    assert boosts.count(4.0) >= 5 and boosts.count(2.0) >= 5 and boosts.count(1.0) >= 53
    assert loss.content_boost == 1.0  # the loss is left giving equation 7's gradient
    # The picture and its terms are those of equation 7, not of the boosted objective.
    exact = tf_helper.StyleTransferLoss(net, *pair).terms(result.image)
    assert result.terms == pytest.approx(exact, rel=1e-6)
    # The best picture is chosen by equation 7's loss: none in the history is lower.
    assert result.terms["total"] <= min(row["total"] for row in result.history) * (1 + 1e-6)


@pytest.mark.parametrize(
    "why",
    ["a given start", "the setting off", "Adam", "white noise", "the painting", "a short run"],
)
def test_runs_it_cannot_help_are_not_boosted(net, pair, why):
    options = {}
    settings = {
        "a given start": Settings(iterations=60),
        "the setting off": Settings(iterations=60, content_boost=False),
        "Adam": Settings(iterations=60, optimizer="adam", learning_rate=0.05),
        "white noise": Settings(iterations=60, init="noise"),  # no photo's layout to keep
        "the painting": Settings(iterations=60, init="style"),
        "a short run": Settings(iterations=59),
    }[why]
    if why == "a given start":  # a coarser scale's picture, a checkpoint: it has its own layout
        options["initial"] = initial_image("recolored", pair[0], [pair[1]], 0)
    boosts, _, _ = boosts_of_a_run(net, pair, settings, **options)
    assert set(boosts) == {1.0}


def test_a_run_from_the_photo_itself_is_boosted_too(net, pair):
    boosts, _, _ = boosts_of_a_run(net, pair, Settings(iterations=60, init="content"))
    assert boosts[0] == 4.0 and boosts[-1] == 1.0


def test_a_resumed_run_that_began_at_its_own_start_goes_on_with_its_ramp(net, pair):
    settings = Settings(iterations=60, precision="float32")  # a ramp of 4 + 4 iterations
    stopped_at = initial_image("recolored", pair[0], [pair[1]], 0)
    resumed = {"initial": stopped_at, "iterations_done": 2}
    boosts, _, _ = boosts_of_a_run(net, pair, settings, **resumed, resumes_own_start=True)
    # 2 more iterations at 4 (each step re-evaluates its start), 4 at 2, then equation 7's.
    assert boosts[:3] == [4.0] * 3 and boosts.count(4.0) < 5 and boosts.count(2.0) >= 5
    assert boosts == sorted(boosts, reverse=True) and boosts[-1] == 1.0
    boosts, _, _ = boosts_of_a_run(net, pair, settings, **resumed)  # a start it was given
    assert set(boosts) == {1.0}


def test_stylize_says_which_resumed_runs_began_at_their_own_start(net, pair, monkeypatch):
    seen = []
    run = tf_run.run_style_transfer

    def spy(*args, **options):
        seen.append((options.get("iterations_done", 0), options.get("resumes_own_start", False)))
        return run(*args, **options)

    monkeypatch.setattr(tf_run, "run_style_transfer", spy)
    content, style = pair
    stopped_at = initial_image("recolored", content, [style], 0)
    settings = Settings(iterations=4, precision="float32")
    stylize(content, style, settings, net=net, initial=stopped_at, iterations_done=1)
    assert seen == [(1, True)]
    scales = {"sizes": [32, 40], "iterations": [3, 2], "net": net}
    seen.clear()  # resumed in the first scale, which began at its own start; the next did not
    stylize(content, style, settings, **scales, initial=stopped_at[:32, :32], iterations_done=1)
    assert seen == [(1, True), (0, False)]
    seen.clear()  # resumed in the second scale, which began at the first one's picture
    stylize(content, style, settings, **scales, initial=stopped_at, iterations_done=4)
    assert seen == [(1, False)]


def test_ctrl_c_in_the_boosted_iterations_leaves_the_loss_unboosted(net, pair):
    content, style = pair
    loss = tf_helper.StyleTransferLoss(net, content, style)

    def press_ctrl_c(iteration, terms, image):
        assert loss.content_boost == 4.0
        raise KeyboardInterrupt

    with pytest.raises(tf_run.Interrupted):
        tf_run.run_style_transfer(
            content, style, Settings(iterations=300), net=net, loss=loss, callback=press_ctrl_c
        )
    assert loss.content_boost == 1.0


def test_the_setting_and_the_boost_refuse_what_they_cannot_use(net, pair):
    with pytest.raises(SettingsError, match="content_boost is True or False, not 4"):
        Settings(content_boost=4)
    loss = tf_helper.StyleTransferLoss(net, *pair)
    for bad in (0.5, float("nan"), float("inf"), "4"):
        with pytest.raises(SettingsError, match="a number of at least 1"):
            loss.content_boost = bad
    assert loss.content_boost == 1.0
    loss.content_boost = 3
    assert loss.objective({"total": 5.0, "weighted_content": 2.0}) == 9.0  # 5 + (3 - 1) * 2
