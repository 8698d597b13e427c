"""Upload validation decodes the bytes: images through OpenCV, videos through VideoCapture."""

from __future__ import annotations

import resource
import struct
import time
import tracemalloc
import zlib
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from campaigns.errors import MediaError
from campaigns.media import image_header_size, playable_duration, sniff, validate_media
from campaigns.store import Store
from tests.campaigns.conftest import jpeg_bytes, mp4_bytes, png_bytes


@pytest.mark.parametrize(
    ("suffix", "mime"),
    [(".png", "image/png"), (".jpg", "image/jpeg"), (".bmp", "image/bmp"), (".webp", "image/webp")],
)
def test_images_are_decoded_and_measured(suffix: str, mime: str) -> None:
    ok, data = cv2.imencode(suffix, np.full((30, 40, 3), 99, dtype=np.uint8))
    assert ok
    info = validate_media(data.tobytes(), f"ad{suffix}")
    assert (info.kind, info.mime, info.width, info.height, info.duration_s) == ("image", mime, 40, 30, None)
    assert info.size_bytes == len(data.tobytes()) and len(info.sha256) == 64


def test_video_is_opened_and_timed(tmp_path: Path) -> None:
    info = validate_media(mp4_bytes(tmp_path, frames=20, fps=10.0), "clip.mp4")
    assert (info.kind, info.mime, info.width, info.height) == ("video", "video/mp4", 64, 48)
    assert info.duration_s == pytest.approx(2.0)


def video_bytes(folder: Path, fourcc: str, suffix: str, frames: int, fps: float = 10.0) -> bytes:
    """A 64x48 video of noise frames, so its bytes spread evenly over the frames."""
    path = folder / f"clip{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (64, 48))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    return path.read_bytes()


def webm_bytes(folder: Path, frames: int = 30, fps: float = 10.0) -> bytes:
    return video_bytes(folder, "VP80", ".webm", frames, fps)


def without_duration(webm: bytes) -> bytes:
    """The WebM with its Segment Info Duration element renamed to an unknown id, as browser
    MediaRecorder files come: players skip the element and the header declares no length."""
    duration = webm.index(b"\x44\x89\x88")  # id 0x4489, an 8-byte float
    assert duration < webm.index(b"\x1f\x43\xb6\x75")  # in the header, before the first Cluster
    return webm[:duration] + b"\x4f\xf1" + webm[duration + 2 :]


def test_webm_is_timed_by_decoding_it(tmp_path: Path) -> None:
    info = validate_media(webm_bytes(tmp_path, frames=30, fps=10.0), "clip.webm")
    assert (info.kind, info.mime, info.width, info.height) == ("video", "video/webm", 64, 48)
    assert info.duration_s == pytest.approx(3.0, abs=0.01)


@pytest.mark.parametrize(("fourcc", "suffix"), [("VP80", ".webm"), ("mp4v", ".mp4"), ("MJPG", ".avi")])
@pytest.mark.parametrize("frames", [1, 25])
def test_every_container_is_timed_by_its_decoded_frames(tmp_path: Path, fourcc: str, suffix: str,
                                                        frames: int) -> None:
    info = validate_media(video_bytes(tmp_path, fourcc, suffix, frames), f"clip{suffix}")
    assert info.duration_s == pytest.approx(frames / 10.0, abs=0.01)


@pytest.mark.parametrize("share", [0.8, 0.5, 0.2])
def test_truncated_webm_is_refused_with_what_decodes(tmp_path: Path, share: float) -> None:
    # The header still declares 10 s; only the first frames decode. Accepting it would freeze
    # the picture while snapshots are tagged as watching.
    data = webm_bytes(tmp_path, frames=100, fps=10.0)
    with pytest.raises(MediaError, match=r"'cut.webm' is truncated or corrupt: only \d\.\d s \(\d+ frames\) "
                                          r"of the 10\.0 s its header declares"):
        validate_media(data[: int(len(data) * share)], "cut.webm")


