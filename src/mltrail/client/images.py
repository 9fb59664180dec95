"""Turning images and figures into file bytes, without requiring Pillow for NumPy arrays.

NumPy arrays follow MLflow's ``log_image`` rules: integer arrays hold values in
[0, 255], float arrays values in [0, 1]; shapes ``HxW`` (grayscale), ``HxWx1``,
``HxWx3`` (RGB) or ``HxWx4`` (RGBA). They are written as PNG with zlib only.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from mltrail.errors import InvalidParameterValue

_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (gray, RGB, RGBA)


def image_bytes(image: Any, artifact_file: str) -> bytes:
    """File contents for ``image`` (a NumPy array or a PIL image) saved as ``artifact_file``."""
    if _is_pil_image(image):
        buffer = io.BytesIO()
        image.save(buffer, format=_pil_format(artifact_file))
        return buffer.getvalue()
    if hasattr(image, "__array_interface__") or type(image).__module__ == "numpy":
        if not artifact_file.lower().endswith(".png"):
            return _via_pil(image, artifact_file)
        return png_from_array(image)
    raise InvalidParameterValue(
        f"log_image takes a numpy.ndarray or a PIL.Image.Image, got {type(image).__name__}"
    )


def figure_bytes(figure: Any, artifact_file: str) -> bytes:
    """File contents for a matplotlib figure (or anything with ``savefig``)."""
    if not hasattr(figure, "savefig"):
        raise InvalidParameterValue(
            f"log_figure takes a matplotlib Figure, got {type(figure).__name__}"
        )
    suffix = artifact_file.rsplit(".", 1)[-1].lower() if "." in artifact_file else "png"
    buffer = io.BytesIO()
    figure.savefig(buffer, format=suffix)
    return buffer.getvalue()


def png_from_array(image: Any) -> bytes:
    import numpy as np

    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3 or array.shape[2] not in _COLOR_TYPES:
        raise InvalidParameterValue(
            f"Image array must have shape HxW, HxWx1, HxWx3 or HxWx4, got {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidParameterValue(f"Image array is empty (shape {array.shape})")
    pixels = _to_uint8(array)
    height, width, channels = pixels.shape
    # Every scanline starts with filter type 0 (none).
    rows = np.concatenate(
        [np.zeros((height, 1), dtype=np.uint8), pixels.reshape(height, width * channels)], axis=1
    )
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            _chunk(b"IEND", b""),
        ]
    )


def _to_uint8(array: Any) -> Any:
    import numpy as np

    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer):
        if array.size and (array.min() < 0 or array.max() > 255):
            raise InvalidParameterValue("Integer image values must lie in [0, 255]")
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise InvalidParameterValue("Float image values must be finite")
        if array.size and (array.min() < 0 or array.max() > 1):
            raise InvalidParameterValue("Float image values must lie in [0, 1]")
        return np.round(array * 255).astype(np.uint8)
    raise InvalidParameterValue(f"Unsupported image dtype {array.dtype}")


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _is_pil_image(image: Any) -> bool:
    return type(image).__module__.startswith("PIL.") and hasattr(image, "save")


def _pil_format(artifact_file: str) -> str:
    suffix = artifact_file.rsplit(".", 1)[-1].lower() if "." in artifact_file else "png"
    return {"jpg": "JPEG", "jpeg": "JPEG", "tif": "TIFF"}.get(suffix, suffix.upper())


def _via_pil(image: Any, artifact_file: str) -> bytes:
    try:
        from PIL import Image
    except ImportError as exc:
        raise InvalidParameterValue(
            f"Saving {artifact_file!r} needs Pillow (pip install 'mltrail[images]'); "
            "without it, NumPy images can be logged as .png"
        ) from exc
    import numpy as np

    array = _to_uint8(np.asarray(image))
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=_pil_format(artifact_file))
    return buffer.getvalue()
