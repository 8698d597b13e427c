"""Upload validation decodes the bytes: images through OpenCV, videos through VideoCapture."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from campaigns.errors import MediaError
from campaigns.media import sniff, validate_media
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
