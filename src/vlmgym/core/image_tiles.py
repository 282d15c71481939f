"""Image tile sets: labelled pictures used as Shisen-Sho tiles (CIFAR-10, any image folder).

An :class:`ImageTiles` is a bounded *pool* of small RGB pictures grouped by class (a few dozen per
class, never a whole dataset). Tile games match tiles by class, so two different pictures of a cat
match; the game state records which picture sits in each cell, so snapshots restore the exact
image. Pictures are upscaled to the board's cell size once, when the sprite atlas is built
(:meth:`ImageTiles.atlas`).

Two loaders:

* :meth:`ImageTiles.from_cifar10` reads the official CIFAR-10 *binary* release
  (``cifar-10-binary.tar.gz`` or its extracted ``cifar-10-batches-bin`` folder): records of one
  label byte and 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue, rows of 32). No pickle is
  ever loaded. The path defaults to the environment variable ``VLMGYM_CIFAR10``.
* :meth:`ImageTiles.from_folder` reads one sub-folder per class of any labelled image set.

Both take the first ``images_per_class`` pictures of each class in a fixed order (file order for
CIFAR-10, sorted file names for folders), so the same files always give the same pool, and
:attr:`ImageTiles.digest` identifies it.

Data files are untrusted input. Every size is checked before anything is read whole (the
``MAX_*`` limits below); a compressed archive is read to its end so that its own checksum (gzip
CRC-32 and length, bz2/xz CRC) is verified, and the official CIFAR-10 archive (recognised by its
exact size) must also have its published MD5. A truncated, corrupted, oversized or unreadable file
is a ``ValueError`` that names the file, says what is wrong and where to get a good copy.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import string
import tarfile
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import IO, cast

import numpy as np
from PIL import Image

from vlmgym.core import params
from vlmgym.core.tiles import GRID_COLOR, draw_shape_tile, select_names

try:  # (optional parts of the standard library, like tarfile treats them)
    from lzma import LZMAError as _LZMAError
except ImportError:  # pragma: no cover - Python built without lzma: .tar.xz cannot be read
    class _LZMAError(Exception):  # type: ignore[no-redef]
        pass

__all__ = ["ImageTiles", "CIFAR10_ENV_VAR", "CIFAR10_URL", "CIFAR10_CLASSES", "CIFAR10_MD5",
           "CIFAR10_ARCHIVE_BYTES", "MAX_IMAGES_PER_CLASS", "MAX_IMAGE_PX", "MAX_ARCHIVE_BYTES",
           "MAX_MEMBER_BYTES", "MAX_PICTURE_BYTES", "MAX_PICTURE_PIXELS", "MAX_ATLAS_BYTES"]

#: Environment variable naming the CIFAR-10 binary archive (or its extracted folder).
CIFAR10_ENV_VAR = "VLMGYM_CIFAR10"
#: Where the official binary release lives.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
#: Class names of CIFAR-10 in label order (``batches.meta.txt`` overrides them when present).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")
#: MD5 of the official ``cifar-10-binary.tar.gz``, as published on https://www.cs.toronto.edu/~kriz/cifar.html
#: ("CIFAR-10 binary version (suitable for C programs)").
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
#: Size in bytes of the official archive: a file of exactly this size must have :data:`CIFAR10_MD5`.
CIFAR10_ARCHIVE_BYTES = 170_052_171

# -- limits (checked before reading or allocating) -------------------------------------------------
#: Largest pool per class (a pool is a few dozen pictures per class, never a whole dataset).
MAX_IMAGES_PER_CLASS = 1000
#: Largest side of a folder picture in the pool (tiles are drawn at most 512 px wide).
MAX_IMAGE_PX = 512
#: Largest archive file, and most bytes decompressed from it (the official one: 162 MB / 185 MB).
MAX_ARCHIVE_BYTES = 1 << 30
#: Largest batch file read whole, in an archive or a folder (the official ones: 30,730,000 bytes).
MAX_MEMBER_BYTES = 64 << 20
#: Largest ``batches.meta.txt``.
MAX_META_BYTES = 64 << 10
#: Most entries in an archive (the official one has 8).
MAX_ARCHIVE_MEMBERS = 10_000
#: Largest picture file of an image folder.
MAX_PICTURE_BYTES = 64 << 20
#: Most pixels (width x height) of a picture, checked from its header before it is decoded
#: (below Pillow's own ``Image.MAX_IMAGE_PIXELS`` bomb limit, which also applies).
MAX_PICTURE_PIXELS = 64 << 20
#: Largest sprite atlas (pictures x cell_px^2 x 3 bytes).
MAX_ATLAS_BYTES = 1 << 30

_CIFAR_SIDE = 32
_CIFAR_RECORD = 1 + 3 * _CIFAR_SIDE * _CIFAR_SIDE
_CIFAR_DIR = "cifar-10-batches-bin"
_CIFAR_META = "batches.meta.txt"
_CIFAR_SPLITS = {
    "train": tuple(f"data_batch_{k}.bin" for k in range(1, 6)),
    "test": ("test_batch.bin",),
    "all": tuple(f"data_batch_{k}.bin" for k in range(1, 6)) + ("test_batch.bin",),
}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff"}
# Pillow plugins allowed to decode folder pictures (by content, not by suffix): the formats of the
# suffixes above, and no format that runs external programs (EPS) or is rarely fuzzed.
_PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "PPM", "TIFF")
# Class names end up in board text and in Text observation spaces: printable ASCII only, and none
# of the characters that structure board text.
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + " _-.,'()&+/")


def _cifar_help(what: str) -> str:
    return (f"{what}. CIFAR-10 tiles need the official *binary* release: download "
            f"cifar-10-binary.tar.gz from {CIFAR10_URL} (see https://www.cs.toronto.edu/~kriz/"
            "cifar.html, 'CIFAR-10 binary version (suitable for C programs)') and pass "
            "cifar10_path='/path/to/cifar-10-binary.tar.gz' (the extracted cifar-10-batches-bin "
            f"folder works too), or set the environment variable {CIFAR10_ENV_VAR} to that path")


class ImageTiles:
    """A pool of labelled pictures for image-tile games.

    Args:
        images: uint8 array ``(n, s, s, 3)`` of square RGB pictures.
        labels: class index of each picture, ``0 <= label < len(class_names)``.
        class_names: one name per class; used verbatim in board text (printable ASCII, no ``|``).
        source: a human-readable note on where the pictures came from (not part of the identity).

    Pictures are stored grouped by class (stable order inside a class). Every class must have at
    least one picture.
    """

    def __init__(self, images: np.ndarray, labels: Sequence[int] | np.ndarray,
                 class_names: Sequence[str], *, source: str = ""):
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3 \
                or images.shape[1] != images.shape[2] or images.shape[1] < 1:
            raise ValueError(f"images must be uint8 of shape (n, s, s, 3), got {images.dtype} "
                             f"{images.shape}")
        labels_arr = np.asarray(labels)
        if labels_arr.shape != (len(images),) or not np.issubdtype(labels_arr.dtype, np.integer):
            raise ValueError(f"labels must be {len(images)} integers, got {labels_arr.dtype} "
                             f"{labels_arr.shape}")
        names = tuple(str(n) for n in class_names)
        if not names:
            raise ValueError("an image tile set needs at least one class")
        for name in names:
            if not name or name != name.strip() or name == "-" or not set(name) <= _NAME_CHARS:
                raise ValueError(
                    f"class name {name!r} cannot be used in board text: use printable ASCII letters,"
                    " digits, spaces and _-.,'()&+/ without leading or trailing spaces")
        if len({n.casefold() for n in names}) != len(names):
            raise ValueError(f"class names must be unique (ignoring case): {list(names)}")
        if len(labels_arr) and (labels_arr.min() < 0 or labels_arr.max() >= len(names)):
            raise ValueError(f"labels must be in 0..{len(names) - 1}")
        sizes = np.bincount(labels_arr.astype(np.int64), minlength=len(names))
        if (sizes == 0).any():
            empty = [names[k] for k in np.flatnonzero(sizes == 0)]
            raise ValueError(f"classes without pictures: {empty}")
        order = np.argsort(labels_arr, kind="stable")
        self._images = np.ascontiguousarray(images[order])
        self._images.setflags(write=False)
        self._labels = labels_arr[order].astype(np.int64)
        self._labels.setflags(write=False)
        self._names = names
        self._sizes = tuple(int(s) for s in sizes)
        self.source = source
        h = hashlib.sha1()
        h.update(repr((names, self._sizes, self._images.shape)).encode())
        h.update(self._images.tobytes())
        self._digest = h.hexdigest()[:16]

    # -- read access -------------------------------------------------------------------------
    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names, in label order."""
        return self._names

    @property
    def class_sizes(self) -> tuple[int, ...]:
        """Number of pictures of each class."""
        return self._sizes

    @property
    def images(self) -> np.ndarray:
        """Read-only ``(n, s, s, 3)`` pictures, grouped by class in label order."""
        return self._images

    @property
    def labels(self) -> np.ndarray:
        """Read-only class index of each picture (sorted)."""
        return self._labels

    @property
    def digest(self) -> str:
        """Short stable id of the pool's content (names, sizes and pixels)."""
        return self._digest

    def __len__(self) -> int:
        return len(self._images)

    def __repr__(self) -> str:
        return (f"ImageTiles({len(self._names)} classes, {len(self)} pictures of "
                f"{self._images.shape[1]}px, digest={self._digest}{', ' + self.source if self.source else ''})")

    def select(self, classes: int | Sequence[str] | None) -> ImageTiles:
        """The sub-pool of some classes: a count (the first N), a list of names, or None (all)."""
        chosen = select_names(classes, self._names, "classes")
        if chosen == list(self._names):
            return self
        keep = [self._names.index(n) for n in chosen]
        remap = {old: new for new, old in enumerate(keep)}
        mask = np.isin(self._labels, keep)
        labels = np.array([remap[int(x)] for x in self._labels[mask]], dtype=np.int64)
        return ImageTiles(self._images[mask], labels, chosen, source=self.source)

    # -- pictures ----------------------------------------------------------------------------
    def atlas(self, cell_px: int) -> np.ndarray:
        """Sprites ``(1 + n, cell_px, cell_px, 3)``: the empty cell at 0, picture ``k`` at ``k + 1``.

        Each picture is resized once (Lanczos) to the tile face, inside the same gap as shape tiles.
        """
        cell_px = params.integer("cell_px", cell_px, 8)
        need = (len(self) + 1) * cell_px * cell_px * 3
        if need > MAX_ATLAS_BYTES:
            raise ValueError(f"the sprite atlas of {len(self)} pictures at cell_px={cell_px} would take "
                             f"{need / 2**20:.0f} MiB, more than the {MAX_ATLAS_BYTES >> 20} MiB limit: "
                             "use a smaller images_per_class or cell size")
        gap = max(2, cell_px // 14)
        face = cell_px - 2 * gap
        atlas = np.empty((len(self) + 1, cell_px, cell_px, 3), dtype=np.uint8)
        atlas[0] = draw_shape_tile(cell_px, None, None)
        atlas[1:] = np.array(GRID_COLOR, dtype=np.uint8)
        for k, img in enumerate(self._images):
            pic = Image.fromarray(img).resize((face, face), Image.Resampling.LANCZOS)
            atlas[k + 1, gap : gap + face, gap : gap + face] = np.asarray(pic)
        return atlas

    # -- loaders -----------------------------------------------------------------------------
    @classmethod
    def from_cifar10(cls, path: str | os.PathLike[str] | None = None, *, images_per_class: int = 50,
                     split: str = "train") -> ImageTiles:
        """Load a pool from the CIFAR-10 binary release.

        Args:
            path: ``cifar-10-binary.tar.gz``, the extracted ``cifar-10-batches-bin`` folder, or a
                folder holding either. ``None`` reads the ``VLMGYM_CIFAR10`` environment variable.
            images_per_class: pool size per class (the first pictures of each class in file order),
                1 to :data:`MAX_IMAGES_PER_CLASS`.
            split: ``"train"`` (data_batch_1..5), ``"test"`` (test_batch) or ``"all"``.

        An archive is read to its end, so its checksum is verified (gzip CRC-32; the official
        archive must also have :data:`CIFAR10_MD5`); an extracted folder has no checksum, only its
        record structure is checked.

        Raises:
            FileNotFoundError: nothing at ``path`` (the message says where to get the archive).
            ValueError: the files are not the CIFAR-10 binary format, or are truncated, corrupted
                or larger than the limits (the message names the file and what is wrong).
        """
        per_class = params.integer("images_per_class", images_per_class, 1, MAX_IMAGES_PER_CLASS)
        if split not in _CIFAR_SPLITS:
            raise ValueError(f"split must be one of {sorted(_CIFAR_SPLITS)}, got {split!r}")
        if path is None:
            env = os.environ.get(CIFAR10_ENV_VAR)
            if not env:
                raise ValueError(_cifar_help("no CIFAR-10 path given and "
                                             f"{CIFAR10_ENV_VAR} is not set"))
            path = env
        resolved = _resolve_cifar(Path(path).expanduser())
        stat = resolved.stat()
        return _load_cifar_cached(str(resolved), stat.st_mtime_ns, stat.st_size, per_class, split)

    @classmethod
    def from_folder(cls, path: str | os.PathLike[str], *, images_per_class: int = 50,
                    image_px: int = 64) -> ImageTiles:
        """Load a pool from ``path/<class name>/<picture files>`` (any format Pillow reads).

        Classes are the sub-folders in sorted order; each contributes its first
        ``images_per_class`` pictures (1 to :data:`MAX_IMAGES_PER_CLASS`) by sorted file name,
        centre-cropped to a square and resized to ``image_px`` (4 to :data:`MAX_IMAGE_PX`). Hidden
        files and folders are skipped.

        Raises:
            FileNotFoundError: ``path`` is not a folder.
            ValueError: no classes, a class without pictures, or a picture that cannot be used:
                unreadable, truncated, not one of the accepted formats, larger than
                :data:`MAX_PICTURE_BYTES` or :data:`MAX_PICTURE_PIXELS` (also Pillow's
                decompression-bomb limit); the message names the file.
        """
        per_class = params.integer("images_per_class", images_per_class, 1, MAX_IMAGES_PER_CLASS)
        side = params.integer("image_px", image_px, 4, MAX_IMAGE_PX)
        root = Path(path).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"image folder {str(root)!r} does not exist; pass a folder with "
                                    "one sub-folder of pictures per class")
        class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not class_dirs:
            raise ValueError(f"{str(root)!r} has no class sub-folders; expected "
                             "<folder>/<class name>/<pictures>")
        images: list[np.ndarray] = []
        labels: list[int] = []
        names: list[str] = []
        for label, d in enumerate(class_dirs):
            names.append(d.name)
            files = sorted(f for f in d.iterdir() if f.is_file() and not f.name.startswith(".")
                           and f.suffix.lower() in _IMAGE_SUFFIXES)
            count = 0
            for f in files:
                if count == per_class:
                    break
                images.append(_read_picture(f, side))
                labels.append(label)
                count += 1
            if count == 0:
                raise ValueError(f"class folder {str(d)!r} has no pictures "
                                 f"(looked for {sorted(_IMAGE_SUFFIXES)})")
        return cls(np.stack(images), labels, names, source=f"folder {root}")


