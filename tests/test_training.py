"""Short trainings on generated, separable faces: they must clearly beat chance."""

import csv
import json

import numpy as np
import pytest
import torch

from conftest import write_tree
from rtfer.data import read_image_folder
from rtfer.data.labels import to_scheme
from rtfer.data.readers import FaceDataset
from rtfer.errors import RtferError
from rtfer.runtime.predict import predict_probs
from rtfer.runtime.torch_weights import load_model
from rtfer.taxonomy import VALENCE3, LabelScheme
from rtfer.train.trainer import TrainConfig, Trainer, lr_factor

SMALL = {"widths": [8, 16, 16, 32], "head_hidden": 0, "dropout": 0.0}


@pytest.fixture(scope="module")
def separable(tmp_path_factory):
    root = tmp_path_factory.mktemp("sep")
    counts = {"angry": 60, "happy": 60, "sad": 60, "neutral": 60}
    train = read_image_folder(write_tree(root / "train", counts, seed=1), use_cache=False)
    val = read_image_folder(write_tree(root / "val", dict.fromkeys(counts, 20), seed=2), use_cache=False)
    return train, val


def config(**overrides):
    base = dict(model_config=SMALL, epochs=4, batch_size=32, lr=0.05, warmup_epochs=0.5, augment=0.3,
                device="cpu", seed=0)
    return TrainConfig(**{**base, **overrides})


@pytest.mark.parametrize("mode", ["off", "joint"])
def test_short_training_beats_chance(separable, tmp_path, mode):
    train, val = separable
    summary = Trainer(config(supcon=mode), train, val, tmp_path / mode, show_progress=False).fit()
    accuracy = summary["val"]["accuracy"]
    assert accuracy > 0.75, f"{mode}: val accuracy {accuracy:.2f} (chance 0.25)"
    run = tmp_path / mode
    for name in ("history.csv", "curves.png", "best.safetensors", "best.json", "confusion.png", "errors.png",
                 "val_report.json", "checkpoint.safetensors", "checkpoint.json"):
        assert (run / name).is_file(), name
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert len(rows) == 4 and {"train_loss", "val_acc", "lr"} <= set(rows[0])
    meta = json.loads((run / "best.json").read_text())
    assert meta["labels"] == list(train.scheme.labels) and meta["metrics"]["val_accuracy"] == accuracy
    assert meta["training"]["config"]["supcon"] == mode


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_learn(separable, tmp_path, precision):
    train, val = separable
    trainer = Trainer(config(precision=precision), train, val, tmp_path, show_progress=False)
    assert trainer.bf16 == (precision == "bf16")
    accuracy = trainer.fit()["val"]["accuracy"]
    assert accuracy > 0.75, f"{precision}: val accuracy {accuracy:.2f} (chance 0.25)"
    weights = load_model(tmp_path / "best.safetensors")[0]
    assert all(t.dtype == torch.float32 for t in weights.state_dict().values() if t.is_floating_point())


def test_auto_precision_is_decided_by_a_measured_probe():
    from rtfer.train.trainer import use_bf16

    cpu = torch.device("cpu")
    assert use_bf16("auto", cpu, {False: 1.0, True: 0.6}.get)  # AVX-512 BF16 / AMX: bf16 is faster
    assert not use_bf16("auto", cpu, {False: 1.0, True: 4.6}.get)  # AVX2 emulates bf16: 4.6x slower here
    assert not use_bf16("auto", cpu, {False: 1.0, True: 0.95}.get)  # not worth it under a 10% gain
    assert use_bf16("auto", torch.device("cuda")) and use_bf16("bf16", cpu) and not use_bf16("fp32", cpu)


def test_the_precision_verdict_is_measured_once_per_machine_and_model(tmp_path, monkeypatch):
    from rtfer.train.trainer import use_bf16

    monkeypatch.setenv("RTFER_CACHE", str(tmp_path))
    calls = []

    def probe(bf16: bool) -> float:
        calls.append(bf16)
        return 0.5 if bf16 else 1.0

    cpu = torch.device("cpu")
    assert use_bf16("auto", cpu, probe, cache_key="cpu-a|msfernet") and len(calls) == 2
    assert use_bf16("auto", cpu, probe, cache_key="cpu-a|msfernet") and len(calls) == 2
    assert use_bf16("auto", cpu, probe, cache_key="cpu-b|msfernet") and len(calls) == 4
    for cached in tmp_path.glob("precision-*.json"):
        cached.write_text("damaged")
    assert use_bf16("auto", cpu, probe, cache_key="cpu-a|msfernet") and len(calls) == 6


