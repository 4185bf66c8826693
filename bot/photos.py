"""The one photo pipeline every channel uses (REST, Telegram, Kakao, …).

``store_photo(data)`` takes the raw bytes a user sent and either returns a
:class:`StoredPhoto` or raises :class:`PhotoRejected` with a machine reason
code and a polite Korean message for the user (``exc.message_ko``).

What it guarantees:

* size is checked *before* anything is decoded (``photo_max_bytes``);
* the type is decided by decoding with Pillow, never by name, extension or a
  declared MIME type: only real JPEG (incl. MPO, the multi-picture JPEG some
  phones write), PNG and WebP are accepted; anything else Pillow recognises is
  ``unsupported_format``, anything it does not is ``not_image``, anything that
  fails ``verify()``/``load()`` is ``corrupt``;
* decompression bombs are refused from the header alone (``photo_max_pixels``),
  before pixel data is allocated, and decoding keeps at most about two copies
  of the pixels alive (see docs/benchmarks.md for time and memory per size);
* every byte of metadata is dropped: EXIF (incl. GPS), XMP, IPTC, comments,
  text chunks and ICC profiles.  EXIF orientation is applied first, an embedded
  ICC profile is converted to sRGB next (so wide-gamut phone photos keep their
  colours), then only the pixel data is re-encoded in the same format;
* storage is content addressed by the SHA-256 of the *stripped* bytes at
  ``photo_dir/ab/abcdef….ext``, written atomically and idempotently.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from bot.settings import get_settings

# The largest pixel count (width * height) accepted is settings.photo_max_pixels, checked
# from the header before decoding: memory and time grow with pixels, not with file size.
# Pillow's own global Image.MAX_IMAGE_PIXELS is deliberately left untouched;
# if somebody lowers it, its DecompressionBombError is caught as well.

JPEG_QUALITY = 92
WEBP_QUALITY = 90
# Encoder effort: re-encoding, not decoding, is what costs most for PNG and WebP.  The fastest
# settings are 4-9x faster than the defaults for a 16 MP picture (a noisy 16 MP PNG: 1.2 s instead
# of 5.6 s; a lossless WebP: 1.2 s instead of 11 s) for files 5-50% larger; see docs/benchmarks.md.
PNG_COMPRESS_LEVEL = 1
WEBP_METHOD = 2  # lossy: half the time of method 4, about the same size
WEBP_LOSSLESS = dict(method=0, quality=0)

# "failed": the photo could not be processed for a reason of ours (a decode worker died), not the file's.
REASONS = ("not_image", "too_large", "unsupported_format", "empty", "corrupt", "failed")

# Pillow format name -> (stored format, extension, MIME type)
_ACCEPTED = {
    "JPEG": ("JPEG", "jpg", "image/jpeg"),
    "MPO": ("JPEG", "jpg", "image/jpeg"),  # multi-picture JPEG: first picture kept
    "PNG": ("PNG", "png", "image/png"),
    "WEBP": ("WEBP", "webp", "image/webp"),
}

# What checking and re-encoding one pixel costs, relative to JPEG (time and memory measured in
# docs/benchmarks.md): zlib and libwebp are several times slower than libjpeg, and libwebp's encoder
# needs 2-4x the memory.  A photo is refused when pixels * cost > photo_max_pixels, so the setting
# is the JPEG limit and PNG and WebP get a half and a third of it.
_PIXEL_COST = {"JPEG": 1, "MPO": 1, "PNG": 2, "WEBP": 3}

# Pixel modes each output format is re-encoded in; anything else is converted.
_PNG_MODES = {"1", "L", "LA", "I", "I;16", "RGB", "RGBA"}

_ACCEPTED_KO = "JPG, PNG, WebP 사진으로 다시 보내 주세요."


def _format_bytes(n: int) -> str:
    mib = 1024 * 1024
    if n >= mib:
        value = n / mib
        return f"{value:.0f}MB" if n % mib == 0 else f"{value:.1f}MB"
    if n >= 1024:
        return f"{n // 1024}KB"
    return f"{n}B"


class PhotoRejected(Exception):
    """A photo the bot will not store.

    ``reason`` is one of :data:`REASONS`; ``message_ko`` is what to tell the user.
    ``index`` is set by :func:`decode_base64_photos` to the position of the bad
    item in the list it was given (``None`` otherwise).
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        max_bytes: int | None = None,
        pixels: bool = False,
        format_name: str | None = None,
        index: int | None = None,
    ) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown PhotoRejected reason {reason!r}")
        self.reason = reason
        self.detail = detail
        self.max_bytes = max_bytes
        self.pixels = pixels  # too_large because of resolution, not file size
        self.format_name = format_name
        self.index = index
        super().__init__(f"{reason}: {detail}" if detail else reason)

    def __reduce__(self):
        # Rebuilt with every field when it comes back from a decode worker process.
        return (
            _rebuild_rejected,
            (self.reason, self.detail, self.max_bytes, self.pixels, self.format_name, self.index),
        )

    @property
    def message_ko(self) -> str:
        if self.reason == "empty":
            return "사진 파일이 비어 있어요. 사진을 다시 보내 주세요."
        if self.reason == "too_large":
            if self.pixels:
                return "사진 해상도가 너무 커요. 크기를 줄여서 다시 보내 주세요."
            limit = self.max_bytes if self.max_bytes is not None else get_settings().photo_max_bytes
            return f"사진이 너무 커요(최대 {_format_bytes(limit)}). 크기를 줄여서 다시 보내 주세요."
        if self.reason == "unsupported_format":
            if self.format_name:
                return f"{self.format_name} 파일은 받을 수 없어요. {_ACCEPTED_KO}"
            return f"지원하지 않는 사진 형식이에요. {_ACCEPTED_KO}"
        if self.reason == "corrupt":
            return "사진 파일이 손상돼서 열 수 없어요. 다른 사진으로 다시 보내 주세요."
        if self.reason == "failed":
            return "사진을 처리하지 못했어요. 잠시 후에 다시 보내 주세요."
        return f"사진 파일이 아니에요. {_ACCEPTED_KO}"