class _PictureTooLarge(ValueError):
    pass


def _read_picture(path: Path, side: int) -> np.ndarray:
    """One folder picture as a ``side`` x ``side`` RGB array; ``ValueError`` naming the file for
    anything that cannot be used (sizes are checked before decoding)."""
    try:
        size = path.stat().st_size
        if size > MAX_PICTURE_BYTES:
            raise _PictureTooLarge(f"{size} bytes, more than the {MAX_PICTURE_BYTES >> 20} MiB limit")
        with Image.open(path, formats=_PILLOW_FORMATS) as im:
            w, h = im.size  # from the header: nothing is decoded yet
            if w * h > MAX_PICTURE_PIXELS:
                raise _PictureTooLarge(f"{w} x {h} pixels, more than the {MAX_PICTURE_PIXELS:,} allowed")
            return _square(im.convert("RGB"), side)
    except (_PictureTooLarge, Image.DecompressionBombError) as exc:
        raise ValueError(f"picture {str(path)!r} is too large: {exc}; shrink it or remove it "
                         "from the folder") from None
    except Exception as exc:  # noqa: BLE001 - decoders of untrusted files raise many types
        # (OSError for truncated data, SyntaxError, DecompressionBombError, struct.error, ...)
        raise ValueError(f"cannot read picture {str(path)!r} ({type(exc).__name__}: {exc}); "
                         f"accepted formats: {', '.join(_PILLOW_FORMATS)}") from None


