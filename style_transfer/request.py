"""What the command line asks for, as one typed, checked value: the Request.

Made once from the parsed arguments (after --repeat and --resume have filled them in); every
check that options fit together is Request.__post_init__, so a Request that exists is one the
command line accepts. Nothing past it sees the argparse namespace. No TensorFlow here.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import helper
from going_further.settings import StylizeSettings
from loss_settings import SettingsError, blend_shares
from optimisation import precisions
from optimisation.schedule import LARGE_SIZE, default_schedule
from style_transfer.arguments import (
    CHECKPOINT_MINUTES,
    DEFAULT_SIZE,
    DEFAULTS,
    NO_COLOR_PRESERVATION,
    OPTIONS,
    SETTINGS,
    SweepError,
    parse_sweep,
    show_value,
)
from style_transfer.errors import GrammarError, UsageError


@dataclass(frozen=True)
class Request:
    """One run of the command line (single, --batch, --sweep or --resume), every option settled.

    One field per row of arguments.OPTIONS, except the positional STYLE, which is in `styles`.
    """

    content: str | None  # None only with --batch
    output: str
    styles: list[str]  # one or more
    style_blend: list[float] | None
    style_masks: list[str] | None  # one per style image, over the photo
    style_image_masks: list[str] | None  # one per style image, over it
    style_scale: float
    preserve_colors: str  # NO_COLOR_PRESERVATION or one of COLOR_MODES
    size: int  # longest side of the output, the last of `scales`
    scales: list[int] | None  # two or more growing sizes, or None for a single scale
    iterations: int | list[int]  # one count for every scale, or one per scale
    seed: int
    init: str
    no_content_boost: bool
    no_preconditioner: bool
    precision: str  # resolved: never "auto"
    optimizer: str
    learning_rate: float
    content_weight: float
    style_weight: float
    tv_weight: float
    content_layers: list[str]
    style_layers: list[str]
    style_layer_weights: dict[str, float] | None
    border: str  # one of BORDERS
    tile: int | None
    memory_budget: float
    weights: str | None
    convolution: str  # one of tensorflow_vgg's CONVOLUTIONS
    gif: str | None
    gif_frames: int
    stats: str | None
    checkpoint_every: int | None
    checkpoint_minutes: float | None
    checkpoint_dir: str | None
    resume: bool
    overwrite: bool
    no_memory_check: bool
    batch: list[str] | None
    sweep: list[str] | None
    repeat: str | None
    video: list[str] | None
    temporal_weight: float
    first_frame_iterations: int | None
    workers: int | None  # Ray workers (style_transfer.cluster); None with no Ray option
    ray_address: str | None

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> Request:
        """Return the request of parsed arguments, with what follows from them filled in."""
        if args.styles and args.style:
            raise UsageError(
                f"give the style image as STYLE ({args.style}) or with --style, not both"
            )
        values = {option.name: getattr(args, option.name) for option in OPTIONS}
        style = values.pop("style")
        if args.video and args.content and not (style or args.styles):
            style, values["content"] = args.content, None  # --video CLIP STYLE
        elif args.video and len(args.video) > 1 and not (style or args.styles):
            *values["video"], style = args.video  # --video CLIP STYLE took both
        values["styles"] = list(args.styles or ([style] if style else []))
        values.update(_schedule(values))
        values["precision"] = precisions.resolve(args.precision)  # --stats records what ran
        request = cls(**values)
        if request.batch:
            request = dataclasses.replace(request, batch=expand_contents(request.batch))
        return request

    def __post_init__(self):
        """Refuse options that do not fit together, in the order the command line tells them."""
        self._check_images()
        if self.style_blend is not None:
            try:
                blend_shares(len(self.styles), self.style_blend)
            except SettingsError as error:
                raise UsageError(f"--style-blend {show_value(self.style_blend)}: {error}") from None
        self._check_masks()
        self._check_schedule()
        self._check_layer_weights()
        self._check_modes()
        if self.sweep:
            try:
                parse_sweep(self.sweep)
            except SweepError as error:
                raise UsageError(f"--sweep: {error}") from None

    def _check_images(self) -> None:
        if self.video:
            self._check_video()
        elif self.batch:
            if self.content:
                raise UsageError(
                    "with --batch, the content images follow --batch and the style images "
                    f"--style; drop the positional image {self.content}"
                )
            if not self.styles:
                raise GrammarError("with --batch, give the style image(s) with --style")
        elif self.content is None or not self.styles:
            raise GrammarError(
                "give the CONTENT and STYLE images (or --resume a checkpointed run)"
                + self._taken_by_a_list()
            )

    def _check_video(self) -> None:
        """Refuse what does not go with --video: a photo too, other modes, per-run outputs."""
        if self.content:
            raise UsageError(
                f"with --video, the frames come from the clip; drop the image {self.content} "
                "(give the painting with --style)"
            )
        if not self.styles:
            raise GrammarError("with --video, give the style image(s) with --style")
        given = {
            "--batch": self.batch, "--sweep": self.sweep, "--repeat": self.repeat,
            "--scales": self.scales, "--gif": self.gif, "--stats": self.stats,
            "--checkpoint-every": self.checkpoint_every, "--tile": self.tile,
            "--checkpoint-minutes": self.checkpoint_minutes,
            "--style-masks": self.style_masks,
            "--preserve-colors": self.preserve_colors != NO_COLOR_PRESERVATION,
        }  # fmt: skip
        for flag, value in given.items():
            if value:
                raise UsageError(f"{flag} does not go with --video; drop it")

    def _taken_by_a_list(self) -> str:
        """Say which option took the image paths after it, when CONTENT or STYLE is missing."""
        taken = [value for value in self.sweep or [] if "=" not in value]
        if taken:
            return f"; --sweep took {' '.join(taken)}: put the images before --sweep"
        if self.styles and self.content is None:
            return (
                f"; --style took every path after it ({' '.join(self.styles)}): put CONTENT "
                "before --style"
            )
        return ""

    def _check_masks(self) -> None:
        if self.style_image_masks and not self.style_masks:
            raise UsageError(
                "--style-image-masks needs --style-masks: give first where each painting goes "
                "in the photo"
            )
        for flag, masks in (
            ("--style-masks", self.style_masks),
            ("--style-image-masks", self.style_image_masks),
        ):
            if masks and len(masks) != len(self.styles):
                raise UsageError(
                    f"{flag} gives {len(masks)} mask(s) for {len(self.styles)} style image(s); "
                    "give one mask per style image, in the order of --style"
                )

    def _check_schedule(self) -> None:
        if self.scales and self.size != self.scales[-1]:
            raise UsageError(
                f"--size {self.size} differs from the last of --scales {show_value(self.scales)}; "
                "the last scale is the output size, so drop --size or make them agree"
            )
        scales = len(self.scales) if self.scales else 1
        if isinstance(self.iterations, list) and len(self.iterations) != scales:
            raise UsageError(
                f"--iterations {show_value(self.iterations)} gives {len(self.iterations)} counts "
                f"for {scales} scale(s); give one count for every scale, or one per scale of "
                "--scales"
            )

    def _check_layer_weights(self) -> None:
        unknown = [name for name in self.style_layer_weights or {} if name not in self.style_layers]
        if unknown:
            raise UsageError(
                f"--style-layer-weights names {', '.join(unknown)}, not among --style-layers "
                f"{show_value(self.style_layers)}; weigh only the style layers"
            )

    def _check_modes(self) -> None:
        """Refuse modes and options that do not go together."""
        if (self.workers or self.ray_address) and not (self.batch or self.sweep or self.video):
            flag = "--workers" if self.workers else "--ray-address"
            raise UsageError(
                f"{flag} spreads the pictures of a --batch or a --sweep (or the clips of "
                "--video) over Ray workers; a single picture runs in this process, so drop it"
            )
        if self.video:
            return  # _check_video
        modes = [flag for flag in ("--batch", "--sweep", "--resume") if getattr(self, flag[2:])]
        if len(modes) > 1:
            raise UsageError(f"{modes[0]} and {modes[1]} cannot be combined; run them separately")
        if modes and modes[0] != "--resume":
            for flag in ("--gif", "--checkpoint-every", "--checkpoint-minutes"):
                if getattr(self, flag[2:].replace("-", "_")):
                    raise UsageError(
                        f"{flag} follows a single run; drop it from the {modes[0]} run"
                    )
        if self.checkpointed and self.preserve_colors == "luminance":
            raise UsageError(
                "checkpoints and --resume cannot be used with --preserve-colors "
                "luminance (that run optimises a grey image and colours it at the end); use "
                "--preserve-colors histogram, or run without checkpoints"
            )

    # --- What follows from the request ----------------------------------------------------

    @property
    def checkpointed(self) -> bool:
        """Whether the run writes checkpoints or goes on from one."""
        return bool(self.checkpoint_every or self.checkpoint_minutes or self.resume)

    @property
    def counts(self) -> list[int]:
        """The iterations of each scale (one entry for a single-scale run)."""
        if isinstance(self.iterations, list):
            return list(self.iterations)
        return [self.iterations] * (len(self.scales) if self.scales else 1)

    @property
    def sizes(self) -> list[int]:
        """The longest side of each scale, the output's last."""
        return list(self.scales) if self.scales else [self.size]

    def shapes(self, height: int, width: int) -> list[tuple[int, int]]:
        """Return (height, width) of an image of that aspect at each scale of the run."""
        return [helper.size_for_longest_side(height, width, size) for size in self.sizes]

    def settings(self) -> StylizeSettings:
        """Return the engine's settings for the request (the iterations of its last scale)."""
        values = {setting: getattr(self, name) for name, setting in SETTINGS.items()}
        values["iterations"] = self.counts[-1]
        values["content_boost"] = not self.no_content_boost
        values["preconditioner"] = not self.no_preconditioner
        if self.preserve_colors == NO_COLOR_PRESERVATION:
            values["preserve_colors"] = None
        if self.style_layer_weights:
            equal = 1.0 / len(self.style_layers)
            given = self.style_layer_weights
            values["layer_weights"] = [given.get(name, equal) for name in self.style_layers]
        return StylizeSettings(**values)

    def inputs(self) -> list[tuple[str, str]]:
        """Return (name, path) of every input image: the content(s), the style(s), the masks."""
        contents = self.batch or [self.content]
        return (
            [("content", path) for path in contents]
            + [("style", path) for path in self.styles]
            + [("style mask", path) for path in self.style_masks or []]
            + [("style image mask", path) for path in self.style_image_masks or []]
        )

    def parameters(self) -> dict:
        """Return every option's value by its name, as a manifest or checkpoint records it."""
        return {  # STYLE is None: the request keeps it in `styles`
            option.name: None if option.name == "style" else getattr(self, option.name)
            for option in OPTIONS
        }


