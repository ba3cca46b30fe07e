"""Bring your own pictures: an upload button with a preview, for a photo or a painting.

Headless (nothing uploaded) the default path is used, so a notebook run by papermill
goes on with its parameters.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import ipywidgets as widgets

import helper
import machine

PREVIEW_SIDE = 160  # px, the longest side of the preview


class ImageChoice(widgets.VBox):
    """An upload button for one image, a preview of the image in use, and its `path`."""

    def __init__(self, what: str, default: str | os.PathLike):
        self.default = machine.expand(default)
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description=what)
        self.preview = widgets.Image(format="jpeg", width=PREVIEW_SIDE)
        self.caption = widgets.Label()
        super().__init__([self.upload, self.preview, self.caption])
        self._folder = Path(tempfile.mkdtemp(prefix="upload_"))
        self.upload.observe(lambda change: self._show(), names="value")
        self._show()

    @property
    def path(self) -> Path:
        """The uploaded file (kept in a temporary folder), or the default path."""
        if not self.upload.value:
            return self.default
        uploaded = self.upload.value[0]
        path = self._folder / Path(uploaded["name"]).name
        path.write_bytes(bytes(uploaded["content"]))
        return path

    def _show(self) -> None:
        path = self.path
        try:
            picture = helper.load_image(path, max_side=PREVIEW_SIDE)
        except helper.ImageError as error:  # said beside the button; the run raises it again
            self.preview.value, self.caption.value = b"", str(error)
            return
        self.preview.value = _jpeg(picture)
        self.caption.value = f"{path.name}, {'uploaded' if self.upload.value else 'the default'}"


def _jpeg(image) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(helper.to_uint8(image)).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