def _rebuild_rejected(reason, detail, max_bytes, pixels, format_name, index) -> PhotoRejected:
    return PhotoRejected(
        reason, detail, max_bytes=max_bytes, pixels=pixels, format_name=format_name, index=index
    )


@dataclass(frozen=True)
class StoredPhoto:
    sha256: str
    path: Path
    mime: str
    width: int
    height: int
    size_bytes: int
    phash: str  # 64-bit DCT perceptual hash, 16 lowercase hex chars


# --------------------------------------------------------------------------- decoding


def _open_checked(data: bytes, max_bytes: int, max_pixels: int) -> tuple[Image.Image, str]:
    """Decode ``data`` fully; return the loaded image and Pillow's format name."""
    try:
        probe = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise PhotoRejected("too_large", str(exc), max_bytes=max_bytes, pixels=True) from exc
    except UnidentifiedImageError as exc:
        raise PhotoRejected("not_image", "Pillow cannot identify the data") from exc
    except Exception as exc:  # noqa: BLE001 - a broken header can raise nearly anything
        raise PhotoRejected("corrupt", f"header: {exc!r}") from exc

    fmt = probe.format or ""
    if fmt not in _ACCEPTED:
        probe.close()
        raise PhotoRejected("unsupported_format", fmt or "unknown", format_name=fmt or None)
    width, height = probe.size
    if width <= 0 or height <= 0:
        raise PhotoRejected("corrupt", f"bad size {width}x{height}")
    limit = max_pixels // _PIXEL_COST[fmt]
    if width * height > limit:
        probe.close()
        raise PhotoRejected(
            "too_large", f"{fmt} {width}x{height} exceeds {limit} pixels", max_bytes=max_bytes, pixels=True
        )

    try:
        probe.verify()
    except Image.DecompressionBombError as exc:
        raise PhotoRejected("too_large", str(exc), max_bytes=max_bytes, pixels=True) from exc
    except Exception as exc:  # noqa: BLE001
        raise PhotoRejected("corrupt", f"verify: {exc!r}") from exc

    # verify() leaves the image unusable: reopen and really decode the pixels.
    # (Relies on PIL.ImageFile.LOAD_TRUNCATED_IMAGES staying False, Pillow's default.)
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Image.DecompressionBombError as exc:
        raise PhotoRejected("too_large", str(exc), max_bytes=max_bytes, pixels=True) from exc
    except Exception as exc:  # noqa: BLE001 - truncated/garbled data: OSError, SyntaxError, ValueError, …
        raise PhotoRejected("corrupt", f"load: {exc!r}") from exc
    return img, fmt


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert pixels described by an embedded ICC profile to sRGB (best effort)."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, src, dst, outputMode=out_mode)
        return converted if converted is not None else img
    except Exception:  # noqa: BLE001 - a bogus profile must not reject the photo
        return img


