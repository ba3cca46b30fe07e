"""The settings of a run: the paper's defaults, and the rules every weight, blend and option
obeys."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

import loss_settings
from going_further.settings import StylizeSettings
from loss_settings import LossSettings, SettingsError
from optimisation.settings import Settings
from tensorflow_vgg.layers import LayerError

STYLE_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]


def test_default_layers_and_weights_are_the_papers():
    assert loss_settings.CONTENT_LAYERS == ("conv4_2",)
    assert tuple(loss_settings.STYLE_LAYERS) == tuple(STYLE_LAYERS)
    assert loss_settings.layer_weights(STYLE_LAYERS, None) == [0.2] * 5


@pytest.mark.parametrize(
    "bad", [dict(alpha=-1.0), dict(beta=float("nan")), dict(gamma="a lot")], ids=str
)
def test_negative_or_non_numeric_loss_weights_are_refused(bad):
    with pytest.raises(SettingsError):
        Settings(**bad)


@pytest.mark.parametrize("beta", [-1.0, math.nan, math.inf, "abc"])
def test_python_api_raises_settings_error_for_a_bad_weight(beta):
    with pytest.raises(SettingsError, match="style weight"):
        Settings(beta=beta)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"optimizer": "sgd"}, "unknown optimizer 'sgd'"),
        ({"init": "zeros"}, "unknown init 'zeros'"),
        ({"iterations": 0}, "0 is not an iteration count"),
        ({"learning_rate": 2.0}, "from 0 to 1 here, so each step would cross the whole range"),
    ],
)
def test_python_api_raises_settings_error_for_a_bad_option(options, words):
    with pytest.raises(SettingsError, match=words):
        Settings(**options)


def test_a_layer_named_twice_is_refused_not_merged():
    from tensorflow_vgg.layers import LayerError

    with pytest.raises(LayerError, match="conv1_1 is named twice; give each layer once"):
        Settings(style_layers=["conv1_1", "conv5_1", "conv1_1"])


def test_blend_shares_normalise_and_reject_bad_blends():
    assert loss_settings.blend_shares(4, None) == [0.25] * 4
    np.testing.assert_allclose(loss_settings.blend_shares(2, [3, 1]), [0.75, 0.25])
    refusals = [
        ([1.0], "1 weight(s) for 2 style image(s); give one weight per style image"),
        ([0, 0], "weighs every style image zero; give at least one weight above zero"),
        (
            [1, -1],
            "-1 cannot be used; give a blend weight as a finite number zero or more, e.g. 0.7",
        ),
    ]
    for blend, message in refusals:
        with pytest.raises(SettingsError, match=re.escape(message)):
            loss_settings.blend_shares(2, blend)


def test_settings_hold_the_documented_defaults_and_are_checked_when_changed():
    defaults = Settings()
    assert (defaults.iterations, defaults.optimizer, defaults.init, defaults.seed) == (
        300, "lbfgs", "recolored", 0,
    )  # fmt: skip
    assert (defaults.alpha, defaults.beta, defaults.gamma) == (1.0, 1e3, 1e-3)
    assert (defaults.content_layers, defaults.style_layers) == (("conv4_2",), tuple(STYLE_LAYERS))
    assert (defaults.precision, defaults.jit_compile) == ("auto", False)
    features = StylizeSettings()
    assert (features.style_scale, features.preserve_colors, features.tile) == (1.0, None, None)
    assert features.memory_budget == 4.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        defaults.beta = 1.0
    assert defaults.replace(beta=5.0).beta == 5.0 and defaults.beta == 1e3
    with pytest.raises(SettingsError, match="style weight"):
        defaults.replace(beta=-5.0)
    with pytest.raises(LayerError, match="unknown layer 'conv9_9'"):
        Settings(style_layers=["conv1_1", "conv9_9"])


def test_each_kind_of_settings_adds_its_own_and_hands_on_only_what_the_next_reads():
    loss_fields = {f.name for f in dataclasses.fields(LossSettings)}
    run_fields = {f.name for f in dataclasses.fields(Settings)}
    all_fields = {f.name for f in dataclasses.fields(StylizeSettings)}
    assert {"alpha", "beta", "gamma", "style_layers", "layer_weights"} <= loss_fields
    assert run_fields - loss_fields == {
        "iterations", "optimizer", "init", "seed", "learning_rate", "lbfgs_memory", "precision",
        "content_boost", "preconditioner",
    }  # fmt: skip
    assert all_fields - run_fields == {"style_scale", "preserve_colors", "tile", "memory_budget"}
    features = StylizeSettings(beta=5.0, iterations=7, tile=64, preserve_colors="luminance")
    assert features.beyond(Settings) == ["preserve_colors", "tile"]
    assert features.replace(tile=None, preserve_colors=None).beyond(Settings) == []
    one_run = features.for_one_run()
    assert type(one_run) is Settings and (one_run.beta, one_run.iterations) == (5.0, 7)
    taken = StylizeSettings.of(Settings(beta=5.0, iterations=7))  # a run's own: features off
    assert taken == StylizeSettings(beta=5.0, iterations=7) and taken.beyond(Settings) == []
    with pytest.raises(TypeError, match="tile"):
        Settings(tile=64)  # a run's settings have no tiles: no setting that is then ignored
