"""Data files are untrusted: truncated, corrupted, oversized or unreadable CIFAR-10 archives and
picture folders are a ``ValueError`` that names the file and says what is wrong (never a raw
``EOFError``, ``DecompressionBombError`` or silently wrong pixels), and sizes are checked before
anything is read whole. Every test writes its own small malformed files."""

from __future__ import annotations

import hashlib
import io
import itertools
import struct
import tarfile
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import vlmgym.core.image_tiles as it
from fake_cifar import batches, write_archive, write_folder
from vlmgym import ImageTiles

_COUNTER = itertools.count()
_WORK = Path(tempfile.mkdtemp(prefix="vlmgym-robust-data-"))
GOOD_ARCHIVE, GOOD_PICS = write_archive(_WORK / "good", per_class=4)
GOOD_BYTES = GOOD_ARCHIVE.read_bytes()
GOOD_DIGEST = ImageTiles.from_cifar10(GOOD_ARCHIVE, images_per_class=4).digest
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"


def _write(data: bytes, name: str = "cifar-10-binary.tar.gz") -> Path:
    """A file of its own per call (loads are cached by path, size and modification time)."""
    folder = _WORK / f"case{next(_COUNTER)}"
    folder.mkdir()
    path = folder / name
    path.write_bytes(data)
    return path