def _has_transparency(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info


def _normalise_mode(img: Image.Image, out_format: str) -> Image.Image:
    if out_format == "JPEG":
        return img if img.mode in ("L", "RGB") else img.convert("RGB")
    if out_format == "PNG":
        if img.mode in _PNG_MODES:
            return img
        return img.convert("RGBA" if _has_transparency(img) else "RGB")
    # WEBP
    if img.mode in ("RGB", "RGBA"):
        return img
    return img.convert("RGBA" if _has_transparency(img) else "RGB")


def _is_lossless_webp(data: bytes) -> bool:
    """True when the first image chunk of a WebP file is VP8L (lossless)."""
    lossless = data.find(b"VP8L", 12)
    lossy = data.find(b"VP8 ", 12)
    return lossless != -1 and (lossy == -1 or lossless < lossy)


def _clean_pixels(img: Image.Image, out_format: str) -> Image.Image:
    """The pixels of ``img``, upright, in sRGB and a mode ``out_format`` can hold, as a new plain image.

    Consumes ``img``: it and each intermediate image are closed as soon as the next one exists, so
    no more than two copies of the pixels are alive at once (memory is what a pixel bomb attacks).
    """
    ImageOps.exif_transpose(img, in_place=True)  # keeps img.info, so the ICC profile is still there
    current = img
    for step in (_to_srgb, lambda im: _normalise_mode(im, out_format)):
        following = step(current)
        if following is not current:
            current.close()
            current = following
    # A plain Image (not the plugin's subclass, so no parser state) holding only the pixels: an
    # empty info dict means no EXIF, ICC, XMP, text or comment reaches the encoder.
    if current is img:
        current = img.copy()
        img.close()
    current.info = {}
    return current


def _strip(img: Image.Image, fmt: str, data: bytes) -> tuple[bytes, Image.Image]:
    """Re-encode only the pixel data; return the new bytes and the clean image (``img`` is consumed)."""
    out_format = _ACCEPTED[fmt][0]
    try:
        clean = _clean_pixels(img, out_format)
        buf = io.BytesIO()
        if out_format == "JPEG":
            clean.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True)
        elif out_format == "PNG":
            clean.save(buf, "PNG", optimize=False, compress_level=PNG_COMPRESS_LEVEL)
        else:
            if _is_lossless_webp(data):
                clean.save(buf, "WEBP", lossless=True, **WEBP_LOSSLESS)
            else:
                clean.save(buf, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    except PhotoRejected:
        raise
    except MemoryError as exc:
        raise PhotoRejected("too_large", "out of memory while re-encoding", pixels=True) from exc
    except Exception as exc:  # noqa: BLE001
        raise PhotoRejected("corrupt", f"re-encode: {exc!r}") from exc
    return buf.getvalue(), clean


# --------------------------------------------------------------------------- storage


def _write_atomic(path: Path, payload: bytes) -> None:
    if path.exists() and path.stat().st_size == len(payload):
        return  # content addressed: same name and size means same bytes already there
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def check_size(data: bytes, max_bytes: int) -> None:
    """Refuse raw bytes over ``max_bytes`` before anything looks inside them."""
    if len(data) > max_bytes:
        raise PhotoRejected("too_large", f"{len(data)} bytes > {max_bytes}", max_bytes=max_bytes)


def store_photo(
    data: bytes,
    *,
    directory: Path | None = None,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
) -> StoredPhoto:
    """Validate, strip and store one photo; raise :class:`PhotoRejected` if it is not acceptable.

    Limits not given come from the settings (``photo_dir``, ``photo_max_bytes``, ``photo_max_pixels``).
    """
    settings = None
    if directory is None or max_bytes is None or max_pixels is None:
        settings = get_settings()
    directory = Path(directory) if directory is not None else settings.photo_dir
    max_bytes = max_bytes if max_bytes is not None else settings.photo_max_bytes
    max_pixels = max_pixels if max_pixels is not None else settings.photo_max_pixels

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PhotoRejected("not_image", f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise PhotoRejected("empty", "no bytes")
    check_size(data, max_bytes)

    img, fmt = _open_checked(data, max_bytes, max_pixels)
    payload, clean = _strip(img, fmt, data)
    del img  # closed by _strip
    _, ext, mime = _ACCEPTED[fmt]

    digest = hashlib.sha256(payload).hexdigest()
    path = Path(directory) / digest[:2] / f"{digest}.{ext}"
    _write_atomic(path, payload)
    return StoredPhoto(
        sha256=digest,
        path=path,
        mime=mime,
        width=clean.width,
        height=clean.height,
        size_bytes=len(payload),
        phash=perceptual_hash(clean),
    )


# --------------------------------------------------------------------------- perceptual hash


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix: ``C @ x`` is the DCT of the column vector ``x``."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    c = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    c[0, :] = np.sqrt(1.0 / n)
    return c


_DCT32 = _dct_matrix(32)


# Rows composited at a time by _gray_on_white: small enough that the RGBA bands stay a few MB.
_BAND_ROWS = 256


def _gray_on_white(img: Image.Image) -> Image.Image:
    """8-bit grayscale of ``img``, transparent areas composited on white.

    Compositing is per pixel, so doing it a band of rows at a time gives the very same pixels as
    doing it at once, without three full-size RGBA copies of a large transparent photo.
    """
    if not _has_transparency(img):
        return img.convert("L")
    gray = Image.new("L", img.size)
    for top in range(0, img.height, _BAND_ROWS):
        band = img.crop((0, top, img.width, min(top + _BAND_ROWS, img.height))).convert("RGBA")
        background = Image.new("RGBA", band.size, (255, 255, 255, 255))
        gray.paste(Image.alpha_composite(background, band).convert("L"), (0, top))
    return gray


def perceptual_hash(img: Image.Image | bytes) -> str:
    """64-bit DCT pHash as 16 hex chars.

    Grayscale (transparent areas composited on white), resized to 32x32, 2-D
    DCT-II, the 8x8 lowest-frequency coefficients *excluding* the DC row and
    column (``dct[1:9, 1:9]``, as in the original pHash), each bit set when the
    coefficient is above their median.  Bits are read row-major, most
    significant first.  Accepts a Pillow image or encoded image bytes.
    """
    if isinstance(img, (bytes, bytearray, memoryview)):
        img = Image.open(io.BytesIO(bytes(img)))
    gray = _gray_on_white(img).resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=3.0)
    pixels = np.asarray(gray, dtype=np.float64)
    dct = _DCT32 @ pixels @ _DCT32.T
    low = dct[1:9, 1:9]
    bits = (low > np.median(low)).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:016x}"


