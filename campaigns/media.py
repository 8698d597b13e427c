"""Upload validation for ad variants: sniff, decode, measure.

An upload is accepted only when its bytes decode: images through
``cv2.imdecode``, videos through ``cv2.VideoCapture`` on a temporary file
(the pip OpenCV wheels bundle FFmpeg). Extensions and browser-sent mime types
are never trusted, and neither is a video's header: its length is measured by
decoding it to the end. An image's pixel size is read from its header before
it is decoded, so a small file that declares a huge picture (a decompression
bomb) is refused before it takes gigabytes of memory.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import tempfile
from dataclasses import dataclass
from struct import error as struct_error

import cv2
import numpy as np
from PIL import BmpImagePlugin, GifImagePlugin, Image, ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from campaigns.errors import MediaError

DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
#: Pixels an image (or one video frame) may have: 40 megapixels is above any camera photo or 8K
#: frame (33 MP) and decodes to 120 MB; a few kilobytes of PNG can declare 900 MP (2.7 GB decoded).
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000

# Pillow's reader per format, used for the header only: constructing one reads the header and
# decodes no pixels. The readers are called directly rather than through Image.open, whose own
# bomb check refuses a huge picture without saying its size.
_HEADER_READERS: dict[str, type[ImageFile.ImageFile]] = {
    "image/png": PngImagePlugin.PngImageFile,
    "image/jpeg": JpegImagePlugin.JpegImageFile,
    "image/gif": GifImagePlugin.GifImageFile,
    "image/bmp": BmpImagePlugin.BmpImageFile,
    "image/webp": WebPImagePlugin.WebPImageFile,
}

#: A video whose decodable picture ends more than this before its header's duration is refused
#: as truncated. Not zero: a container's duration covers all tracks, and a sound track may outlast
#: the picture by a second in a healthy file (a WebM header has no frame count of its own: OpenCV
#: derives one from that duration). The measured length is what gets stored either way, so a file
#: let through plays exactly as long as its exposure.
_SHORTFALL_S = 1.0
_SHORTFALL_SHARE = 0.10

# (signature test, mime, file suffix) for the formats we accept.
_IMAGE_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
    (b"BM", "image/bmp", ".bmp"),
)


@dataclass(frozen=True)
class MediaInfo:
    """What validation learned about an upload."""

    kind: str
    mime: str
    suffix: str
    size_bytes: int
    sha256: str
    width: int
    height: int
    duration_s: float | None


def sniff(data: bytes) -> tuple[str, str, str] | None:
    """Return (kind, mime, suffix) from the leading bytes, or None if unknown."""
    for signature, mime, suffix in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return "image", mime, suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image", "image/webp", ".webp"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "video", "video/x-msvideo", ".avi"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand.startswith(b"qt"):
            return "video", "video/quicktime", ".mov"
        return "video", "video/mp4", ".mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        if b"webm" in data[:64]:
            return "video", "video/webm", ".webm"
        return "video", "video/x-matroska", ".mkv"
    return None


def _describe(filename: str | None) -> str:
    return f"upload {filename!r}" if filename else "upload"


def _megapixels(pixels: float) -> str:
    return f"{pixels / 1e6:.3g} megapixels"


def check_pixels(what: str, width: int, height: int, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
    """MediaError when a ``width`` x ``height`` picture is over ``max_pixels``; ``what`` names it."""
    if width * height > max_pixels:
        raise MediaError(
            f"{what} is {width} x {height} pixels ({_megapixels(width * height)}); "
            f"the most this app takes is {_megapixels(max_pixels)}"
        )


def image_header_size(data: bytes, what: str = "image") -> tuple[int, int]:
    """(width, height) that an image's header declares, read without decoding any pixel.

    Raises MediaError for bytes that are not PNG, JPEG, GIF, BMP or WebP, or whose
    header cannot be read (a picture Pillow itself takes for a bomb included).
    """
    found = sniff(data)
    reader = _HEADER_READERS.get(found[1]) if found else None
    if reader is None:
        raise MediaError(f"{what} is not a supported image (PNG, JPEG, GIF, BMP, WebP)")
    try:
        with reader(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError as exc:
        # Only readers that allocate while reading the header (WebP, a GIF frame larger than its
        # screen) check the size themselves; their limit is far above any setting of ours.
        raise MediaError(f"{what} declares a picture too large to open ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct_error) as exc:
        raise MediaError(f"{what} could not be decoded as an image (corrupt or truncated)") from exc
    return int(width), int(height)


def validate_media(
    data: bytes,
    filename: str | None = None,
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> MediaInfo:
    """Check that ``data`` is a decodable image or video within ``max_bytes`` and ``max_pixels``.

    Raises MediaError naming the file and the problem (empty, too large,
    too many pixels, unknown format, truncated or corrupt).
    """
    what = _describe(filename)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MediaError(f"{what} must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise MediaError(f"{what} is empty")
    if len(data) > max_bytes:
        raise MediaError(f"{what} is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit")
    found = sniff(data)
    if found is None:
        raise MediaError(
            f"{what} is not a supported image (PNG, JPEG, GIF, BMP, WebP) or video (MP4, MOV, WebM, MKV, AVI)"
        )
    kind, mime, suffix = found
    digest = hashlib.sha256(data).hexdigest()
    if kind == "image":
        width, height = _decode_image(data, what, mime, filename, max_pixels)
        return MediaInfo(kind, mime, suffix, len(data), digest, width, height, None)
    width, height, duration = _probe_video(data, what, suffix, filename, max_pixels)
    return MediaInfo(kind, mime, suffix, len(data), digest, width, height, duration)


def decode_image(data: bytes, what: str = "image") -> np.ndarray:
    """Decode image bytes to a BGR array or raise MediaError."""
    array = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(array, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise MediaError(f"{what} could not be decoded as an image (corrupt or truncated)")
    return image


def _decode_image(data: bytes, what: str, mime: str, filename: str | None, max_pixels: int) -> tuple[int, int]:
    # libjpeg decodes a truncated JPEG into a grey-padded picture with only a
    # warning, so require the end-of-image marker explicitly.
    if mime == "image/jpeg" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise MediaError(f"{what} is a truncated JPEG (no end-of-image marker)")
    if mime == "image/png" and b"IEND" not in data[-16:]:
        raise MediaError(f"{what} is a truncated PNG (no IEND chunk)")
    check_pixels(filename or what, *image_header_size(data, what), max_pixels)
    image = decode_image(data, what)
    height, width = image.shape[:2]
    return int(width), int(height)


def _probe_video(data: bytes, what: str, suffix: str, filename: str | None,
                 max_pixels: int) -> tuple[int, int, float]:
    # VideoCapture needs a path; the temporary file lives only for the probe.
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        capture = cv2.VideoCapture(path)
        try:
            if not capture.isOpened():
                raise MediaError(f"{what} could not be opened as a video (corrupt or truncated)")
            # Opening reads the stream headers only; refuse a huge frame before decoding one.
            declared = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
            check_pixels(filename or what, *declared, max_pixels)
            ok, frame = capture.read()
            if not ok or frame is None:
                raise MediaError(f"{what} has no decodable video frame (corrupt or truncated)")
            header_frames = capture.get(cv2.CAP_PROP_FRAME_COUNT)
            fps = capture.get(cv2.CAP_PROP_FPS)
            # The header is not trusted: a cut-off file keeps its full frame count, and browser
            # recordings (MediaRecorder WebM) carry none. grab() decodes every remaining frame
            # without converting it to BGR, so walking the whole file finds what really plays.
            first_ms = last_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
            decoded = 1
            while capture.grab():
                decoded += 1
                last_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
        finally:
            capture.release()
    finally:
        os.unlink(path)
    height, width = frame.shape[:2]
    span_s = (last_ms - first_ms) / 1000 if math.isfinite(last_ms - first_ms) else 0.0
    return int(width), int(height), playable_duration(what, decoded, fps, span_s, header_frames)


def playable_duration(what: str, frames: int, fps: float, span_s: float, header_frames: float) -> float:
    """Seconds of picture that decode, checked against what the file's header declares.

    ``frames`` decoded frames whose timestamps span ``span_s`` seconds (first to last, 0
    when the container has none); ``fps`` and ``header_frames`` are the header's frame
    rate and frame count, 0, negative or NaN when missing. Raises MediaError when the
    length cannot be measured or clearly falls short of the header's.
    """
    rate_known = math.isfinite(fps) and fps > 0
    if frames > 1 and span_s > 0:
        # Timestamps hold for variable frame rates too; the last frame stays one interval.
        measured = span_s * frames / (frames - 1)
    elif rate_known:
        measured = frames / fps
    else:
        raise MediaError(f"{what} has no frame rate or timestamps, so its length cannot be measured")
    if rate_known and math.isfinite(header_frames) and header_frames > 0:
        declared = header_frames / fps
        allowed = max(_SHORTFALL_S, _SHORTFALL_SHARE * declared)
        # Truncation shortens both the timeline and the frame count; a variable frame rate
        # recording can miss the header's count on one of them alone.
        if declared - measured > allowed and (header_frames - frames) / fps > allowed:
            raise MediaError(
                f"{what} is truncated or corrupt: only {measured:.1f} s ({frames} frames) of the "
                f"{declared:.1f} s its header declares can be decoded"
            )
    return round(measured, 3)  # timestamps are whole milliseconds