def _tar(files: dict[str, bytes], compression: str = "gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}" if compression else "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _names_file_and_source(message: str, path: Path) -> None:
    assert str(path) in message, message
    assert URL in message and "VLMGYM_CIFAR10" in message, "says where to get a good copy"


# -- CIFAR-10 archives ------------------------------------------------------------------------------
@given(cut=st.integers(0, len(GOOD_BYTES) - 1))
def test_every_truncated_archive_is_a_value_error_naming_the_file(cut):
    path = _write(GOOD_BYTES[:cut])
    with pytest.raises(ValueError) as info:
        ImageTiles.from_cifar10(path, images_per_class=4)
    message = str(info.value)
    _names_file_and_source(message, path)
    if cut >= 10:  # past the gzip header: the stream ends early
        assert "truncated" in message and "download it again" in message


# tarfile writes the gzip header with the archive's file name; none of it is covered by the CRC
GZIP_HEADER = 10 + GOOD_BYTES.index(b"\0", 10) + 1 - 10


@given(pos=st.integers(GZIP_HEADER, len(GOOD_BYTES) - 1), bit=st.integers(0, 7))
def test_every_bit_flip_after_the_gzip_header_is_detected(pos, bit):
    data = bytearray(GOOD_BYTES)
    data[pos] ^= 1 << bit
    path = _write(bytes(data))
    with pytest.raises(ValueError, match="corrupted|truncated") as info:
        ImageTiles.from_cifar10(path, images_per_class=4)
    _names_file_and_source(str(info.value), path)


def _gzip(data: bytes, crc_of: bytes | None = None) -> bytes:
    """A gzip stream of ``data`` (no file name) whose trailer has the CRC and length of ``crc_of``."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    ref = data if crc_of is None else crc_of
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + comp.compress(data) + comp.flush()
            + struct.pack("<II", zlib.crc32(ref), len(ref)))


def test_a_corrupted_archive_is_not_reported_as_a_wrong_format():
    # A changed digit in the first entry's declared size (with a header checksum to match) makes
    # the records divide unevenly and the entries fall out of step; the diagnosis must still be the
    # gzip CRC, found by reading to the end, not "not CIFAR-10 records".
    original = _tar(batches(per_class=4)[0], compression="")
    raw = bytearray(original)
    raw[124 + 9] ^= 0x01  # a digit of the octal size field
    raw[148:156] = f"{sum(raw[:148]) + 8 * 32 + sum(raw[156:512]):06o}\0 ".encode()
    path = _write(_gzip(bytes(raw), crc_of=original))
    with pytest.raises(ValueError, match="corrupted .*CRC check failed"):
        ImageTiles.from_cifar10(path, images_per_class=4)
    # the same bytes with a matching CRC are an intact archive of the wrong shape: said so
    path = _write(_gzip(bytes(raw)))
    with pytest.raises(ValueError, match="not a whole number of 3073-byte CIFAR-10 binary records"):
        ImageTiles.from_cifar10(path, images_per_class=4)


def test_official_archive_size_requires_the_published_md5(monkeypatch):
    # The real archive cannot be part of the tests; the check is exercised with the fake one
    # standing in for it (its size and MD5 in place of the official ones).
    assert it.CIFAR10_MD5 == "c32a1d4ab5d03f1284b67883e8d87530"  # www.cs.toronto.edu/~kriz/cifar.html
    monkeypatch.setattr(it, "CIFAR10_ARCHIVE_BYTES", len(GOOD_BYTES))
    monkeypatch.setattr(it, "CIFAR10_MD5", hashlib.md5(GOOD_BYTES).hexdigest())
    tiles = ImageTiles.from_cifar10(_write(GOOD_BYTES), images_per_class=4)
    assert tiles.digest == GOOD_DIGEST and "MD5 verified" in tiles.source
    data = bytearray(GOOD_BYTES)
    data[5] ^= 0xFF  # in the gzip time stamp: gzip itself cannot see this one, the MD5 can
    path = _write(bytes(data))
    with pytest.raises(ValueError, match="MD5 is [0-9a-f]{32}, not [0-9a-f]{32}: the file is corrupted") as info:
        ImageTiles.from_cifar10(path, images_per_class=4)
    _names_file_and_source(str(info.value), path)


def test_other_archives_are_checked_by_their_own_checksums():
    files, _ = batches(per_class=4)
    for compression, note in (("bz2", "bz2 checksum verified"), ("xz", "xz checksum verified"),
                              ("gz", "gzip checksum verified")):
        data = _tar(files, compression)
        tiles = ImageTiles.from_cifar10(_write(data), images_per_class=4)
        assert tiles.digest == GOOD_DIGEST and note in tiles.source
        with pytest.raises(ValueError, match="truncated|corrupted"):
            ImageTiles.from_cifar10(_write(data[: len(data) - 7]), images_per_class=4)
    plain = _tar(files, "")
    tiles = ImageTiles.from_cifar10(_write(plain, "cifar.tar"), images_per_class=4)
    assert tiles.digest == GOOD_DIGEST and "no checksum" in tiles.source
    # cut at an entry boundary: no checksum, but the end-of-archive marker is missing
    with tarfile.open(fileobj=io.BytesIO(plain)) as tf:
        boundary = tf.getmembers()[2].offset  # after data_batch_1 and data_batch_2
    with pytest.raises(ValueError, match="truncated .*no end-of-archive marker"):
        ImageTiles.from_cifar10(_write(plain[:boundary], "cifar.tar"))


def test_size_limits_are_checked_before_reading(monkeypatch):
    files, _ = batches(per_class=4)
    member = len(files["data_batch_1.bin"])
    monkeypatch.setattr(it, "MAX_MEMBER_BYTES", member - 1)
    with pytest.raises(ValueError, match=f"data_batch_[12].bin' has {member:,} bytes, more than the "
                                         f"{member - 1:,} allowed"):
        ImageTiles.from_cifar10(_write(GOOD_BYTES), images_per_class=4)
    folder, _ = write_folder(_WORK / f"case{next(_COUNTER)}", per_class=4)
    with pytest.raises(ValueError, match=f"has {member:,} bytes, more than the {member - 1:,} allowed"):
        ImageTiles.from_cifar10(folder, images_per_class=4)
    monkeypatch.undo()
    monkeypatch.setattr(it, "MAX_ARCHIVE_MEMBERS", 3)
    with pytest.raises(ValueError, match="more than 3 entries"):
        ImageTiles.from_cifar10(_write(GOOD_BYTES), images_per_class=4)
    monkeypatch.undo()
    monkeypatch.setattr(it, "MAX_ARCHIVE_BYTES", len(GOOD_BYTES) - 1)
    with pytest.raises(ValueError, match="more than the .* allowed for a CIFAR-10 archive"):
        ImageTiles.from_cifar10(_write(GOOD_BYTES), images_per_class=4)
    monkeypatch.setattr(it, "MAX_ARCHIVE_BYTES", len(GOOD_BYTES) + 100)  # the file fits, its content not
    with pytest.raises(ValueError, match="decompresses to more than"):
        ImageTiles.from_cifar10(_write(GOOD_BYTES), images_per_class=4)


def test_a_gzip_bomb_stops_at_the_limit_without_reading_it(monkeypatch):
    monkeypatch.setattr(it, "MAX_ARCHIVE_BYTES", 1 << 20)
    files = {"data_batch_1.bin": bytes(3 << 20)}  # 3 MiB of zeros: 3 kB compressed
    with pytest.raises(ValueError, match="decompresses to more than 1,048,576 bytes"):
        ImageTiles.from_cifar10(_write(_tar(files)), images_per_class=4)


@pytest.mark.parametrize("value", [0, 1001, 10**9, True, 2.5])
def test_pool_size_is_bounded_before_any_file_is_read(value, tmp_path):
    with pytest.raises(ValueError, match="images_per_class must be an integer from 1 to 1000"):
        ImageTiles.from_cifar10(tmp_path / "not-there", images_per_class=value)
    with pytest.raises(ValueError, match="images_per_class must be an integer from 1 to 1000"):
        ImageTiles.from_folder(tmp_path / "not-there", images_per_class=value)


# -- picture folders --------------------------------------------------------------------------------
def _png(size=(40, 30), seed=0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels (its data is a few bytes)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _folder_with(bad: bytes, name: str = "002.png") -> tuple[Path, Path]:
    root = _WORK / f"folder{next(_COUNTER)}"
    for cls in ("apple", "pear"):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            (root / cls / f"{i:03d}.png").write_bytes(_png(seed=i))
    path = root / "pear" / name
    path.write_bytes(bad)
    return root, path


@pytest.mark.parametrize("width,height", [(9000, 9000), (30000, 30000)])
def test_oversized_declared_pictures_are_refused_before_decoding(width, height):
    # 9000^2 is over vlmgym's limit, 30000^2 over Pillow's decompression-bomb limit as well
    root, path = _folder_with(_png_header_only(width, height))
    with pytest.raises(ValueError, match=f"picture {str(path)!r} is too large"):
        ImageTiles.from_folder(root, images_per_class=3, image_px=8)


def test_picture_file_size_is_checked_before_reading(monkeypatch):
    root, path = _folder_with(_png(size=(64, 64)))
    monkeypatch.setattr(it, "MAX_PICTURE_BYTES", path.stat().st_size - 1)
    with pytest.raises(ValueError, match=f"{str(path)!r} is too large: {path.stat().st_size} bytes"):
        ImageTiles.from_folder(root, images_per_class=3)


@pytest.mark.parametrize("bad", [b"", b"not a picture at all", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n"])
def test_unreadable_pictures_name_the_file(bad):
    root, path = _folder_with(bad)
    with pytest.raises(ValueError, match=f"cannot read picture {str(path)!r}"):
        ImageTiles.from_folder(root, images_per_class=3)


@given(cut=st.integers(0, len(_png()) - 1))
def test_truncated_pictures_load_whole_or_name_the_file(cut):
    good = _png()
    root, path = _folder_with(good[:cut])
    try:
        tiles = ImageTiles.from_folder(root, images_per_class=3, image_px=8)
    except ValueError as exc:
        assert str(path) in str(exc)
    else:  # only bytes after the pixel data were cut (end marker, a chunk's CRC): nothing is lost
        whole = ImageTiles.from_folder(_folder_with(good)[0], images_per_class=3, image_px=8)
        assert cut >= len(good) - 24 and tiles.class_sizes == (2, 3)
        assert np.array_equal(tiles.images, whole.images)


@given(pos=st.integers(0, len(_png()) - 1), bit=st.integers(0, 7))
def test_bit_flipped_pictures_never_escape_as_other_errors(pos, bit):
    data = bytearray(_png())
    data[pos] ^= 1 << bit
    root, path = _folder_with(bytes(data))
    try:
        tiles = ImageTiles.from_folder(root, images_per_class=3, image_px=8)
    except ValueError as exc:
        assert str(path) in str(exc)
    else:
        assert tiles.images.shape == (5, 8, 8, 3)


@pytest.mark.parametrize("image_px", [3, 513, 20000])
def test_folder_picture_size_is_bounded_before_anything_is_read(image_px, tmp_path):
    with pytest.raises(ValueError, match="image_px must be an integer from 4 to 512"):
        ImageTiles.from_folder(tmp_path / "not-there", image_px=image_px)


def test_atlas_memory_is_bounded_before_allocating(monkeypatch):
    tiles = ImageTiles(np.zeros((10, 4, 4, 3), np.uint8), list(range(10)), [f"c{k}" for k in range(10)])
    assert tiles.atlas(64).shape == (11, 64, 64, 3)
    monkeypatch.setattr(it, "MAX_ATLAS_BYTES", 11 * 64 * 64 * 3 - 1)
    with pytest.raises(ValueError, match="atlas of 10 pictures at cell_px=64 would take .* MiB limit"):
        tiles.atlas(64)