def _square(img: Image.Image, side: int) -> np.ndarray:
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    img = img.crop((left, top, left + s, top + s))
    if s != side:
        img = img.resize((side, side), Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.uint8).copy()


def _resolve_cifar(path: Path) -> Path:
    """The archive file or the folder holding the ``*.bin`` batches that ``path`` points to."""
    if not path.exists():
        raise FileNotFoundError(_cifar_help(f"no CIFAR-10 data at {str(path)!r}"))
    if path.is_file():
        if "python" in path.name or path.suffix in (".pkl", ".pickle"):
            raise ValueError(_cifar_help(f"{str(path)!r} looks like the Python (pickle) release, "
                                         "which vlmgym does not load"))
        return path
    for candidate in (path, path / _CIFAR_DIR):
        if (candidate / "batches.meta.txt").is_file() or any(candidate.glob("*_batch*.bin")):
            return candidate
    archive = path / "cifar-10-binary.tar.gz"
    if archive.is_file():
        return archive
    raise FileNotFoundError(_cifar_help(f"{str(path)!r} holds neither cifar-10-binary.tar.gz nor "
                                        "the extracted cifar-10-batches-bin files"))


@lru_cache(maxsize=4)
def _load_cifar_cached(path: str, mtime_ns: int, size: int, per_class: int, split: str) -> ImageTiles:
    # Cached by (path, modification time, size): making many envs reads the archive once.
    del mtime_ns
    p = Path(path)
    pool = _CifarPool(per_class, split)
    if p.is_file():
        note = _read_archive(p, size, pool)
    else:
        _read_batch_folder(p, pool)
        note = "extracted folder, no checksum"
    return pool.finish(str(p), note)