def _schedule(values: dict) -> dict:
    """Settle --size, --scales, --iterations and --checkpoint-minutes where they were not given:
    one size, or growing scales ending at it. Conflicts are left for the Request to refuse."""
    size, scales, iterations = values["size"], values["scales"], values["iterations"]
    if scales:
        size = scales[-1] if size is None else size
        if len(scales) == 1 and size == scales[0]:
            scales = None
    elif size is None:
        size = DEFAULT_SIZE
    if iterations is None:
        scales, iterations = _default_iterations(values, size, scales)
    if isinstance(iterations, list) and len(iterations) == 1 and not scales:
        iterations = iterations[0]
    minutes = values["checkpoint_minutes"]
    single = not (values["batch"] or values["sweep"] or values["video"])
    if minutes is None and single and size > LARGE_SIZE:
        if values["preserve_colors"] != "luminance":  # that run cannot be checkpointed
            minutes = CHECKPOINT_MINUTES
    return {"size": size, "scales": scales, "iterations": iterations, "checkpoint_minutes": minutes}


def _default_iterations(values: dict, size: int, scales):
    """Return (scales, iterations): for a single run above LARGE_SIZE px the default
    coarse-to-fine schedule; for any other run DEFAULTS.iterations at every scale."""
    single = not (values["batch"] or values["sweep"] or scales)
    if not single or size <= LARGE_SIZE or values["content"] is None:
        return scales, DEFAULTS.iterations
    try:
        height, width = helper.image_size(values["content"])
    except (OSError, helper.ImageError):  # told by the pre-flight checks, with the fix
        height = width = size
    return default_schedule(*helper.size_for_longest_side(height, width, size))


GLOB_CHARACTERS = "*?["


def expand_contents(items: Sequence[str]) -> list[str]:
    """Return the content paths of --batch: paths as given, quoted glob patterns expanded.

    A pattern keeps only the image files it matches (sorted); a plain path is kept as it is,
    so a missing or unreadable file is reported with the others still running.
    """
    paths: list[str] = []
    for item in items:
        if not any(character in item for character in GLOB_CHARACTERS):
            paths.append(item)
            continue
        matches = sorted(
            match
            for match in glob.glob(os.path.expanduser(item), recursive=True)
            if Path(match).is_file() and Path(match).suffix.lower() in helper.IMAGE_SUFFIXES
        )
        if not matches:
            raise UsageError(
                f"--batch {item!r} matches no image file; check the pattern, or give the paths"
            )
        paths += matches
    unique: dict[Path, str] = {}
    for path in paths:
        unique.setdefault(Path(path).resolve(), path)
    return list(unique.values())
