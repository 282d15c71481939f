"""Image tile sets: the CIFAR-10 binary reader, image folders, atlases, and image-tile Shisen-Sho."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from fake_cifar import CLASSES, write_archive, write_folder
from reference import shisensho_ref as ref
from vlmgym import GameState, ImageTiles
from vlmgym.core import rng as rngmod
from vlmgym.core.tiles import EMPTY_COLOR, GRID_COLOR
from vlmgym.games.shisensho import Shisensho

CIFAR_ID = "VLMGym/ShisenshoCifar10-v0"


# -- CIFAR-10 binary reader ------------------------------------------------------------------------
def test_archive_and_extracted_folder_give_the_same_pool(tmp_path):
    archive, pics = write_archive(tmp_path / "a", per_class=7)
    folder, _ = write_folder(tmp_path / "b", per_class=7)
    from_tar = ImageTiles.from_cifar10(archive, images_per_class=5)
    from_dir = ImageTiles.from_cifar10(folder, images_per_class=5)
    from_parent = ImageTiles.from_cifar10(tmp_path / "b", images_per_class=5)
    assert from_tar.digest == from_dir.digest == from_parent.digest
    assert from_tar.class_names == CLASSES
    assert from_tar.class_sizes == (5,) * 10
    assert from_tar.images.shape == (50, 32, 32, 3)
    for label in range(10):
        # the first five pictures of each class in file order, decoded from channel planes
        assert np.array_equal(from_tar.images[from_tar.labels == label], pics[label][:5])


def test_pool_spans_batches_and_splits(tmp_path):
    archive, pics = write_archive(tmp_path, per_class=6)
    # data_batch_1 holds three pictures per class, data_batch_2 the other three
    tiles = ImageTiles.from_cifar10(archive, images_per_class=6)
    assert tiles.class_sizes == (6,) * 10
    assert np.array_equal(tiles.images[tiles.labels == 3], pics[3])
    small = ImageTiles.from_cifar10(archive, images_per_class=100)
    assert small.class_sizes == (6,) * 10, "a class with fewer pictures keeps what there is"
    test = ImageTiles.from_cifar10(archive, split="test")
    assert test.class_sizes == (1,) * 10
    both = ImageTiles.from_cifar10(archive, split="all")
    assert both.class_sizes == (7,) * 10
    with pytest.raises(ValueError, match="split"):
        ImageTiles.from_cifar10(archive, split="validation")


def test_env_variable_names_the_archive(tmp_path, monkeypatch):
    archive, _ = write_archive(tmp_path, per_class=4)
    monkeypatch.setenv("VLMGYM_CIFAR10", str(archive))
    assert ImageTiles.from_cifar10().class_names == CLASSES
    env = gym.make(CIFAR_ID, obs_mode="text")
    obs, _ = env.reset(seed=0)
    assert set(c.strip() for c in obs.replace("\n", "|").split("|")) <= set(CLASSES)


def test_missing_or_wrong_files_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("VLMGYM_CIFAR10", raising=False)
    with pytest.raises(ValueError, match="VLMGYM_CIFAR10 is not set"):
        ImageTiles.from_cifar10()
    with pytest.raises(FileNotFoundError) as exc:
        ImageTiles.from_cifar10(tmp_path / "nothing-here")
    message = str(exc.value)
    assert "cifar-10-binary.tar.gz" in message and "https://www.cs.toronto.edu" in message
    assert "cifar10_path=" in message and "VLMGYM_CIFAR10" in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="neither"):
        ImageTiles.from_cifar10(tmp_path / "empty")
    bad = tmp_path / "bad" / "cifar-10-batches-bin"
    bad.mkdir(parents=True)
    (bad / "data_batch_1.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(ValueError, match="3073-byte"):
        ImageTiles.from_cifar10(bad)
    python_release = tmp_path / "cifar-10-python.tar.gz"
    python_release.write_bytes(b"not read")
    with pytest.raises(ValueError, match="pickle"):
        ImageTiles.from_cifar10(python_release)
    not_tar = tmp_path / "cifar-10-binary.tar.gz"
    not_tar.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="tar"):
        ImageTiles.from_cifar10(not_tar)


# -- folders and the constructor ---------------------------------------------------------------
def write_pictures(root, classes: dict[str, int], size=(40, 30)) -> None:
    for k, (name, count) in enumerate(classes.items()):
        d = root / name
        d.mkdir(parents=True)
        for i in range(count):
            color = (20 * k % 256, 40 * i % 256, 200)
            Image.new("RGB", size, color).save(d / f"{i:03d}.png")
    (root / "README.txt").write_text("not a class")


def test_from_folder_reads_one_sub_folder_per_class(tmp_path):
    write_pictures(tmp_path, {"zebra": 5, "apple": 6, "mango": 4})
    tiles = ImageTiles.from_folder(tmp_path, images_per_class=5, image_px=16)
    assert tiles.class_names == ("apple", "mango", "zebra")  # sorted folders
    assert tiles.class_sizes == (5, 4, 5)
    assert tiles.images.shape == (14, 16, 16, 3)
    assert tuple(tiles.images[0, 8, 8]) == (20, 0, 200)  # apple's first picture (folder index 1)
    game = Shisensho(4, 4, types=3, tiles=ImageTiles.from_folder(tmp_path, images_per_class=5))
    assert game.rules["classes"] == ["apple", "mango", "zebra"]
    same = Shisensho(4, 4, types=3, tiles="folder", image_folder=tmp_path, images_per_class=5)
    assert same.rules == game.rules  # same pictures, same rules (the path is not part of them)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageTiles.from_folder(tmp_path / "nope")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match="no pictures"):
        ImageTiles.from_folder(tmp_path)


@pytest.mark.parametrize("names,match", [
    (["a|b", "c"], "cannot be used in board text"),
    (["cat", "Cat"], "unique"),
    (["-", "dog"], "cannot be used"),
    (["caf\u00e9", "dog"], "printable ASCII"),
])
def test_constructor_rejects_names_that_break_board_text(names, match):
    with pytest.raises(ValueError, match=match):
        ImageTiles(np.zeros((2, 4, 4, 3), np.uint8), [0, 1], names)


def test_constructor_checks_shapes_and_labels():
    with pytest.raises(ValueError, match="uint8"):
        ImageTiles(np.zeros((2, 4, 4, 3), np.float32), [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="without pictures"):
        ImageTiles(np.zeros((2, 4, 4, 3), np.uint8), [0, 0], ["a", "b"])
    with pytest.raises(ValueError, match="labels must be in"):
        ImageTiles(np.zeros((2, 4, 4, 3), np.uint8), [0, 2], ["a", "b"])


def test_select_and_atlas(cifar10_archive):
    tiles = ImageTiles.from_cifar10(cifar10_archive)
    sub = tiles.select(["truck", "cat"])
    assert sub.class_names == ("truck", "cat") and sub.class_sizes == (6, 6)
    assert np.array_equal(sub.images[:6], tiles.images[tiles.labels == 9])
    atlas = sub.atlas(56)
    assert atlas.shape == (13, 56, 56, 3) and atlas.dtype == np.uint8
    assert tuple(atlas[0, 28, 28]) == EMPTY_COLOR
    assert tuple(atlas[1, 0, 0]) == GRID_COLOR  # the gap around every tile
    gap = 56 // 14
    face = Image.fromarray(sub.images[0]).resize((56 - 2 * gap,) * 2, Image.Resampling.LANCZOS)
    assert np.array_equal(atlas[1, gap:-gap, gap:-gap], np.asarray(face))


# -- image-tile Shisen-Sho --------------------------------------------------------------------------
def cifar_game(archive, **kw) -> Shisensho:
    return Shisensho(tiles="cifar10", cifar10_path=archive, **kw)


def test_deal_uses_four_different_pictures_of_each_drawn_class(cifar10_archive):
    game = cifar_game(cifar10_archive)
    batch = game.new_batch(40)
    batch["rng"][:] = rngmod.seed_from(np.random.default_rng(0), 40)
    game.deal(batch)
    drawn_classes = set()
    for board in batch["board"]:
        ids = board.ravel()
        assert (ids > 0).all() and len(np.unique(ids)) == 36, "36 different pictures"
        classes, counts = np.unique(game.tile_classes(board), return_counts=True)
        assert len(classes) == 9 and (counts == 4).all()
        drawn_classes.add(tuple(classes))
    assert len(drawn_classes) > 1, "9 of the 10 classes, drawn per board"
    assert len(np.unique(batch["board"])) > 50, "pictures come from the whole pool"


def test_matching_is_by_class_not_picture(cifar10_archive):
    game = cifar_game(cifar10_archive, rows=2, cols=4, types=2)
    tiles = ImageTiles.from_cifar10(cifar10_archive)
    cat = [k + 1 for k in np.flatnonzero(tiles.labels == 3)]
    dog = [k + 1 for k in np.flatnonzero(tiles.labels == 5)]
    batch = game.new_batch(1)
    batch["board"][0] = [[cat[0], cat[1], dog[0], dog[1]], [cat[2], cat[3], dog[2], dog[3]]]
    assert game.board_text(batch, 0) == " cat | cat | dog | dog \n cat | cat | dog | dog "
    out = game.apply(batch, np.array([[0, 0, 0, 1]]), np.array([True]))
    assert out.legal.tolist() == [True], "two different cat pictures match"
    out = game.apply(batch, np.array([[1, 1, 1, 2]]), np.array([True]))
    assert out.legal.tolist() == [False], "a cat and a dog do not"
    GameState.from_bytes(GameState("shisensho", game.rules, {**{k: v[0] for k, v in batch.items()}}).to_bytes())


def test_legal_moves_of_played_image_boards_match_reference(cifar10_archive):
    vec = gym.make_vec(CIFAR_ID, num_envs=6, obs_mode="text", action_mode="index",
                       cifar10_path=str(cifar10_archive))
    vec.reset(seed=1)
    rng = np.random.default_rng(0)
    game = vec.unwrapped.game
    for _ in range(8):
        mask = game.legal_mask(vec.unwrapped.engine.batch)
        for i, board in enumerate(vec.unwrapped.engine.batch["board"]):
            classes = [[None if v < 0 else int(v) for v in row] for row in game.tile_classes(board).tolist()]
            assert int(mask[i].sum()) == 2 * len(ref.legal_pairs(classes))
        acts = np.array([rng.choice(np.flatnonzero(m)) if m.any() else 0 for m in mask])
        vec.step(acts)


def test_snapshots_restore_the_exact_pictures(cifar10_archive):
    env = gym.make(CIFAR_ID, cifar10_path=str(cifar10_archive), action_mode="index")
    frame, info = env.reset(seed=4)
    env.step(int(np.flatnonzero(info["action_mask"])[0]))
    snap = env.unwrapped.get_state()
    frame = env.unwrapped.engine.frames(env.unwrapped.engine.batch)[0]
    other = gym.make(CIFAR_ID, cifar10_path=str(cifar10_archive))
    other.reset(seed=99)
    other.unwrapped.set_state(GameState.from_bytes(snap.to_bytes()))
    assert np.array_equal(other.unwrapped.engine.frames(other.unwrapped.engine.batch)[0], frame)
    # a different pool (other pictures) is a different tile set: its states do not mix
    other_pool = gym.make(CIFAR_ID, cifar10_path=str(cifar10_archive), images_per_class=5)
    other_pool.reset(seed=0)
    with pytest.raises(ValueError, match="rules"):
        other_pool.unwrapped.set_state(snap)


def test_atlas_is_a_bounded_pool(cifar10_archive):
    game = cifar_game(cifar10_archive, images_per_class=5)
    assert game.sprites(28).shape == (51, 28, 28, 3)
    assert "cifar10_path" not in game.rules and not any(
        str(cifar10_archive) in str(v) for v in game.rules.values()), "no paths in rules"


@pytest.mark.parametrize("kw,match", [
    ({"rows": 8, "cols": 8, "types": 11}, "needs at least 11 kinds.*10 image classes"),
    ({"classes": 5}, "needs at least 9 kinds"),
    ({"images_per_class": 3}, "at least 4 different pictures"),
    ({"colors": 4}, "image tiles take classes="),
    ({"shapes": ["star"]}, "image tiles take classes="),
    ({"classes": ["cat", "unicorn"]}, "unknown class 'unicorn'"),
])
def test_image_sets_too_small_or_misused_say_what_is_needed(cifar10_archive, kw, match):
    with pytest.raises(ValueError, match=match):
        gym.make(CIFAR_ID, cifar10_path=str(cifar10_archive), **kw)