def phash_distance(a: str, b: str) -> int:
    """Hamming distance between two 16-hex-char perceptual hashes (0 = identical, 64 = opposite)."""
    if len(a) != 16 or len(b) != 16:
        raise ValueError("perceptual hashes must be 16 hex characters")
    return bin(int(a, 16) ^ int(b, 16)).count("1")


# --------------------------------------------------------------------------- REST channel

_B64_JUNK = re.compile(r"\s+")


def max_encoded_chars(max_bytes: int) -> int:
    """The longest ``metadata.photos`` string that may still hold a photo of ``max_bytes``.

    Base64 is 4 characters per 3 bytes; MIME line breaks (2 per 76 characters) and a data-URL
    prefix are allowed on top.  Anything longer is too large whatever it contains.
    """
    return -(-max_bytes // 3) * 4 * 78 // 76 + 256


def check_encoded_size(item: Any, max_bytes: int) -> None:
    """Refuse an oversized ``metadata.photos`` string by its length alone, before any decoding."""
    if isinstance(item, (str, bytes, bytearray)) and len(item) > max_encoded_chars(max_bytes):
        raise PhotoRejected("too_large", f"{len(item)} characters of base64", max_bytes=max_bytes)


def _decode_item(item: Any, max_bytes: int) -> bytes:
    """One ``metadata.photos`` entry (base64 or data URL) to raw bytes, or PhotoRejected."""
    check_encoded_size(item, max_bytes)
    if isinstance(item, (bytes, bytearray)):
        try:
            item = bytes(item).decode("ascii")
        except UnicodeDecodeError as exc:
            raise PhotoRejected("not_image", "base64 item is not ASCII") from exc
    if not isinstance(item, str):
        raise PhotoRejected("not_image", f"expected a base64 string, got {type(item).__name__}")
    text = item.strip()
    if text[:5].lower() == "data:":
        header, sep, body = text.partition(",")
        if not sep:
            raise PhotoRejected("not_image", "data URL without a comma")
        # The declared media type is ignored on purpose: the bytes decide.
        if not header.lower().endswith(";base64"):
            raw = urllib.parse.unquote_to_bytes(body)
            if len(raw) > max_bytes:
                raise PhotoRejected("too_large", f"{len(raw)} bytes > {max_bytes}", max_bytes=max_bytes)
            return raw
        text = body
    text = _B64_JUNK.sub("", text)
    if not text:
        raise PhotoRejected("empty", "empty base64 string")
    # Refuse oversized payloads before decoding them (3 bytes per 4 characters).
    if (len(text) * 3) // 4 - text[-2:].count("=") > max_bytes:
        raise PhotoRejected("too_large", "base64 payload larger than the limit", max_bytes=max_bytes)
    text = text.rstrip("=")
    if len(text) % 4 == 1:
        raise PhotoRejected("not_image", "invalid base64 length")
    text += "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.b64decode(text, altchars=b"-_", validate=True)
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PhotoRejected("not_image", "invalid base64") from exc


def store_base64(
    item: Any, *, directory: Path | None = None, max_bytes: int | None = None, max_pixels: int | None = None
) -> StoredPhoto:
    """Decode one ``metadata.photos`` entry and store it like :func:`store_photo` (or raise PhotoRejected).

    The unit of work a decode worker runs: everything CPU- and memory-heavy happens in here.
    """
    if max_bytes is None:
        max_bytes = get_settings().photo_max_bytes
    raw = _decode_item(item, max_bytes)
    return store_photo(raw, directory=directory, max_bytes=max_bytes, max_pixels=max_pixels)


def as_photo_list(items: Any) -> tuple[list, PhotoRejected | None]:
    """``metadata.photos`` as a list: ``None`` is no photos, one string is one photo, anything else
    that is not a list is refused as a whole (the rejection has ``index`` 0)."""
    if items is None:
        return [], None
    if isinstance(items, (str, bytes, bytearray)):
        return [items], None
    if isinstance(items, (list, tuple)):
        return list(items), None
    return [], PhotoRejected("not_image", f"photos must be a list, got {type(items).__name__}", index=0)


def decode_base64_photos(
    items: list, *, directory: Path | None = None, max_bytes: int | None = None, max_pixels: int | None = None
) -> tuple[list[StoredPhoto], list[PhotoRejected]]:
    """Store every good photo of a REST ``metadata.photos`` list; collect the bad ones.

    Items are base64 strings or ``data:…;base64,…`` URLs.  Never raises for bad
    input: every bad item becomes a :class:`PhotoRejected` (with ``index`` set)
    and the good ones are stored regardless, in input order.  The same photo sent
    twice yields the same :class:`StoredPhoto` twice (dedupe by ``sha256`` if needed).
    ``None`` is treated as an empty list and a single string as a one-item list.
    """
    if max_bytes is None:
        max_bytes = get_settings().photo_max_bytes
    items, wrong_type = as_photo_list(items)
    if wrong_type is not None:
        return [], [wrong_type]

    stored: list[StoredPhoto] = []
    rejected: list[PhotoRejected] = []
    for index, item in enumerate(items):
        try:
            stored.append(store_base64(item, directory=directory, max_bytes=max_bytes, max_pixels=max_pixels))
        except PhotoRejected as exc:
            exc.index = index
            rejected.append(exc)
    return stored, rejected


__all__ = [
    "PhotoRejected",
    "StoredPhoto",
    "as_photo_list",
    "check_encoded_size",
    "check_size",
    "decode_base64_photos",
    "max_encoded_chars",
    "perceptual_hash",
    "phash_distance",
    "store_base64",
    "store_photo",
]
