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
"""

from __future__ import annotations

import hashlib
import os
import string
import tarfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image

from vlmgym.core.tiles import GRID_COLOR, draw_shape_tile, select_names

__all__ = ["ImageTiles", "CIFAR10_ENV_VAR", "CIFAR10_URL", "CIFAR10_CLASSES"]

#: Environment variable naming the CIFAR-10 binary archive (or its extracted folder).
CIFAR10_ENV_VAR = "VLMGYM_CIFAR10"
#: Where the official binary release lives.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
#: Class names of CIFAR-10 in label order (``batches.meta.txt`` overrides them when present).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")

_CIFAR_SIDE = 32
_CIFAR_RECORD = 1 + 3 * _CIFAR_SIDE * _CIFAR_SIDE
_CIFAR_DIR = "cifar-10-batches-bin"
_CIFAR_SPLITS = {
    "train": tuple(f"data_batch_{k}.bin" for k in range(1, 6)),
    "test": ("test_batch.bin",),
    "all": tuple(f"data_batch_{k}.bin" for k in range(1, 6)) + ("test_batch.bin",),
}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff"}
# Class names end up in board text and in Text observation spaces: printable ASCII only, and none
# of the characters that structure board text.
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + " _-.,'()&+/")


def _cifar_help(what: str) -> str:
    return (f"{what}. CIFAR-10 tiles need the official *binary* release: download "
            f"cifar-10-binary.tar.gz from {CIFAR10_URL} (see https://www.cs.toronto.edu/~kriz/"
            "cifar.html, 'CIFAR-10 binary version (suitable for C programs)') and pass "
            "cifar10_path='/path/to/cifar-10-binary.tar.gz' (the extracted cifar-10-batches-bin "
            f"folder works too), or set the environment variable {CIFAR10_ENV_VAR} to that path")


def _check_count(name: str, value: int, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


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
        cell_px = _check_count("cell_px", cell_px, 8)
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
            images_per_class: pool size per class (the first pictures of each class in file order).
            split: ``"train"`` (data_batch_1..5), ``"test"`` (test_batch) or ``"all"``.

        Raises:
            FileNotFoundError: nothing at ``path`` (the message says where to get the archive).
            ValueError: the files are not the CIFAR-10 binary format.
        """
        per_class = _check_count("images_per_class", images_per_class, 1)
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
        ``images_per_class`` pictures by sorted file name, centre-cropped to a square and resized
        to ``image_px``. Hidden files and folders are skipped.
        """
        per_class = _check_count("images_per_class", images_per_class, 1)
        side = _check_count("image_px", image_px, 4)
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
                try:
                    with Image.open(f) as im:
                        pic = _square(im.convert("RGB"), side)
                except OSError as exc:
                    raise ValueError(f"cannot read picture {str(f)!r}: {exc}") from None
                images.append(pic)
                labels.append(label)
                count += 1
            if count == 0:
                raise ValueError(f"class folder {str(d)!r} has no pictures "
                                 f"(looked for {sorted(_IMAGE_SUFFIXES)})")
        return cls(np.stack(images), labels, names, source=f"folder {root}")


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
    del mtime_ns, size
    p = Path(path)
    if p.is_file():
        try:
            with tarfile.open(p, "r:*") as tf:
                members = {Path(m.name).name: m for m in tf.getmembers() if m.isfile()}

                def opener(name: str) -> IO[bytes] | None:
                    m = members.get(name)
                    return tf.extractfile(m) if m is not None else None

                return _read_cifar(opener, per_class, split, f"CIFAR-10 {split} from {p}")
        except tarfile.TarError as exc:
            raise ValueError(_cifar_help(f"{path!r} is not a readable tar archive ({exc})")) from None

    def open_file(name: str) -> IO[bytes] | None:
        f = p / name
        return f.open("rb") if f.is_file() else None

    return _read_cifar(open_file, per_class, split, f"CIFAR-10 {split} from {p}")


def _read_cifar(opener, per_class: int, split: str, source: str) -> ImageTiles:  # type: ignore[no-untyped-def]
    names: tuple[str, ...] = CIFAR10_CLASSES
    meta = opener("batches.meta.txt")
    if meta is not None:
        with meta:
            lines = [ln.strip() for ln in meta.read().decode("utf-8", "replace").splitlines()]
        listed = tuple(ln for ln in lines if ln)
        if listed:
            names = listed
    n_classes = len(names)
    taken = np.zeros(n_classes, dtype=np.int64)
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    found_any = False
    for fname in _CIFAR_SPLITS[split]:
        if (taken >= per_class).all():
            break  # pool full: the remaining batches are never read
        f = opener(fname)
        if f is None:
            continue
        found_any = True
        with f:
            data = f.read()
        if len(data) % _CIFAR_RECORD:
            raise ValueError(_cifar_help(f"{fname} has {len(data)} bytes, not a whole number of "
                                         f"{_CIFAR_RECORD}-byte CIFAR-10 binary records"))
        rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
        lab = rec[:, 0].astype(np.int64)
        if len(lab) and lab.max() >= n_classes:
            raise ValueError(f"{fname} has label {int(lab.max())} but only {n_classes} class names")
        # keep each record whose class still has room, in file order
        onehot = lab[:, None] == np.arange(n_classes)[None, :]
        rank = np.cumsum(onehot, axis=0)[np.arange(len(lab)), lab] - 1 + taken[lab]
        keep = rank < per_class
        taken += np.bincount(lab[keep], minlength=n_classes)
        pix = rec[keep, 1:].reshape(-1, 3, _CIFAR_SIDE, _CIFAR_SIDE).transpose(0, 2, 3, 1)
        images.append(np.ascontiguousarray(pix))
        labels.append(lab[keep])
    if not found_any:
        raise FileNotFoundError(_cifar_help(f"no {split} batches ({', '.join(_CIFAR_SPLITS[split])}) "
                                            f"in {source.split(' from ')[-1]!r}"))
    if (taken == 0).any():
        missing = [names[k] for k in np.flatnonzero(taken == 0)]
        raise ValueError(f"the CIFAR-10 {split} batches have no pictures of {missing}")
    return ImageTiles(np.concatenate(images), np.concatenate(labels), names, source=source)
