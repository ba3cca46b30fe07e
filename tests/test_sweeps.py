"""Parameter sweeps: every combination, in order, with clear errors."""

import itertools

import pytest

import sweeps


def test_sweep_gives_the_cartesian_product_in_order():
    actual = sweeps.parse_sweep(["style-weight=1e2,1e3,1e4", "content-layer=conv3_2,conv4_2"])
    expected = [
        {"style-weight": w, "content-layer": layer}
        for w, layer in itertools.product([100.0, 1000.0, 10000.0], ["conv3_2", "conv4_2"])
    ]
    assert actual == expected


def test_label_names_every_swept_value():
    assert (
        sweeps.label({"style-weight": 1000.0, "init": "noise"}) == "style-weight 1000, init noise"
    )


@pytest.mark.parametrize(
    "spec, message",
    [
        ("style-weight", "must look like name=value1,value2"),
        ("colour=red", "cannot sweep 'colour'"),
        ("style-weight=abc", "'abc' is not a number"),
        ("style-weight=-1", "must be a finite number"),
        ("iterations=2.5", "'2.5' is not a whole number"),
    ],
)
def test_bad_sweep_specifications_raise_clear_errors(spec, message):
    with pytest.raises(sweeps.SweepError, match=message):
        sweeps.parse_sweep([spec])


def test_the_same_setting_twice_is_refused():
    with pytest.raises(sweeps.SweepError, match="given twice"):
        sweeps.parse_sweep(["size=64", "size=128"])
