import logging

import cv2
import numpy as np
import pytest

from conftest import needs_shared, write_tree
from rtfer.data import kfold_indices, read_ckplus48, read_fer2013_csv, read_image_folder
from rtfer.data.labels import to_scheme
from rtfer.errors import DataError
from rtfer.taxonomy import FER7, VALENCE3


def test_reads_folder_tree_into_uint8_memory(tiny_tree):
    data = read_image_folder(tiny_tree)
    assert data.images.shape == (160, 48, 48) and data.images.dtype == np.uint8
    assert data.scheme == FER7
    assert data.class_counts()["happy"] == 40 and data.class_counts()["disgust"] == 0
    assert data.groups is None


def test_resizes_to_the_requested_size(tiny_tree):
    assert read_image_folder(tiny_tree, size=32).images.shape[1:] == (32, 32)


def test_corrupt_image_is_skipped_with_a_warning(tiny_tree, caplog):
    (tiny_tree / "happy" / "broken.png").write_bytes(b"\x89PNG not really")
    (tiny_tree / "sad" / "empty.jpg").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        data = read_image_folder(tiny_tree)
    assert len(data) == 160
    assert sorted(p.split("/")[-1] for p in data.skipped) == ["broken.png", "empty.jpg"]
    assert "skipped 2 unreadable" in caplog.text


def test_unknown_folder_lists_accepted_names(tiny_tree):
    (tiny_tree / "bored").mkdir()
    with pytest.raises(DataError, match="'bored' is not an emotion.*accepted names"):
        read_image_folder(tiny_tree)


def test_empty_and_missing_datasets(tmp_path):
    (tmp_path / "happy").mkdir()
    with pytest.raises(DataError, match="no images found"):
        read_image_folder(tmp_path)
    with pytest.raises(DataError, match="not found"):
        read_image_folder(tmp_path / "nowhere")


def test_cache_returns_the_same_faces(tiny_tree):
    first = read_image_folder(tiny_tree)
    second = read_image_folder(tiny_tree)
    assert np.array_equal(first.images, second.images) and np.array_equal(first.labels, second.labels)


def test_ckplus_subject_ids_from_file_names(tmp_path):
    root = write_tree(tmp_path / "ck", {"anger": 12, "contempt": 12, "happy": 12}, subjects=6)
    data = read_ckplus48(root)
    assert data.scheme.name == "ckplus7"
    assert sorted(set(data.groups)) == [f"S{i:03d}" for i in range(1, 7)]


def test_fer2013_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["emotion,pixels,Usage"]
    for i in range(6):
        pixels = " ".join(map(str, rng.integers(0, 256, 48 * 48)))
        rows.append(f"{i % 7},{pixels},{'Training' if i < 4 else 'PublicTest'}")
    rows.append("3,1 2 3,Training")  # malformed: too few pixels
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(rows) + "\n")
    train = read_fer2013_csv(path)
    assert train.images.shape == (4, 48, 48) and train.labels.tolist() == [0, 1, 2, 3]
    assert len(train.skipped) == 1
    assert len(read_fer2013_csv(path, "PublicTest")) == 2
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="missing column"):
        read_fer2013_csv(tmp_path / "other.csv")


def test_subject_independent_folds_never_share_a_subject(tmp_path):
    root = write_tree(tmp_path / "ck", {"anger": 30, "happy": 30, "surprise": 30}, subjects=15)
    data = read_ckplus48(root)
    seen_test = []
    for train, test in kfold_indices(data.labels, 5, data.groups, split="subject"):
        assert not set(data.groups[train]) & set(data.groups[test])
        seen_test.extend(test)
    assert sorted(seen_test) == list(range(len(data)))


def test_subject_split_needs_groups_and_enough_subjects():
    labels = np.arange(20) % 2
    with pytest.raises(DataError, match="subject ids"):
        list(kfold_indices(labels, 5, None))
    with pytest.raises(DataError, match="only 2 subjects"):
        list(kfold_indices(labels, 5, np.array(["a", "b"] * 10)))
    assert len(list(kfold_indices(labels, 5, None, split="image"))) == 5


def test_relabel_to_three_groups_drops_surprise(tiny_tree):
    data, left_out = to_scheme(read_image_folder(tiny_tree), VALENCE3)
    assert left_out == {"surprise": 40}
    assert data.class_counts() == {"negative": 80, "neutral": 0, "positive": 40}


def test_grayscale_conversion_of_colour_images(tmp_path):
    (tmp_path / "happy").mkdir()
    colour = np.zeros((60, 60, 3), np.uint8)
    colour[..., 2] = 200
    cv2.imwrite(str(tmp_path / "happy" / "red.jpg"), colour)
    data = read_image_folder(tmp_path)
    assert data.images.shape == (1, 48, 48) and 40 < data.images.mean() < 80


@needs_shared("datasets", "fer2013", "val")
def test_fer2013_val_reads_completely():
    from conftest import SHARED

    data = read_image_folder(SHARED / "datasets/fer2013/val")
    assert len(data) == 3589 and not data.skipped
    assert data.class_counts()["disgust"] == 56


@needs_shared("datasets", "ckplus48")
def test_ckplus48_has_118_subjects():
    from conftest import SHARED

    data = read_ckplus48(SHARED / "datasets/ckplus48")
    assert len(data) == 981 and len(set(data.groups)) == 118
    for train, test in kfold_indices(data.labels, 10, data.groups):
        assert not set(data.groups[train]) & set(data.groups[test])
