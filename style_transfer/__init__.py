"""The command line: paint a photo in the style of a painting, run as `python -m style_transfer`.

Its modes (--batch, --sweep, --repeat, --resume) and its checks before a run (paths, images,
memory) live here; the method itself is tf_helper.py's, around which it only composes.
"""
