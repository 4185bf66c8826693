"""bot.photos: validation, metadata stripping, content-addressed storage, pHash, REST base64."""
from __future__ import annotations

import base64
import hashlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms, ImageDraw
from PIL.PngImagePlugin import PngInfo

from bot import photos
from bot.photos import (
    PhotoRejected,
    StoredPhoto,
    decode_base64_photos,
    perceptual_hash,
    phash_distance,
    store_photo,
)

MiB = 1024 * 1024


# --------------------------------------------------------------------------- image makers


def scene(seed: int, size: tuple[int, int] = (640, 480), mode: str = "RGB") -> Image.Image:
    """A structured, photo-like test picture: a gradient with random shapes."""
    rng = np.random.RandomState(seed)
    w, h = 640, 480  # drawn at a fixed size, then resized to ``size``
    gx = np.linspace(0, 1, w)[None, :]
    gy = np.linspace(0, 1, h)[:, None]
    angle = rng.uniform(0, np.pi)
    ramp = (np.cos(angle) * gx + np.sin(angle) * gy) / 1.5
    base = np.stack([ramp * rng.uniform(80, 255) for _ in range(3)], axis=-1)
    img = Image.fromarray(base.clip(0, 255).astype("uint8"), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.randint(0, w - 40), rng.randint(0, h - 40)
        x1, y1 = x0 + rng.randint(30, w // 2), y0 + rng.randint(30, h // 2)
        colour = tuple(int(c) for c in rng.randint(0, 256, 3))
        if rng.rand() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    if size != (w, h):
        img = img.resize(size, Image.Resampling.LANCZOS)
    return img.convert(mode) if mode != "RGB" else img


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretPhoneMaker"
    exif[ExifTags.Base.Model] = "Model-X-Serial-12345"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (37.0, 33.0, 59.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (126.0, 58.0, 41.0)
    return exif


XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="SecretXmpAuthor"/>'
    b"</rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>"
)

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()

SECRETS = (b"SecretPhoneMaker", b"Model-X-Serial", b"SecretXmpAuthor", b"SecretComment", b"SecretText")


def assert_no_metadata(path: Path) -> None:
    raw = path.read_bytes()
    for needle in SECRETS + (b"Exif\x00", b"http://ns.adobe.com/xap", b"ICC_PROFILE", b"xpacket"):
        assert needle not in raw, needle
    for chunk in (b"eXIf", b"iCCP", b"tEXt", b"iTXt", b"zTXt", b"EXIF", b"XMP ", b"ICCP"):
        if path.suffix in (".png", ".webp"):
            assert chunk not in raw, chunk
    with Image.open(path) as img:
        for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "Comment", "Secret"):
            assert key not in img.info, key
        assert len(img.getexif()) == 0
        assert len(img.getexif().get_ifd(ExifTags.IFD.GPSInfo)) == 0


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that *claims* the given size: a decompression bomb's header."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    return tmp_path / "not" / "yet" / "there"


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- accepted formats


def test_jpeg_with_exif_gps_xmp_icc_comment_is_stripped(photo_dir: Path) -> None:
    source = scene(1)
    data = encode(
        source, "JPEG", quality=95, exif=exif_with_gps(), xmp=XMP, icc_profile=SRGB_ICC, comment=b"SecretComment"
    )
    # The fixture really carries the metadata we expect to lose.
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert "icc_profile" in original.info
    assert b"SecretPhoneMaker" in data and b"SecretXmpAuthor" in data and b"SecretComment" in data

    stored = store_photo(data, directory=photo_dir)

    assert isinstance(stored, StoredPhoto)
    assert stored.mime == "image/jpeg"
    assert stored.path.suffix == ".jpg"
    assert (stored.width, stored.height) == (640, 480)
    assert_no_metadata(stored.path)
    with Image.open(stored.path) as img:
        assert img.format == "JPEG"


def test_exif_orientation_is_applied_before_stripping(photo_dir: Path) -> None:
    # Orientation 6 = the camera was turned: viewers rotate 90° clockwise.
    data = encode(scene(2, size=(400, 200)), "JPEG", exif=exif_with_gps(orientation=6))
    stored = store_photo(data, directory=photo_dir)
    assert (stored.width, stored.height) == (200, 400)
    with Image.open(stored.path) as img:
        assert img.size == (200, 400)
        assert ExifTags.Base.Orientation not in img.getexif()


def test_png_keeps_alpha_and_pixels_and_loses_text_and_exif(photo_dir: Path) -> None:
    rgba = scene(3, size=(120, 80), mode="RGBA")
    alpha = Image.linear_gradient("L").resize(rgba.size)
    rgba.putalpha(alpha)
    info = PngInfo()
    info.add_text("Author", "SecretText")
    info.add_itxt("Comment", "SecretText 한글", zip=True)
    data = encode(rgba, "PNG", pnginfo=info, exif=exif_with_gps())
    assert b"SecretText" in data or b"tEXt" in data

    stored = store_photo(data, directory=photo_dir)

    assert stored.mime == "image/png" and stored.path.suffix == ".png"
    assert_no_metadata(stored.path)
    with Image.open(stored.path) as img:
        assert img.mode == "RGBA"
        assert np.array_equal(np.asarray(img), np.asarray(rgba))  # lossless, alpha intact


def test_palette_png_with_transparency_keeps_it(photo_dir: Path) -> None:
    pal = scene(4, size=(64, 64)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    data = encode(pal, "PNG", transparency=0)
    stored = store_photo(data, directory=photo_dir)
    with Image.open(stored.path) as img:
        assert img.mode == "RGBA"
        assert img.getextrema()[3][0] == 0  # some pixels still fully transparent


def test_webp_is_stored_as_webp_without_metadata(photo_dir: Path) -> None:
    data = encode(scene(5), "WEBP", quality=85, exif=exif_with_gps().tobytes(), xmp=XMP, icc_profile=SRGB_ICC)
    assert b"EXIF" in data
    stored = store_photo(data, directory=photo_dir)
    assert stored.mime == "image/webp" and stored.path.suffix == ".webp"
    assert_no_metadata(stored.path)


def test_lossless_webp_with_alpha_stays_lossless(photo_dir: Path) -> None:
    rgba = scene(6, size=(96, 64), mode="RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    stored = store_photo(encode(rgba, "WEBP", lossless=True), directory=photo_dir)
    with Image.open(stored.path) as img:
        assert img.mode == "RGBA"
        assert np.array_equal(np.asarray(img), np.asarray(rgba))


def test_cmyk_jpeg_is_stored_as_rgb_jpeg(photo_dir: Path) -> None:
    stored = store_photo(encode(scene(7).convert("CMYK"), "JPEG"), directory=photo_dir)
    with Image.open(stored.path) as img:
        assert img.mode == "RGB" and img.format == "JPEG"


def test_mpo_multi_picture_jpeg_is_accepted_as_jpeg(photo_dir: Path) -> None:
    first, second = scene(8), scene(9)
    buf = io.BytesIO()
    first.save(buf, "MPO", save_all=True, append_images=[second])
    with Image.open(io.BytesIO(buf.getvalue())) as probe:
        assert probe.format == "MPO"
    stored = store_photo(buf.getvalue(), directory=photo_dir)
    assert stored.mime == "image/jpeg" and stored.path.suffix == ".jpg"


def test_type_is_decided_by_content_not_by_name(tmp_path: Path, photo_dir: Path) -> None:
    misnamed = tmp_path / "holiday.jpg"
    misnamed.write_bytes(encode(scene(10, size=(50, 50)), "PNG"))
    stored = store_photo(misnamed.read_bytes(), directory=photo_dir)
    assert stored.mime == "image/png" and stored.path.suffix == ".png"


# --------------------------------------------------------------------------- rejections


def rejected(data: bytes, **kwargs) -> PhotoRejected:
    with pytest.raises(PhotoRejected) as info:
        store_photo(data, **kwargs)
    return info.value


def test_text_file_renamed_jpg_is_not_an_image(tmp_path: Path, photo_dir: Path) -> None:
    fake = tmp_path / "receipt.jpg"
    fake.write_text("이건 사진이 아니라 텍스트 파일이에요.\n" * 20, encoding="utf-8")
    exc = rejected(fake.read_bytes(), directory=photo_dir)
    assert exc.reason == "not_image"
    assert exc.message_ko == "사진 파일이 아니에요. JPG, PNG, WebP 사진으로 다시 보내 주세요."
    assert not photo_dir.exists() or not files_in(photo_dir)


def test_truncated_jpeg_is_corrupt(photo_dir: Path) -> None:
    data = encode(scene(11), "JPEG", quality=90)
    exc = rejected(data[: len(data) // 2], directory=photo_dir)
    assert exc.reason == "corrupt"
    assert "손상" in exc.message_ko


def test_truncated_png_is_corrupt(photo_dir: Path) -> None:
    data = encode(scene(12), "PNG")
    assert rejected(data[: len(data) - 200], directory=photo_dir).reason == "corrupt"


def test_garbled_png_crc_is_corrupt(photo_dir: Path) -> None:
    data = bytearray(encode(scene(13, size=(64, 64)), "PNG"))
    data[len(data) // 2] ^= 0xFF
    assert rejected(bytes(data), directory=photo_dir).reason == "corrupt"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_unsupported(fmt: str, photo_dir: Path) -> None:
    exc = rejected(encode(scene(14, size=(64, 64)), fmt), directory=photo_dir)
    assert exc.reason == "unsupported_format"
    assert exc.message_ko == f"{fmt} 파일은 받을 수 없어요. JPG, PNG, WebP 사진으로 다시 보내 주세요."


def test_empty_is_rejected(photo_dir: Path) -> None:
    exc = rejected(b"", directory=photo_dir)
    assert exc.reason == "empty"
    assert exc.message_ko.endswith("다시 보내 주세요.")


def test_too_large_is_rejected_before_decoding(monkeypatch: pytest.MonkeyPatch, photo_dir: Path) -> None:
    def must_not_decode(*args, **kwargs):
        raise AssertionError("an oversized upload must not be decoded")

    monkeypatch.setattr(photos.Image, "open", must_not_decode)
    blob = b"\xff\xd8\xff\xe0" + b"\x00" * (11 * MiB)
    exc = rejected(blob, directory=photo_dir)
    assert exc.reason == "too_large"
    assert exc.message_ko == "사진이 너무 커요(최대 10MB). 크기를 줄여서 다시 보내 주세요."


def test_size_limit_comes_from_settings(monkeypatch: pytest.MonkeyPatch, photo_dir: Path) -> None:
    monkeypatch.setenv("CLEANBOT_PHOTO_MAX_BYTES", str(5 * MiB))
    exc = rejected(b"\x00" * (5 * MiB + 1), directory=photo_dir)
    assert exc.reason == "too_large"
    assert "최대 5MB" in exc.message_ko
    # An explicit max_bytes wins over the setting.
    data = encode(scene(15), "PNG")
    exc = rejected(data, directory=photo_dir, max_bytes=len(data) - 1)
    assert exc.reason == "too_large"


@pytest.mark.parametrize("size", [(100_000, 100_000), (9_000, 9_000)])
def test_decompression_bomb_header_is_rejected(size: tuple[int, int], photo_dir: Path) -> None:
    before = Image.MAX_IMAGE_PIXELS
    bomb = png_header_only(*size)
    assert len(bomb) < 200
    exc = rejected(bomb, directory=photo_dir)
    assert exc.reason == "too_large"
    assert "해상도" in exc.message_ko
    assert Image.MAX_IMAGE_PIXELS == before  # the global is left alone


def test_every_reason_has_a_polite_korean_message() -> None:
    for reason in photos.REASONS:
        message = PhotoRejected(reason).message_ko
        assert message.endswith("요.") and "다시" in message, message
    with pytest.raises(ValueError):
        PhotoRejected("nope")


# --------------------------------------------------------------------------- storage


def test_storage_is_content_addressed_atomic_and_idempotent(photo_dir: Path) -> None:
    data = encode(scene(16), "JPEG", exif=exif_with_gps())
    first = store_photo(data, directory=photo_dir)
    second = store_photo(data, directory=photo_dir)

    assert first == second
    assert files_in(photo_dir) == [first.path]  # one file, no temp leftovers
    stored_bytes = first.path.read_bytes()
    assert hashlib.sha256(stored_bytes).hexdigest() == first.sha256
    assert first.size_bytes == len(stored_bytes)
    assert first.path == photo_dir / first.sha256[:2] / f"{first.sha256}.jpg"
    assert len(first.sha256) == 64 and first.sha256 != hashlib.sha256(data).hexdigest()


def test_same_pixels_with_different_metadata_share_one_file(photo_dir: Path) -> None:
    img = scene(17, size=(200, 150))
    plain = encode(img, "PNG")
    with_meta = encode(img, "PNG", exif=exif_with_gps())
    assert plain != with_meta
    assert store_photo(plain, directory=photo_dir) == store_photo(with_meta, directory=photo_dir)
    assert len(files_in(photo_dir)) == 1


def test_default_directory_comes_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLEANBOT_PHOTO_DIR", str(tmp_path / "from-env"))
    stored = store_photo(encode(scene(18, size=(64, 64)), "PNG"))
    assert stored.path.parent.parent == tmp_path / "from-env"
    assert stored.path.is_file()


# --------------------------------------------------------------------------- perceptual hash


def test_phash_format_and_distance() -> None:
    h = perceptual_hash(scene(19))
    # The known hash of this picture: 16 lower-case hex characters, and a change to the algorithm (the
    # resize, the DCT, the bits kept, their order) shows here.
    assert h == "623ec1c41dd1a67b"
    assert phash_distance(h, h) == 0
    assert phash_distance("0" * 16, "f" * 16) == 64
    assert phash_distance("0000000000000001", "0000000000000003") == 1
    with pytest.raises(ValueError):
        phash_distance("abc", h)


def test_phash_near_duplicates_are_close_and_different_pictures_far(photo_dir: Path) -> None:
    original = scene(20, size=(800, 600))
    stored = store_photo(encode(original, "JPEG", quality=95, exif=exif_with_gps()), directory=photo_dir)
    variants = {
        "stored": stored.phash,
        "jpeg q40": perceptual_hash(Image.open(io.BytesIO(encode(original, "JPEG", quality=40)))),
        "half size": perceptual_hash(original.resize((400, 300))),
        "thumbnail webp": perceptual_hash(Image.open(io.BytesIO(encode(original.resize((160, 120)), "WEBP")))),
        "png": perceptual_hash(encode(original, "PNG")),
    }
    reference = perceptual_hash(original)
    for name, value in variants.items():
        assert phash_distance(reference, value) <= 6, name

    for seed in (21, 22, 23, 24):
        other = perceptual_hash(scene(seed, size=(800, 600)))
        assert phash_distance(reference, other) > 16, seed


# --------------------------------------------------------------------------- REST base64


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_base64_list_keeps_good_photos_when_some_are_bad(photo_dir: Path) -> None:
    jpeg = encode(scene(25), "JPEG")
    png = encode(scene(26, size=(80, 60), mode="RGBA"), "PNG")
    webp = encode(scene(27, size=(80, 60)), "WEBP")
    items = [
        b64(jpeg),
        "이건 base64가 아니에요!!",
        "data:image/png;base64," + b64(png),
        b64("그냥 텍스트".encode()),
        42,
        None,
        "data:image/webp;base64,\n" + "\n".join(b64(webp)[i : i + 76] for i in range(0, len(b64(webp)), 76)),
        "",
        b64(encode(scene(28, size=(32, 32)), "GIF")),
    ]
    stored, rejected_items = decode_base64_photos(items, directory=photo_dir)

    assert [p.mime for p in stored] == ["image/jpeg", "image/png", "image/webp"]
    assert all(p.path.is_file() for p in stored)
    assert [(r.index, r.reason) for r in rejected_items] == [
        (1, "not_image"),
        (3, "not_image"),
        (4, "not_image"),
        (5, "not_image"),
        (7, "empty"),
        (8, "unsupported_format"),
    ]
    assert all(r.message_ko for r in rejected_items)


def test_data_urls_are_judged_by_content_not_declared_type(photo_dir: Path) -> None:
    png = encode(scene(29, size=(40, 40)), "PNG")
    stored, bad = decode_base64_photos(
        [
            "data:text/plain;base64," + b64(png),
            "DATA:image/jpeg;base64," + b64(png),
            b64(png).rstrip("="),  # missing padding
            base64.urlsafe_b64encode(png).decode(),  # URL-safe alphabet
        ],
        directory=photo_dir,
    )
    assert not bad
    assert {p.mime for p in stored} == {"image/png"}
    assert len({p.sha256 for p in stored}) == 1  # same photo, one file
    assert len(files_in(photo_dir)) == 1


def test_base64_oversized_payload_is_rejected_without_decoding(monkeypatch: pytest.MonkeyPatch, photo_dir: Path) -> None:
    monkeypatch.setattr(photos.base64, "b64decode", lambda *a, **k: pytest.fail("must not decode"))
    stored, bad = decode_base64_photos(["A" * (2 * 1024)], directory=photo_dir, max_bytes=1024)
    assert stored == [] and bad[0].reason == "too_large" and "최대 1KB" in bad[0].message_ko


@pytest.mark.parametrize("items", [None, [], "not a list of photos", {"photo": "x"}, 7])
def test_base64_never_raises_for_bad_input(items, photo_dir: Path) -> None:
    stored, bad = decode_base64_photos(items, directory=photo_dir)
    assert stored == []
    assert all(isinstance(r, PhotoRejected) for r in bad)