class _CifarPool:
    """The pool being collected from batch files handed over in any order: of each batch only the
    first ``per_class`` records of each label are kept (whatever the other batches hold, no more
    can be needed), and :meth:`finish` merges them in the canonical batch order."""

    def __init__(self, per_class: int, split: str):
        self.per_class = per_class
        self.split = split
        self.batches: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}  # labels, pictures, max label
        self.meta: bytes | None = None

    @property
    def wanted(self) -> frozenset[str]:
        return frozenset(_CIFAR_SPLITS[self.split]) | {_CIFAR_META}

    def add(self, name: str, data: bytes, where: str) -> None:
        if name == _CIFAR_META:
            self.meta = data
            return
        if len(data) % _CIFAR_RECORD:
            raise ValueError(_cifar_help(f"{where}: {name} has {len(data)} bytes, not a whole number of "
                                         f"{_CIFAR_RECORD}-byte CIFAR-10 binary records"))
        rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
        lab = rec[:, 0].astype(np.int64)
        keep = _first_of_each(lab, np.full(256, self.per_class))
        self.batches[name] = (lab[keep], np.ascontiguousarray(rec[keep, 1:]),
                              int(lab.max()) if len(lab) else -1)

    def class_names(self) -> tuple[str, ...]:
        if self.meta is None:
            return CIFAR10_CLASSES
        lines = [ln.strip() for ln in self.meta.decode("utf-8", "replace").splitlines()]
        return tuple(ln for ln in lines if ln) or CIFAR10_CLASSES

    def full(self) -> bool:
        """Every class has its pool from the batches added so far (in canonical order)."""
        taken = np.zeros(256, dtype=np.int64)
        for lab, _, _ in self.batches.values():
            taken += np.bincount(lab, minlength=256)
        return bool((taken[: len(self.class_names())] >= self.per_class).all())

    def finish(self, where: str, note: str) -> ImageTiles:
        names = self.class_names()
        n_classes = len(names)
        if not self.batches:
            raise FileNotFoundError(_cifar_help(
                f"no {self.split} batches ({', '.join(_CIFAR_SPLITS[self.split])}) in {where!r}"))
        room = np.zeros(256, dtype=np.int64)
        room[:n_classes] = self.per_class
        labels, pictures = [], []
        for fname in _CIFAR_SPLITS[self.split]:
            if fname not in self.batches:
                continue
            lab, pix, top = self.batches[fname]
            if top >= n_classes:
                raise ValueError(f"{where}: {fname} has label {top} but only {n_classes} class names")
            keep = _first_of_each(lab, room)
            room -= np.bincount(lab[keep], minlength=256)
            labels.append(lab[keep])
            pictures.append(pix[keep].reshape(-1, 3, _CIFAR_SIDE, _CIFAR_SIDE).transpose(0, 2, 3, 1))
        lab_all = np.concatenate(labels)
        missing = [names[k] for k in range(n_classes) if not (lab_all == k).any()]
        if missing:
            raise ValueError(f"the CIFAR-10 {self.split} batches in {where} have no pictures of {missing}")
        return ImageTiles(np.ascontiguousarray(np.concatenate(pictures)), lab_all, names,
                          source=f"CIFAR-10 {self.split} from {where} ({note})")