def test_the_probe_times_real_steps_and_leaves_the_model_as_it_was(separable, tmp_path):
    from rtfer.train.trainer import step_seconds

    trainer = Trainer(config(), separable[0], None, tmp_path, show_progress=False)
    before = {k: v.clone() for k, v in trainer.learner.state_dict().items()}
    batch = torch.randn(4, 1, 48, 48)
    assert 0 < step_seconds(trainer.learner, batch, bf16=False) < 10
    assert all(torch.equal(before[k], v) for k, v in trainer.learner.state_dict().items())


def test_two_stage_pretrains_then_fine_tunes(separable, tmp_path):
    train, val = separable
    summary = Trainer(config(supcon="two-stage", epochs=5, pretrain_epochs=2), train, val, tmp_path,
                      show_progress=False).fit()
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert [r["stage"] for r in rows] == ["supcon", "supcon", "ce", "ce", "ce"]
    assert summary["best_epoch"] >= 3  # weights are only selected from fine-tuning epochs
    assert summary["val"]["accuracy"] > 0.6


def test_resume_continues_the_same_run(separable, tmp_path):
    train, val = separable
    Trainer(config(epochs=1, ema_decay=0.9), train, val, tmp_path, show_progress=False).fit()
    resumed = Trainer(config(epochs=2, ema_decay=0.9), train, val, tmp_path, resume=True, show_progress=False)
    assert resumed.start_epoch == 1
    resumed.fit()
    assert [r["epoch"] for r in csv.DictReader((tmp_path / "history.csv").open())] == ["1", "2"]


def test_plateau_schedule_drops_the_rate_and_resumes_exactly(separable, tmp_path):
    train, val = separable
    plateau = dict(schedule="plateau", plateau_patience=0, plateau_factor=0.5, warmup_epochs=1, crop=40,
                   precision="fp32")
    Trainer(config(epochs=4, **plateau), train, val, tmp_path / "straight", show_progress=False).fit()
    Trainer(config(epochs=2, **plateau), train, val, tmp_path / "split", show_progress=False).fit()
    Trainer(config(epochs=4, **plateau), train, val, tmp_path / "split", resume=True, show_progress=False).fit()
    straight, split = (list(csv.DictReader((tmp_path / run / "history.csv").open())) for run in ("straight", "split"))
    keys = ("lr", "train_loss", "val_acc")
    assert [[r[k] for k in keys] for r in straight] == [[r[k] for k in keys] for r in split]
    rates = [float(r["lr"]) for r in straight]
    assert rates[1] == pytest.approx(0.05)  # full rate once the 1-epoch warm-up is over
    for before, after, row in zip(rates[1:], rates[2:], straight[1:], strict=False):
        assert after == pytest.approx(before) or after == pytest.approx(before / 2), row
    state = json.loads((tmp_path / "split" / "checkpoint.json").read_text())["plateau"]
    assert state["mode"] == "max" and state["factor"] == 0.5


def test_plateau_schedule_needs_validation_data(separable, tmp_path):
    with pytest.raises(RtferError, match="needs validation data"):
        Trainer(config(schedule="plateau"), separable[0], None, tmp_path)


def test_random_crops_keep_the_input_size():
    from rtfer.train.augment import face_augmentation

    faces = torch.rand(6, 1, 48, 48)
    for strength in (0.0, 1.0):
        out = face_augmentation(strength, "fer", crop=40, size=48)(faces)
        assert out.shape == faces.shape and not torch.equal(out, faces)


def test_resume_without_checkpoint_is_a_clear_error(separable, tmp_path):
    with pytest.raises(RtferError, match="no checkpoint"):
        Trainer(config(), separable[0], None, tmp_path, resume=True)


def test_init_from_copies_matching_tensors(separable, tmp_path):
    train, val = separable
    Trainer(config(epochs=1), train, val, tmp_path / "a", show_progress=False).fit()
    three, _ = to_scheme(train, VALENCE3)
    warm = Trainer(config(epochs=1), three, None, tmp_path / "b", init_weights=str(tmp_path / "a"),
                   show_progress=False)
    source, _ = load_model(tmp_path / "a")
    assert torch.equal(warm.learner.net.stem[0][0].weight, source.stem[0][0].weight)
    assert warm.learner.net.head.out_features == 3
    neutral = train.scheme.labels.index("neutral")
    assert torch.equal(warm.learner.net.head.weight[VALENCE3.labels.index("neutral")], source.head.weight[neutral])


