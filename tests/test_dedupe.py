"""Copies between face sets and the cleaning of training sets (issue 15: honest evaluation first)."""

from __future__ import annotations

import json

import cv2
import numpy as np

from conftest import SHARED, needs_shared, write_tree
from rtfer.data.dedupe import blank_faces, clean_training_set, copies_of, face_keys, training_keys
from rtfer.data.readers import FaceDataset, read_image_folder
from rtfer.evaluation.evaluate import evaluate_weights
from rtfer.taxonomy import FER7


def faces(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 48, 48), dtype=np.uint8)


def test_a_face_and_its_mirror_share_a_key_other_changes_do_not():
    face = faces(1)[0]
    shifted = np.roll(face, 1, axis=1)
    keys = face_keys(np.stack([face, face[:, ::-1], shifted, face.T]))
    assert keys[0] == keys[1] and len(set(keys[1:])) == 3


def test_copies_are_found_exact_and_mirrored_only():
    train = faces(50)
    test = np.concatenate([train[:3], train[3:5, :, ::-1], faces(10, seed=1), np.clip(train[5:6] + 1, 0, 255)])
    found = copies_of(test, np.unique(face_keys(train)))
    assert found.tolist() == [True] * 5 + [False] * 11


def test_blank_faces_are_those_without_contrast():
    images = faces(4)
    images[0] = 0
    images[1] = 128
    images[1, 0, 0] = 130  # two grey levels apart: still blank
    images[2] = 128
    images[2, 10:20, 10:20] = 200
    assert blank_faces(images).tolist() == [True, True, False, False]


def test_cleaning_drops_blank_faces_and_conflicting_copies_keeps_agreeing_ones():
    images = faces(10)
    images[1] = images[0]           # 0, 1: same face, same label -> both kept, one counted as a copy
    images[3] = images[2][:, ::-1]  # 2, 3: mirrored copy with another label -> both dropped
    images[4] = images[2]           # 4: a third member of that group -> dropped too
    images[5] = 0                   # blank -> dropped
    images[6] = 0                   # blank with another label -> dropped as blank, not counted as a conflict
    labels = np.array([0, 0, 1, 2, 1, 3, 4, 5, 6, 0])
    data = FaceDataset(images, labels, FER7, paths=[f"f{i}.png" for i in range(10)])
    kept, report = clean_training_set(data)
    assert kept.paths == ["f0.png", "f1.png", "f7.png", "f8.png", "f9.png"]
    assert report.as_dict() == {"blank": 2, "conflicting_groups": 1, "conflicting_faces": 3,
                                "duplicate_faces_kept": 1}


def copy_face(source, target) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(target), cv2.imread(str(source), cv2.IMREAD_GRAYSCALE)[:, ::-1])


def test_evaluate_reports_the_deduplicated_subset(weights, tmp_path, monkeypatch):
    train = write_tree(tmp_path / "train", {"angry": 20, "happy": 20}, seed=1)
    val = write_tree(tmp_path / "val", {"angry": 10, "happy": 10}, seed=2)
    for i in range(3):  # three mirrored copies of training faces in the validation set
        copy_face(train / "happy" / f"img_{i:05d}.png", val / "happy" / f"copy_{i}.png")
    report = evaluate_weights(str(weights), val, dedupe_against=train)
    dedup = report["deduplicated"]
    assert report["n"] == 23 and dedup["copies"] == 3 and dedup["n"] == 20
    assert sum(dedup["per_class"][name]["support"] for name in ("angry", "happy")) == 20
    json.dumps(report)


def test_training_keys_are_cached(tmp_path):
    train = write_tree(tmp_path / "train", {"angry": 5, "happy": 5})
    cache = tmp_path / "cache"
    keys = training_keys(train, cache_dir=cache)
    assert len(keys) == 10 and len(list(cache.glob("keys-*.npy"))) == 1
    cached = next(cache.glob("keys-*.npy"))
    np.save(cached, keys[:3])  # a second call reads the cache ...
    assert training_keys(train, cache_dir=cache).tolist() == keys[:3].tolist()
    cached.write_bytes(b"damaged")  # ... and rebuilds it when it is damaged
    assert training_keys(train, cache_dir=cache).tolist() == keys.tolist()


@needs_shared("datasets", "fer2013", "val")
def test_fer2013_public_test_holds_copies_of_training_faces():
    shared = SHARED / "datasets" / "fer2013"
    val = read_image_folder(shared / "val")
    copies = copies_of(val.images, training_keys(shared / "train"))
    assert 250 <= copies.sum() <= 300  # 280 here (7.8%), one of them a blank face