def _first_of_each(lab: np.ndarray, room: np.ndarray) -> np.ndarray:
    """Mask of the records whose rank among the records of their label (in order) is below
    ``room[label]``."""
    order = np.argsort(lab, kind="stable")
    ordered = lab[order]
    rank = np.empty(len(lab), dtype=np.int64)
    rank[order] = np.arange(len(lab)) - np.searchsorted(ordered, ordered, side="left")
    return rank < room[lab]


def _read_batch_folder(folder: Path, pool: _CifarPool) -> None:
    """The extracted files, in canonical order, until the pool is full; sizes checked first."""
    for name in (_CIFAR_META, *_CIFAR_SPLITS[pool.split]):
        f = folder / name
        if not f.is_file():
            continue
        if name != _CIFAR_META and pool.batches and pool.full():
            return  # the remaining batches cannot add to the pool
        size = f.stat().st_size
        limit = MAX_META_BYTES if name == _CIFAR_META else MAX_MEMBER_BYTES
        if size > limit:
            raise ValueError(_cifar_help(f"{str(f)!r} has {size:,} bytes, more than the {limit:,} "
                                         "allowed for this CIFAR-10 file"))
        pool.add(name, f.read_bytes(), str(folder))


class _BadArchive(Exception):
    pass


def _read_archive(path: Path, size: int, pool: _CifarPool) -> str:
    """Hand the wanted files of a tar archive (plain, gzip, bz2 or xz) to ``pool``; return a note
    on how its integrity was checked.

    The archive is streamed once, to its very end, so that the checksum at the end of a
    compressed stream is verified: a truncated download raises, and so does one with bytes
    changed anywhere. The official archive also has a published MD5, checked first. Whatever
    else looks wrong (not a tar, not CIFAR-10 records) is reported only once the stream has proved
    intact, so that a corrupted file is named as such.
    """
    where = str(path)
    if size > MAX_ARCHIVE_BYTES:
        raise ValueError(_cifar_help(f"{where!r} has {size:,} bytes, more than the {MAX_ARCHIVE_BYTES:,} "
                                     f"allowed for a CIFAR-10 archive (the official one has "
                                     f"{CIFAR10_ARCHIVE_BYTES:,})"))
    verified = ""
    if size == CIFAR10_ARCHIVE_BYTES:
        digest = _md5(path)
        if digest != CIFAR10_MD5:
            raise ValueError(_cifar_help(
                f"{where!r} has the size of the official cifar-10-binary.tar.gz but its MD5 is {digest}, "
                f"not {CIFAR10_MD5}: the file is corrupted; download it again"))
        verified = "official archive, MD5 verified"
    with open(path, "rb") as raw:
        stream, kind = _decompressed(raw)
        try:  # (closing ``stream`` leaves ``raw`` open: the with block closes it)
            try:
                wrong: Exception | None = _stream_entries(stream, where, pool)
            except tarfile.ReadError as exc:
                if kind == "tar" or "unexpected end" in str(exc):
                    raise
                wrong = exc  # from the decompressor or a non-tar payload: the checksum tells
            if kind == "tar":  # no checksum, but a whole tar file ends with two zero blocks
                raw.seek(max(0, size - 2 * tarfile.BLOCKSIZE))
                if raw.read().strip(b"\0"):
                    raise EOFError("no end-of-archive marker")
            if _rest_is_not_padding(stream, kind):
                raise _BadArchive("has data after the end of its tar entries (a damaged entry header?)")
            if wrong is not None:
                raise wrong
        except _BadArchive as exc:
            raise ValueError(_cifar_help(f"{where!r} {exc}")) from None
        except (EOFError, tarfile.ReadError) as exc:
            if isinstance(exc, EOFError) or "unexpected end" in str(exc):
                raise ValueError(_cifar_help(f"{where!r} is truncated ({exc}): the download was "
                                             "probably interrupted; download it again")) from None
            raise ValueError(_cifar_help(f"{where!r} is not a readable tar archive ({exc})")) from None
        except (OSError, zlib.error, _LZMAError, tarfile.TarError) as exc:
            raise ValueError(_cifar_help(f"{where!r} is corrupted ({kind}: {exc}); download it "
                                         "again")) from None
        finally:
            stream.close()
    if verified:
        return verified
    return "uncompressed tar, no checksum" if kind == "tar" else f"{kind} checksum verified"