def test_init_from_maps_classifier_rows_by_class_name(separable, tmp_path):
    """CK+ lists its classes in another order than FER2013: each class must keep its own row."""
    train, _ = separable
    Trainer(config(epochs=1), train, None, tmp_path / "a", show_progress=False).fit()
    order = train.scheme.labels[::-1]
    reordered = FaceDataset(train.images, len(order) - 1 - train.labels, LabelScheme("reversed", order))
    warm = Trainer(config(epochs=1), reordered, None, tmp_path / "b", init_weights=str(tmp_path / "a"),
                   show_progress=False)
    source, _ = load_model(tmp_path / "a")
    assert torch.equal(warm.learner.net.head.weight, source.head.weight.flip(0))
    assert torch.equal(warm.learner.net.head.bias, source.head.bias.flip(0))


def test_saved_weights_reproduce_the_predictions(separable, tmp_path):
    train, val = separable
    trainer = Trainer(config(epochs=1), train, val, tmp_path, show_progress=False)
    trainer.fit()
    model, meta = load_model(tmp_path / "best.safetensors")
    _, _, probs = trainer.evaluate(val, net=model)
    assert np.allclose(predict_probs(model, meta, val.images), probs, atol=1e-6)


def test_schedule_warms_up_then_decays():
    cfg = TrainConfig(epochs=10, warmup_epochs=1, supcon="off")
    assert lr_factor(cfg, 0.0) < 0.01 and lr_factor(cfg, 1.0) == pytest.approx(1.0, abs=1e-3)
    assert lr_factor(cfg, 9.99) < 0.05
    staged = TrainConfig(epochs=10, supcon="two-stage", pretrain_epochs=4)
    assert lr_factor(staged, 4.0) < 0.01  # warm-up again when fine-tuning starts


@pytest.mark.parametrize(("field", "value", "message"), [
    ("supcon", "maybe", "--supcon"), ("optimizer", "lbfgs", "--optimizer"), ("epochs", 0, "at least 1 epoch"),
    ("precision", "fp8", "--precision"), ("schedule", "step", "--schedule"), ("crop", 60, "--crop"),
    ("distil_weight", 2.0, "--distil-weight")])
def test_bad_config_is_rejected(field, value, message):
    with pytest.raises(RtferError, match=message):
        TrainConfig(**{field: value})


def test_wrong_input_size_is_rejected(tmp_path):
    data = read_image_folder(write_tree(tmp_path / "d", {"happy": 4, "sad": 4}), size=32, use_cache=False)
    with pytest.raises(RtferError, match="takes 48x48"):
        Trainer(config(), data, None, tmp_path / "run")


def test_ema_warms_up_instead_of_keeping_the_initial_weights():
    from torch.optim.swa_utils import AveragedModel

    from rtfer.train.trainer import ema_with_warmup

    net = torch.nn.Linear(2, 2)
    ema = AveragedModel(net, avg_fn=ema_with_warmup(0.999), use_buffers=True)
    for _ in range(50):
        with torch.no_grad():
            net.weight.add_(1.0)
        ema.update_parameters(net)
    lag = float((net.weight[0, 0] - ema.module.weight[0, 0]).detach())
    assert 0 < lag < 10  # a plain 0.999 EMA would lag by about 49


def test_distillation_loss_is_zero_when_the_student_agrees_with_the_teacher():
    from rtfer.train.distil import distillation_loss

    teacher = torch.softmax(torch.randn(5, 7), 1)
    assert distillation_loss(teacher.log(), teacher, 2.0).abs() < 1e-5
    assert distillation_loss(torch.randn(5, 7), teacher, 2.0) > 0.01


def test_teacher_targets_belong_to_one_training_set(separable, tmp_path):
    from rtfer.train.distil import load_teacher_targets, write_teacher_targets

    train, val = separable
    Trainer(config(epochs=2), train, val, tmp_path / "teacher", show_progress=False).fit()
    teacher = str(tmp_path / "teacher" / "best.safetensors")
    targets = write_teacher_targets([teacher, teacher], train, tmp_path / "targets.safetensors")
    probs = load_teacher_targets(targets, train)
    assert probs.shape == (len(train), len(train.scheme))
    assert torch.allclose(probs.sum(1), torch.ones(len(train)), atol=1e-4)
    with pytest.raises(RtferError, match="other training faces"):
        load_teacher_targets(targets, train.subset(np.arange(len(train) - 1)))
    student = Trainer(config(teacher=str(targets), epochs=3, model_config={**SMALL, "widths": [8, 8, 16, 16]}),
                      train, val, tmp_path / "student", show_progress=False).fit()
    assert student["val"]["accuracy"] > 0.75
