"""Write small archives in the official CIFAR-10 binary format (for tests; no download).

Format: ``cifar-10-batches-bin/`` with ``data_batch_1.bin`` .. ``data_batch_5.bin`` and
``test_batch.bin``, each a run of 3,073-byte records (one label byte, then 1,024 red, 1,024 green
and 1,024 blue bytes, rows of 32 pixels), plus ``batches.meta.txt`` with one class name per line.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def fake_pictures(label: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` distinct 32x32 pictures of class ``label``: a class colour plus per-picture noise."""
    rng = np.random.default_rng(seed * 1000 + label)
    base = np.array([(37 * label) % 256, (91 * label + 40) % 256, (173 * label + 80) % 256])
    noise = rng.integers(0, 64, size=(count, 32, 32, 3))
    return ((base + noise) % 256).astype(np.uint8)


def records(labels: list[int], pictures: np.ndarray) -> bytes:
    """CIFAR-10 binary records for HWC pictures."""
    out = bytearray()
    for label, pic in zip(labels, pictures):
        out.append(label)
        out += pic.transpose(2, 0, 1).tobytes()  # channel planes, row-major
    return bytes(out)


def batches(per_class: int = 6, seed: int = 0, classes: tuple[str, ...] = CLASSES,
            ) -> tuple[dict[str, bytes], dict[int, np.ndarray]]:
    """File name -> bytes of a tiny release, and the training pictures of each class in file order.

    The training pictures are interleaved by class and split over data_batch_1 and data_batch_2
    (batches 3-5 are empty), like the real files' mixed order.
    """
    k = len(classes)
    pics = {c: fake_pictures(c, per_class, seed) for c in range(k)}
    order = [(c, i) for i in range(per_class) for c in range(k)]  # c0 c1 ... c9 c0 c1 ...
    half = len(order) // 2
    files: dict[str, bytes] = {}
    for name, part in (("data_batch_1.bin", order[:half]), ("data_batch_2.bin", order[half:])):
        files[name] = records([c for c, _ in part], np.stack([pics[c][i] for c, i in part]))
    for j in range(3, 6):
        files[f"data_batch_{j}.bin"] = b""
    test = [(c, 0) for c in range(k)]
    test_pics = {c: fake_pictures(c, 1, seed + 1) for c in range(k)}
    files["test_batch.bin"] = records([c for c, _ in test], np.stack([test_pics[c][0] for c, _ in test]))
    files["batches.meta.txt"] = ("\n".join(classes) + "\n\n").encode()
    return files, pics


def write_folder(root: Path, **kw: object) -> tuple[Path, dict[int, np.ndarray]]:
    """The extracted ``cifar-10-batches-bin`` folder under ``root``."""
    files, pics = batches(**kw)  # type: ignore[arg-type]
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder, pics


def write_archive(root: Path, **kw: object) -> tuple[Path, dict[int, np.ndarray]]:
    """``cifar-10-binary.tar.gz`` under ``root`` (members inside ``cifar-10-batches-bin/``)."""
    files, pics = batches(**kw)  # type: ignore[arg-type]
    root.mkdir(parents=True, exist_ok=True)
    path = root / "cifar-10-binary.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        # not in canonical order, like the real archive
        for name in sorted(files, reverse=True):
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(files[name])
            tf.addfile(info, io.BytesIO(files[name]))
    return path, pics