def test_truncated_mp4_is_refused(tmp_path: Path) -> None:
    data = mp4_bytes(tmp_path, frames=30)
    with pytest.raises(MediaError, match="'cut.mp4' .*(corrupt or truncated|truncated or corrupt)"):
        validate_media(data[: len(data) // 2], "cut.mp4")


def test_webm_without_a_duration_is_measured(tmp_path: Path) -> None:
    data = without_duration(webm_bytes(tmp_path, frames=40, fps=10.0))
    info = validate_media(data, "recorded.webm")
    assert info.duration_s == pytest.approx(4.0, abs=0.01)
    with Store.open() as store:
        variant = store.set_variant(store.create_campaign("Recorded ad"), "A", data, "recorded.webm")
        assert variant.duration_s == pytest.approx(4.0, abs=0.01)


def test_playable_duration_known_values() -> None:
    # Timestamps first: 30 frames from 0 to 2.9 s play for 3 s.
    assert playable_duration("v", 30, 10.0, 2.9, 30) == pytest.approx(3.0)
    # No timestamps: frames / fps; no header count (NaN, negative): the measure stands.
    assert playable_duration("v", 25, 10.0, 0.0, float("nan")) == pytest.approx(2.5)
    assert playable_duration("v", 25, 10.0, 2.4, -1.4e17) == pytest.approx(2.5)
    # A moment short of the header (a longer sound track) is accepted at the measured length.
    assert playable_duration("v", 96, 10.0, 9.5, 100) == pytest.approx(9.6)
    # A 15 s ad whose sound runs on for a second: its header says 16 s, and it is healthy.
    assert playable_duration("v", 150, 10.0, 14.9, 160) == pytest.approx(15.0)
    # Variable frame rates: a header rate that misses the real one shortens either the count
    # (a WebM's count is its duration times the rate) or the declared time (an MP4 keeps the
    # real count), never both, so neither is taken for truncation.
    assert playable_duration("v", 250, 30.0, 9.96, 300) == pytest.approx(10.0)
    assert playable_duration("v", 300, 25.0, 9.967, 300) == pytest.approx(10.0)
    with pytest.raises(MediaError, match="only 5.0 s \\(50 frames\\) of the 10.0 s"):
        playable_duration("v", 50, 10.0, 4.9, 100)


@pytest.mark.parametrize("fps", [0.0, float("nan")])
def test_video_without_rate_or_timestamps_is_refused(fps: float) -> None:
    with pytest.raises(MediaError, match="'x.webm' has no frame rate or timestamps"):
        playable_duration("upload 'x.webm'", 40, fps, 0.0, 0)
    assert playable_duration("v", 40, fps, 3.9, 0) == pytest.approx(4.0)


def test_video_variant_stores_its_duration(tmp_path: Path) -> None:
    with Store.open() as store:
        c = store.create_campaign("Video ad")
        variant = store.set_variant(c, "A", mp4_bytes(tmp_path, frames=30, fps=10.0), "clip.mp4")
        assert (variant.kind, variant.duration_s) == ("video", pytest.approx(3.0))


def test_extension_is_not_trusted() -> None:
    assert validate_media(png_bytes(), "poster.mp4").mime == "image/png"
    with pytest.raises(MediaError, match="'poster.png' is not a supported"):
        validate_media(b"%PDF-1.7 not an ad", "poster.png")


def test_size_limit_is_configurable() -> None:
    data = jpeg_bytes(64, 64)
    assert validate_media(data, max_bytes=len(data)).kind == "image"
    with pytest.raises(MediaError, match="over the"):
        validate_media(data, max_bytes=len(data) - 1)
    with Store.open(max_upload_bytes=10) as store, pytest.raises(MediaError, match="limit"):
        store.set_variant(store.create_campaign("tiny"), "A", data)


def test_sniff_recognises_containers() -> None:
    assert sniff(b"\x1a\x45\xdf\xa3" + b"\x00" * 20 + b"webm") == ("video", "video/webm", ".webm")
    assert sniff(b"RIFF\x00\x00\x00\x00AVI LIST") == ("video", "video/x-msvideo", ".avi")
    assert sniff(b"\x00\x00\x00\x14ftypqt  ") == ("video", "video/quicktime", ".mov")
    assert sniff(b"plain text") is None


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@cache
def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid black 1-bit PNG of ``width`` x ``height``: about 110 kB that OpenCV decodes into
    ``width * height * 3`` bytes (2.7 GB at the default size)."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


BOMB_MESSAGE = "photo.png is 30000 x 30000 pixels (900 megapixels); the most this app takes is 40 megapixels"


def test_the_bomb_png_is_a_real_picture() -> None:
    small = bomb_png(300, 200)
    image = cv2.imdecode(np.frombuffer(small, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape == (200, 300, 3) and not image.any()
    assert image_header_size(bomb_png(), "photo.png") == (30_000, 30_000)


def test_a_decompression_bomb_is_refused_from_its_header_fast_and_small() -> None:
    data = bomb_png()
    assert len(data) < 200_000
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(MediaError) as caught:
            validate_media(data, "photo.png")
        elapsed = time.perf_counter() - started
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value) == BOMB_MESSAGE
    # Decoding it takes about 15 s and 2.7 GB; reading the header takes neither.
    assert elapsed < 0.5
    assert traced_peak < 5_000_000
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 200_000


def test_the_store_refuses_a_bomb_and_keeps_nothing() -> None:
    with Store.open() as store:
        campaign = store.create_campaign("Bomb")
        with pytest.raises(MediaError, match=r"^photo\.png is 30000 x 30000 pixels"):
            store.set_variant(campaign, "A", bomb_png(), "photo.png")
        assert store.variants(campaign) == {}


def test_the_pixel_limit_is_configurable() -> None:
    data = png_bytes(40, 30)
    assert validate_media(data, "ad.png", max_pixels=1200).width == 40
    with pytest.raises(MediaError, match=r"^ad\.png is 40 x 30 pixels \(0\.0012 megapixels\); the most this app "
                                         r"takes is 0\.0011 megapixels$"):
        validate_media(data, "ad.png", max_pixels=1100)


@pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".webp", ".gif"])
def test_every_image_format_is_measured_from_its_header(suffix: str) -> None:
    if suffix == ".gif":
        from PIL import Image

        out = __import__("io").BytesIO()
        Image.new("L", (40, 30)).save(out, "GIF")
        data = out.getvalue()
    else:
        ok, encoded = cv2.imencode(suffix, np.full((30, 40, 3), 99, dtype=np.uint8))
        assert ok
        data = encoded.tobytes()
    assert image_header_size(data) == (40, 30)
    with pytest.raises(MediaError, match="is 40 x 30 pixels"):
        validate_media(data, f"ad{suffix}", max_pixels=1000)


def test_a_header_that_cannot_be_read_is_refused() -> None:
    with pytest.raises(MediaError, match="'ad.png' could not be decoded as an image"):
        validate_media(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40 + b"IEND\xaeB`\x82", "ad.png")


def test_a_video_frame_over_the_pixel_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"^clip\.mp4 is 64 x 48 pixels \(0\.00307 megapixels\)"):
        validate_media(mp4_bytes(tmp_path), "clip.mp4", max_pixels=64 * 48 - 1)
    assert validate_media(mp4_bytes(tmp_path), "clip.mp4", max_pixels=64 * 48).width == 64