def _stream_entries(stream: IO[bytes], where: str, pool: _CifarPool) -> ValueError | None:
    """Read the tar entries in stream order, handing the wanted ones to ``pool``; the first
    content problem is returned (to be raised once the checksum is known good), not raised."""
    wrong: ValueError | None = None
    with tarfile.open(fileobj=stream, mode="r|") as tf:
        for count, member in enumerate(tf, 1):
            if count > MAX_ARCHIVE_MEMBERS:
                raise _BadArchive(f"has more than {MAX_ARCHIVE_MEMBERS:,} entries")
            if member.offset_data + member.size > MAX_ARCHIVE_BYTES:  # before streaming past it
                raise _BadArchive(f"decompresses to more than {MAX_ARCHIVE_BYTES:,} bytes")
            name = Path(member.name).name
            if not member.isfile() or name not in pool.wanted:
                continue
            limit = MAX_META_BYTES if name == _CIFAR_META else MAX_MEMBER_BYTES
            if member.size > limit:  # streamed past, never read
                wrong = wrong or ValueError(_cifar_help(
                    f"{where!r}: entry {member.name!r} has {member.size:,} bytes, more than the "
                    f"{limit:,} allowed for this CIFAR-10 file"))
                continue
            extracted = tf.extractfile(member)
            data = extracted.read() if extracted is not None else b""
            if len(data) != member.size:
                raise EOFError(f"entry {member.name!r} is cut short")
            try:
                pool.add(name, data, where)
            except ValueError as exc:
                wrong = wrong or exc
    return wrong


