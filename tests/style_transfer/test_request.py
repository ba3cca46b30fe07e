"""The options table makes the parser and every fact about an option; the Request made from the
parsed command line is typed, frozen, and refuses what the command line refuses."""

import dataclasses

import pytest

from going_further.settings import StylizeSettings
from style_transfer import arguments, repeat, sweep
from style_transfer.errors import GrammarError, UsageError
from style_transfer.reading import parse_arguments
from style_transfer.request import Request

ARGV = ["c.png", "s.png", "-o", "o.png", "--size", "64", "--iterations", "5"]


def request_of(*extra: str) -> Request:
    request, _ = parse_arguments([*ARGV, *extra])
    return request


def test_the_parser_has_one_argument_per_row_of_the_table_in_its_order():
    actions = [action for action in arguments.build_parser()._actions if action.dest != "help"]
    assert [action.dest for action in actions] == [option.name for option in arguments.OPTIONS]
    for action, option in zip(actions, arguments.OPTIONS):
        assert tuple(action.option_strings) == option.flags, option.name
        assert action.help == option.help
        if not option.switch:
            assert (action.type, action.choices, action.nargs) == (
                option.parse,
                option.choices,
                option.nargs,
            )


def test_the_facts_once_in_six_lists_come_from_the_table():
    # The lists as they were written out by hand before the table.
    assert set(arguments.SWEEPABLE) == set(
        "style-weight content-weight tv-weight style-scale iterations size init content-layer "
        "preserve-colors border".split()
    )
    assert arguments.SWEEPABLE["iterations"] is int and arguments.SWEEPABLE["init"] is str
    assert set(arguments.INHERITED) == set(
        "content style styles size scales iterations seed init optimizer learning_rate "
        "content_weight style_weight tv_weight content_layers style_layers style_blend "
        "style_scale preserve_colors weights gif gif_frames stats checkpoint_every "
        "checkpoint_minutes precision tile memory_budget style_layer_weights border "
        "style_masks style_image_masks convolution no_preconditioner".split()
    )  # style_layer_weights, border and the masks came after the lists: they define the loss;
    # convolution too: a resumed run goes on with the same rounding, and no_preconditioner
    # with the same L-BFGS
    assert set(arguments.MUST_MATCH) == set(
        "size scales content_weight style_weight tv_weight content_layers style_layers "
        "style_blend style_scale preserve_colors style_layer_weights border".split()
    )
    assert set(arguments.NOT_REPEATED) == set(
        "repeat resume stats gif checkpoint_every checkpoint_minutes checkpoint_dir "
        "overwrite workers ray_address".split()  # overwrite came after the lists: a repeat
    )  # writes its own -o; a repeat runs in one process, whatever cluster painted the run
    assert repeat.NOT_REPEATED is arguments.NOT_REPEATED
    renamed = {"content_weight": "alpha", "style_weight": "beta", "tv_weight": "gamma"}
    assert {k: v for k, v in arguments.SETTINGS.items() if k != v} == renamed
    settings_fields = {field.name for field in dataclasses.fields(StylizeSettings)}
    assert set(arguments.SETTINGS.values()) <= settings_fields


def test_the_request_has_a_field_for_every_option_but_the_positional_style():
    names = {field.name for field in dataclasses.fields(Request)}
    assert names == {option.name for option in arguments.OPTIONS} - {"style"}
    assert list(request_of().parameters()) == [option.name for option in arguments.OPTIONS]


def test_a_request_is_settled_and_frozen():
    request = request_of("--scales", "32,64", "--precision", "auto")
    assert (request.size, request.scales, request.counts) == (64, [32, 64], [5, 5])
    assert request.styles == ["s.png"] and request.precision in ("float32", "mixed")
    assert request.shapes(30, 40) == [(24, 32), (48, 64)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.size = 128


def test_settings_of_a_request_carry_every_option_the_engine_reads():
    request = request_of(
        "--style-weight", "5", "--content-weight", "2", "--tv-weight", "0", "--seed", "7",
        "--content-layers", "conv3_2", "--optimizer", "adam", "--learning-rate", "0.5",
    )  # fmt: skip
    settings = request.settings()
    assert (settings.alpha, settings.beta, settings.gamma) == (2.0, 5.0, 0.0)
    assert (settings.seed, settings.optimizer, settings.learning_rate) == (7, "adam", 0.5)
    assert tuple(settings.content_layers) == ("conv3_2",) and settings.iterations == 5
    assert settings.preserve_colors is None
    assert request_of("--preserve-colors", "histogram").settings().preserve_colors == "histogram"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scales": [24, 32]}, "--size 64 differs from the last of --scales 24,32"),
        ({"iterations": [1, 2]}, "--iterations 1,2 gives 2 counts for 1 scale"),
        ({"style_blend": [1.0, 2.0]}, "--style-blend 1,2: "),
        ({"sweep": ["size=64"], "batch": ["a.png"], "content": None}, "--batch and --sweep"),
        ({"sweep": ["size=64"], "gif": "run.gif"}, "--gif follows a single run"),
        ({"sweep": ["colour=red"]}, "--sweep: cannot sweep 'colour'"),
        ({"batch": ["a.png"]}, "drop the positional image c.png"),
        (
            {"checkpoint_every": 2, "preserve_colors": "luminance"},
            "cannot be used with --preserve-colors luminance",
        ),
    ],
)
def test_a_request_refuses_options_that_do_not_fit_together(changes, message):
    with pytest.raises(UsageError, match=message.replace("+", r"\+")):
        dataclasses.replace(request_of(), **changes)


def test_a_request_without_images_is_a_grammar_error_told_with_the_help():
    with pytest.raises(GrammarError, match="give the CONTENT and STYLE images"):
        dataclasses.replace(request_of(), content=None)
    with pytest.raises(SystemExit) as stopped:
        parse_arguments(["c.png", "-o", "o.png"])
    assert stopped.value.code == 2


def test_a_sweep_value_is_read_as_its_flag_reads_it():
    request = request_of("--sweep", "content-layer=conv3_2", "size=48")
    [(combination, one)] = sweep.sweep_runs(request)
    assert combination == {"content-layer": "conv3_2", "size": 48}
    assert (one.content_layers, one.size, request.size) == (["conv3_2"], 48, 64)
    with pytest.raises(UsageError, match="--sweep init: 'paint' is not one of"):
        sweep.sweep_request(request, {"init": "paint"})


def test_a_run_reads_each_image_header_once(small_files, tmp_path, monkeypatch):
    import helper
    from style_transfer import preflight

    paths = [str(small_files[name]) for name in ("content", "style", "other")]
    request, _ = parse_arguments(
        [paths[0], "--style", *paths[1:], "-o", str(tmp_path / "o.png"), "--scales", "24,32"]
    )
    read, image_size = [], helper.image_size
    monkeypatch.setattr(helper, "image_size", lambda path: read.append(path) or image_size(path))
    headers = preflight.read_headers([request.content, *request.styles])  # as cli.run_single
    images, _ = preflight.prepare(request, headers=headers)
    line = preflight.describe(images, request)
    assert sorted(read) == sorted(paths)
    assert images.content.shape[:2] == request.shapes(*images.content_file)[-1]
    assert line.startswith(f"content {images.content.shape[1]}x{images.content.shape[0]} px")