def _rest_is_not_padding(stream: IO[bytes], kind: str) -> bool:
    """Read the stream to its end (where a decompressor checks CRC and length); whether anything
    but zero padding was left after the tar entries."""
    total = stream.tell() if kind != "tar" else 0
    trailing = False
    while chunk := stream.read(1 << 20):
        total += len(chunk)
        if total > MAX_ARCHIVE_BYTES:
            raise _BadArchive(f"decompresses to more than {MAX_ARCHIVE_BYTES:,} bytes")
        trailing = trailing or bool(chunk.strip(b"\0"))
    return trailing


def _decompressed(raw: IO[bytes]) -> tuple[IO[bytes], str]:
    """A reader of the decompressed bytes (chosen by the file's magic number) and its kind."""
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")), "gzip"
    kind = "bz2" if magic.startswith(b"BZh") else "xz" if magic.startswith(b"\xfd7zXZ\x00") else "tar"
    if kind == "tar":
        return raw, kind
    try:  # (the caller closes what is returned)
        if kind == "bz2":
            import bz2

            return cast(IO[bytes], bz2.BZ2File(raw, "rb")), kind
        import lzma

        return cast(IO[bytes], lzma.LZMAFile(raw, "rb")), kind
    except ImportError as exc:  # pragma: no cover - a Python built without them
        raise ValueError(_cifar_help(f"this Python cannot read {kind} archives ({exc}); use the "
                                     ".tar.gz")) from None


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
