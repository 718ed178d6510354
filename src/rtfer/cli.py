"""The ``rtfer`` command: one sub-command per job. Parsing and printing only; the work is in the library."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rtfer import __version__
from rtfer.errors import RtferError

log = logging.getLogger("rtfer")


def _add_training_args(parser: argparse.ArgumentParser) -> None:
    from rtfer.train import AUGMENT_POLICIES, PRECISIONS, SCHEDULES, SUPCON_MODES

    parser.add_argument("--model", default="msfernet", help="registered model name (default: msfernet)")
    parser.add_argument("--labels", type=int, choices=(7, 3), default=7,
                        help="7 emotion classes, or 3 valence groups with surprise removed")
    parser.add_argument("--supcon", choices=SUPCON_MODES, default="off",
                        help="supervised contrastive learning: off (default; best at equal compute in our "
                             "ablation, docs/training.md), joint (CE + lambda*SupCon), two-stage")
    parser.add_argument("--supcon-weight", type=float, default=0.5, help="lambda of the joint loss")
    parser.add_argument("--temperature", type=float, default=0.1, help="SupCon temperature tau")
    parser.add_argument("--pretrain-epochs", type=int, help="two-stage: SupCon epochs (default: half)")
    parser.add_argument("--epochs", type=int, help="total epochs (default 30; with --resume: as saved)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    parser.add_argument("--lr", type=float, help="peak learning rate (default: 0.05 SGD at batch 128, 2e-3 AdamW)")
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--warmup-epochs", type=float, default=1.0)
    parser.add_argument("--schedule", choices=SCHEDULES, default="cosine",
                        help="after warm-up: cosine decay (default) or ReduceLROnPlateau on val accuracy")
    parser.add_argument("--plateau-patience", type=int, default=5, metavar="EPOCHS",
                        help="plateau schedule: epochs without a better val accuracy before the rate drops")
    parser.add_argument("--plateau-factor", type=float, default=0.75, help="plateau schedule: rate multiplier")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                        help="keep an exponential moving average of the weights (e.g. 0.999)")
    parser.add_argument("--class-weighting", choices=("none", "balanced", "sqrt"), default="none")
    parser.add_argument("--augment", type=float, default=1.0, help="augmentation strength (0 = none)")
    parser.add_argument("--augment-policy", choices=AUGMENT_POLICIES,
                        help="fer (shift/rotate/flip/jitter/erase) or brightness-blur (the 35 variants of "
                             "arXiv 2504.03010); default: the model's own (msfernet fer, vggs brightness-blur)")
    parser.add_argument("--crop", type=int, default=0, metavar="PX",
                        help="random square crops of PX to full size, resized back (e.g. 44 for 48-px faces; "
                             "pairs with evaluate --tta crops)")
    parser.add_argument("--teacher", metavar="TARGETS",
                        help="distil from teacher targets written by 'rtfer teacher-targets' for this data")
    parser.add_argument("--distil-weight", type=float, default=0.5,
                        help="share of the distillation loss against cross-entropy (default 0.5)")
    parser.add_argument("--distil-temperature", type=float, default=2.0, help="softening temperature T")
    parser.add_argument("--no-clean", action="store_true",
                        help="keep blank faces and copies with conflicting labels (dropped by default)")
    parser.add_argument("--mixup", type=float, default=0.0, metavar="P",
                        help="blend a share P of faces with a partner face (same subject when known); "
                             "the blend proportions are the intensity targets of models with an intensity head")
    parser.add_argument("--intensity-weight", type=float, default=1.0,
                        help="weight of the intensity loss (sigmoid cross-entropy) for models that have one")
    parser.add_argument("--width", type=int, nargs="+", metavar="C",
                        help="model widths (msfernet: 4 numbers, vggs: 3)")
    parser.add_argument("--dropout", type=float, metavar="P", help="dropout before the classifier (model default)")
    parser.add_argument("--no-cbam", action="store_true", help="ablation: drop CBAM attention")
    parser.add_argument("--single-scale", action="store_true", help="ablation: drop the 5x5 branches")
    parser.add_argument("--subset", type=int, help="train on a stratified random subset of N faces")
    parser.add_argument("--init-from", metavar="WEIGHTS", help="warm start from weights (name or file)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="forward passes in bfloat16 autocast or float32; auto: bf16 on CUDA, and on a CPU "
                             "whichever a timed probe finds faster (bf16 with AMX or AVX-512 BF16, fp32 on AVX2)")
    parser.add_argument("--out", required=True, type=Path, metavar="RUN_DIR")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtfer", description="Real-time facial emotion recognition.")
    parser.add_argument("--version", action="version", version=f"rtfer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a model on an emotion-folder tree or fer2013.csv",
                           description="Train a model. DATA is <root>/<emotion>/* or fer2013.csv[:Usage].")
    train.add_argument("--data", required=True, help="training data")
    train.add_argument("--val", help="validation data (model selection); FER2013 PublicTest")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    _add_training_args(train)

    cv = sub.add_parser("cv", help="k-fold cross-validation (subject-independent by default)",
                        description="Cross-validate on DATA; CK+ file names give the subject ids.")
    cv.add_argument("--data", required=True)
    cv.add_argument("--folds", type=int, default=10)
    cv.add_argument("--split", choices=("subject", "image"), default="subject",
                    help="subject-independent folds, or image-level (only to compare with papers using it)")
    _add_training_args(cv)

    teacher = sub.add_parser("teacher-targets", help="store an ensemble's probabilities on the training faces",
                             description="Run the models in --weights once over every face of --data (prepared "
                                         "and cleaned as 'rtfer train' does) and store their mean probabilities "
                                         "in --out, for 'rtfer train --teacher'.")
    teacher.add_argument("--weights", required=True, nargs="+", metavar="WEIGHTS", help="the teacher models")
    teacher.add_argument("--data", required=True, help="the training data of the student")
    teacher.add_argument("--labels", type=int, choices=(7, 3), default=7)
    teacher.add_argument("--model", default="msfernet", help="the student's architecture (its input size)")
    teacher.add_argument("--tta", choices=("flip", "crops"), default="flip",
                         help="fixed views each teacher sees of every face (default flip)")
    teacher.add_argument("--no-clean", action="store_true", help="as for rtfer train")
    teacher.add_argument("--out", required=True, type=Path, metavar="FILE.safetensors")

    evaluate = sub.add_parser("evaluate", help="score weights on an emotion-folder tree",
                              description="Score WEIGHTS (a shipped model name or .safetensors file; several: "
                                          "their ensemble, the mean of their probabilities) on DIR.")
    evaluate.add_argument("--weights", required=True, nargs="+")
    evaluate.add_argument("--data", required=True, metavar="DIR")
    evaluate.add_argument("--labels", type=int, choices=(7, 3), help="7 classes or 3 valence groups")
    evaluate.add_argument("--tta", nargs="?", const="flip", choices=("flip", "crops"),
                          help="test-time views: flip (the face and its mirror; plain --tta) or crops (ten crops)")
    evaluate.add_argument("--dedupe-against", metavar="TRAIN_DIR",
                          help="also score only the faces with no exact or mirrored copy in TRAIN_DIR")
    evaluate.add_argument("--backend", choices=("onnx", "onnx-int8", "torch"), default="onnx",
                          help="onnx: the float32 graph of the weights (default); onnx-int8: the shipped 8-bit "
                               "graph; torch: the PyTorch model (needs rtfer[train])")
    evaluate.add_argument("--detect", action="store_true",
                          help="DIR holds whole photos: detect and align the face in each first")
    evaluate.add_argument("--out", type=Path, help="also write report.json, confusion.png, errors.png here")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    analyze = sub.add_parser("analyze", help="emotion and valence timeline of a video",
                             description="Analyse VIDEO (a file, a folder of frames, a webcam index or a stream "
                                         "URL) and write timeline.csv, summary.json and timeline.png to --out.")
    analyze.add_argument("video")
    analyze.add_argument("--out", required=True, type=Path, metavar="DIR")
    analyze.add_argument("--weights", default=None, help="shipped model name or .safetensors file "
                         "(default: the shipped default model)")
    analyze.add_argument("--every", type=int, default=1, metavar="N", help="process every N-th frame")
    analyze.add_argument("--fps", type=float, metavar="F", help="process about F frames per second")
    analyze.add_argument("--subject", default="largest", metavar="largest|track:N|face:IMAGE",
                         help="whose timeline: the largest face when first seen (default), person N, or the "
                              "person in IMAGE; faces.csv has everyone")
    analyze.add_argument("--track-id", type=int, help="same as --subject track:N")
    analyze.add_argument("--detect-every", type=int, default=8, metavar="K",
                         help="run the face detector every K processed frames, track in between")
    analyze.add_argument("--backend", choices=("auto", "onnx", "onnx-int8", "torch"), default="auto",
                         help="auto: the 8-bit ONNX graph when the model ships one, else float32 ONNX")
    analyze.add_argument("--smooth-s", type=float, default=1.0, metavar="S",
                         help="smoothing time constant in seconds (default 1)")
    analyze.add_argument("--change-min-s", type=float, default=1.5, metavar="S",
                         help="a change must last this many seconds (default 1.5)")
    analyze.add_argument("--change-effect", type=float, default=0.3, metavar="V",
                         help="a change must move the smoothed valence this much (default 0.3)")
    analyze.add_argument("--baseline", metavar="SOURCE|Ns",
                         help="the same person at rest (a clip or frame folder), or e.g. 20s for the first 20 s "
                              "of VIDEO: adds valence corrected for the person's resting face")
    analyze.add_argument("--annotate", action="store_true", help="also write annotated.mp4")
    analyze.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate_video = sub.add_parser("evaluate-video", help="dominant emotion and valence of clips of known emotion",
                                    description="DIR holds <emotion>/<clip>.mp4 (or frame folders), one emotion "
                                                "per clip. Reports accuracy of the dominant shown label, "
                                                "valence-sign accuracy, jitter per second and changes per minute.")
    evaluate_video.add_argument("data", metavar="DIR")
    evaluate_video.add_argument("--weights", default=None, help="shipped model name or .safetensors file")
    evaluate_video.add_argument("--baseline-from", metavar="EMOTION",
                                help="the clips of this folder (e.g. neutral) are the person at rest: also report "
                                     "valence corrected for them")
    evaluate_video.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    evaluate_video.add_argument("--quiet", action="store_true", help="no progress bar")

    batch = sub.add_parser("batch", help="analyse a whole study: many videos on one machine or a Dask cluster",
                           description="Analyse every video in INPUT (files, folders searched recursively, CSV "
                                       "manifests with a 'path' column and any other columns) into "
                                       "DIR/<relative path>/ as rtfer analyze does, then write DIR/study.csv, "
                                       "DIR/frames.parquet, DIR/study.html and DIR/batch.json. Re-running skips "
                                       "finished videos. Runs on an embedded Dask cluster unless told otherwise.")
    batch.add_argument("inputs", nargs="+", metavar="INPUT")
    batch.add_argument("--out", required=True, type=Path, metavar="DIR")
    batch.add_argument("--pattern", action="append", metavar="GLOB",
                       help="file names to take from folders (repeatable; default: common video extensions)")
    where = batch.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: one per core)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="use a running Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--slurm", type=int, metavar="JOBS", help="start JOBS SLURM jobs as workers (dask-jobqueue)")
    batch.add_argument("--slurm-opt", action="append", default=[], metavar="KEY=VALUE",
                       help="SLURMCluster option, e.g. queue=normal, account=lab, memory=8GB (repeatable)")
    batch.add_argument("--dashboard", action="store_true", help="serve Dask's dashboard on 127.0.0.1:8787")
    batch.add_argument("--threads", type=int, metavar="T",
                       help="inference threads per video (default: a worker's cores shared by its tasks)")
    batch.add_argument("--retries", type=int, default=2, help="retries of a video whose task failed (default 2)")
    batch.add_argument("--retry-failed", action="store_true",
                       help="try again the videos that failed in the last run (default: skip them if unchanged)")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    analysis = batch.add_argument_group("analysis options (as rtfer analyze; passed to every video)")
    passed_on = [
        analysis.add_argument("--weights", default=None, help="shipped model name or .safetensors file"),
        analysis.add_argument("--every", type=int, default=1, metavar="N", help="process every N-th frame"),
        analysis.add_argument("--fps", type=float, metavar="F", help="process about F frames per second"),
        analysis.add_argument("--subject", default="largest", metavar="largest|track:N|face:IMAGE"),
        analysis.add_argument("--track-id", type=int, help="same as --subject track:N"),
        analysis.add_argument("--detect-every", type=int, default=8, metavar="K"),
        analysis.add_argument("--backend", choices=("auto", "onnx", "onnx-int8", "torch"), default="auto"),
        analysis.add_argument("--smooth-s", type=float, default=1.0, metavar="S"),
        analysis.add_argument("--change-min-s", type=float, default=1.5, metavar="S"),
        analysis.add_argument("--change-effect", type=float, default=0.3, metavar="V"),
        analysis.add_argument("--baseline", metavar="SOURCE|Ns", help="as rtfer analyze: the same for every video"),
    ]
    batch.set_defaults(analysis_options=tuple(action.dest for action in passed_on))

    export = sub.add_parser("export", help="export weights to ONNX (float32 or calibrated 8-bit)",
                            description="Write WEIGHTS as a single-file ONNX graph with a dynamic batch size. "
                                        "With --int8, an 8-bit graph calibrated on faces from --calibration "
                                        "(an emotion-folder tree, e.g. the training set); save it beside the "
                                        "weights as <name>.int8.onnx and the default engine uses it.")
    export.add_argument("--weights", default=None)
    export.add_argument("--out", required=True, type=Path)
    export.add_argument("--int8", action="store_true", help="8-bit static quantization (needs --calibration)")
    export.add_argument("--calibration", metavar="DIR", help="faces to calibrate activation ranges on")

    serve = sub.add_parser("serve", help="start the web app (API for now)",
                           description="Serve the RT-FER app. Binds to 127.0.0.1 by default; any other address "
                                       "requires an access token (one is generated if none is given).")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--data-dir", type=Path, default=Path.home() / ".local" / "share" / "rtfer",
                       help="sessions, notes and results (SQLite + files); default ~/.local/share/rtfer")
    serve.add_argument("--weights", default=None)
    serve.add_argument("--token", help="access token required on every request")
    serve.add_argument("--max-upload-mb", type=int, default=2048)

    models = sub.add_parser("models", help="list model architectures and shipped weights")
    models.add_argument("--json", action="store_true")
    return parser


def _train_config(args: argparse.Namespace):
    from rtfer.train.trainer import TrainConfig

    if getattr(args, "resume", False):
        return _resumed_config(args)
    model_config = {}
    if args.width:
        model_config["widths"] = list(args.width)
    if args.dropout is not None:
        model_config["dropout"] = args.dropout
    if args.no_cbam:
        model_config["cbam"] = False
    if args.single_scale:
        model_config["multiscale"] = False
    return TrainConfig(
        model=args.model, model_config=model_config, supcon=args.supcon, supcon_weight=args.supcon_weight,
        temperature=args.temperature, pretrain_epochs=args.pretrain_epochs, epochs=args.epochs or 30,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs, schedule=args.schedule, plateau_patience=args.plateau_patience,
        plateau_factor=args.plateau_factor, label_smoothing=args.label_smoothing, ema_decay=args.ema,
        class_weighting=args.class_weighting, augment=args.augment, augment_policy=args.augment_policy or "",
        crop=args.crop, teacher=str(args.teacher or ""), distil_weight=args.distil_weight,
        distil_temperature=args.distil_temperature, clean=not args.no_clean, mixup=args.mixup,
        intensity_weight=args.intensity_weight, seed=args.seed, device=args.device, precision=args.precision,
    )


def _resumed_config(args: argparse.Namespace):
    """The saved config of the run in ``--out``: a resumed run trains exactly as it started,
    except for ``--epochs`` (to extend it), ``--device`` and ``--precision``."""
    from dataclasses import replace

    from rtfer.train.checkpoint import load_checkpoint_state
    from rtfer.train.trainer import TrainConfig

    saved = TrainConfig(**load_checkpoint_state(args.out)["config"])
    return replace(saved, epochs=args.epochs or saved.epochs, device=args.device, precision=args.precision)


def _load_training_data(source: str, model: str, labels: int, clean: bool = False, notes: dict | None = None):
    """Faces of ``source`` as ``model`` takes them; with ``clean`` without blank faces and conflicting copies
    (what was dropped is recorded in ``notes["cleaning"]``)."""
    from rtfer.data.aligned import prepare_for_model
    from rtfer.data.labels import to_scheme
    from rtfer.data.readers import read_dataset
    from rtfer.models import model_spec
    from rtfer.taxonomy import VALENCE3

    spec = model_spec(model)
    data = prepare_for_model(read_dataset(source, size=spec.input_size), spec.alignment, spec.input_size)
    if clean:
        from rtfer.data.dedupe import HASH_SIZE, clean_training_set

        small = None
        if data.images.shape[1] != HASH_SIZE:  # compare the faces at their FER2013 size, by file
            if not data.paths:
                raise RtferError(f"{source}: cannot clean faces without file names; pass --no-clean")
            native = read_dataset(source, size=HASH_SIZE)
            where = {path: i for i, path in enumerate(native.paths)}
            small = native.images[[where[path] for path in data.paths]]
        data, cleaning = clean_training_set(data, small)
        if notes is not None:
            notes["cleaning"] = cleaning.as_dict()
    if labels == 3:
        data, left_out = to_scheme(data, VALENCE3)
        log.info("3-group labels: left out %s", left_out or "nothing")
    return data


def _subset(data, size: int | None, seed: int):
    if not size or size >= len(data):
        return data
    from sklearn.model_selection import train_test_split

    index, _ = train_test_split(range(len(data)), train_size=size, stratify=data.labels, random_state=seed)
    return data.subset(sorted(index))


def cmd_train(args: argparse.Namespace) -> int:
    from rtfer.train.trainer import Trainer

    config = _train_config(args)
    if args.resume:  # the data are prepared as the run started: same label set and subset
        from rtfer.train.checkpoint import load_checkpoint_state

        saved = load_checkpoint_state(args.out).get("data", {})
        args.labels, args.subset = saved.get("labels", args.labels), saved.get("subset", args.subset)
    notes: dict = {}
    train = _subset(_load_training_data(args.data, config.model, args.labels, clean=config.clean, notes=notes),
                    args.subset, config.seed)
    val = _load_training_data(args.val, config.model, args.labels) if args.val else None
    if val is not None and val.scheme != train.scheme:
        from rtfer.data.labels import to_scheme

        val, left_out = to_scheme(val, train.scheme)
        log.info("validation: left out %s", left_out)
    description = {"train": str(args.data), "val": str(args.val or ""), "labels": args.labels,
                   "subset": args.subset, **notes}
    log.info("training %s on %d faces (%s)%s", config.model, len(train), train.scheme.name,
             f", validating on {len(val)}" if val is not None else "")
    trainer = Trainer(config, train, val, args.out, data_description=description, init_weights=args.init_from,
                      resume=args.resume)
    summary = trainer.fit()
    best = summary.get("val", {})
    log.info("done in %.0f s; best epoch %s%s; weights: %s", summary["train_seconds"], summary["best_epoch"],
             f", val accuracy {best['accuracy']:.4f} (flip TTA {summary['val_tta_accuracy']:.4f})" if best else "",
             args.out / "best.safetensors")
    return 0


def cmd_cv(args: argparse.Namespace) -> int:
    from rtfer.train.cv import cross_validate

    config = _train_config(args)
    data = _load_training_data(args.data, config.model, args.labels, clean=config.clean)
    result = cross_validate(config, data, args.folds, args.out, split=args.split,
                            data_description={"train": str(args.data), "labels": args.labels},
                            init_weights=args.init_from)
    print(json.dumps({k: result[k] for k in ("split", "folds", "accuracy", "macro_f1")}, indent=1))
    return 0


def cmd_teacher_targets(args: argparse.Namespace) -> int:
    from rtfer.train.distil import write_teacher_targets

    if args.out.suffix != ".safetensors":
        raise RtferError("--out must name a .safetensors file")
    data = _load_training_data(args.data, args.model, args.labels, clean=not args.no_clean)
    print(write_teacher_targets(args.weights, data, args.out, tta=args.tta))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from rtfer.evaluation.evaluate import evaluate_weights

    weights = args.weights[0] if len(args.weights) == 1 else args.weights
    report = evaluate_weights(weights, args.data, labels=args.labels, tta=args.tta, out_dir=args.out,
                              detect=args.detect, backend=args.backend, dedupe_against=args.dedupe_against)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{report['weights']} on {report['data']}: {report['n']} faces")
    print(f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}")
    if "deduplicated" in report:
        dedup = report["deduplicated"]
        print(f"without the {dedup['copies']} copies of training faces ({dedup['n']} faces): accuracy "
              f"{dedup['accuracy']:.4f}   macro-F1 {dedup['macro_f1']:.4f}")
    for name, scores in report["per_class"].items():
        print(f"  {name:<10} precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  "
              f"f1 {scores['f1']:.3f}  n {scores['support']}")
    if report["left_out"]:
        print("left out (classes the model or label set lacks): "
              + ", ".join(f"{k} {v}" for k, v in report["left_out"].items()))
    if report.get("no_face"):
        print(f"no face found (counted as errors): {report['no_face']['count']} photos")
    if report["skipped_files"]:
        print(f"unreadable files skipped: {len(report['skipped_files'])}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from rtfer.runtime.weights import DEFAULT_MODEL
    from rtfer.video.outputs import write_analysis

    summary = write_analysis(args.video, args.out, annotate=args.annotate, every=args.every, fps=args.fps,
                             weights=args.weights or DEFAULT_MODEL, track_id=args.track_id,
                             detect_every=args.detect_every, backend=args.backend, progress=not args.quiet,
                             smooth_s=args.smooth_s, change_min_s=args.change_min_s,
                             change_effect=args.change_effect, baseline=args.baseline,
                             subject=args.subject)
    log.info("%d frames (%d with a face) at %.1f fps; %d change point(s); results in %s",
             summary["frames_processed"], summary["frames_with_face"], summary["processing_fps"] or 0,
             len(summary["change_points"]), args.out)
    return 0


def cmd_evaluate_video(args: argparse.Namespace) -> int:
    from rtfer.runtime.weights import DEFAULT_MODEL
    from rtfer.video.evaluate import evaluate_videos

    report = evaluate_videos(args.data, weights=args.weights or DEFAULT_MODEL, baseline_from=args.baseline_from,
                             progress=not args.quiet)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{report['weights']} on {report['data']}: {report['n']} clips")
    print(f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}")
    for key in ("valence_sign_accuracy", "valence_sign_accuracy_corrected", "jitter_per_s", "false_changes_per_min"):
        if report[key] is not None:
            print(f"{key.replace('_', ' ')}: {report[key]:.3f}")
    for clip in report["clips"]:
        corrected = "" if clip["valence_corrected"] is None else f" (corrected {clip['valence_corrected']:+.2f})"
        valence = "-" if clip["valence"] is None else f"{clip['valence']:+.2f}"
        print(f"  {clip['emotion']:>8} -> {clip['dominant'] or 'no face'}: valence {valence}{corrected}  "
              f"{clip['clip']}")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from rtfer.batch.inputs import VIDEO_PATTERNS
    from rtfer.batch.runner import ClusterChoice, run_batch
    from rtfer.runtime.weights import DEFAULT_MODEL

    settings = {name: getattr(args, name) for name in args.analysis_options}
    settings["weights"] = settings["weights"] or DEFAULT_MODEL
    for name, value in settings.items():  # files are named absolutely: workers may run elsewhere
        prefix, path = ("face:", value[5:]) if isinstance(value, str) and value.startswith("face:") else ("", value)
        if isinstance(path, str) and Path(path).exists():
            settings[name] = prefix + str(Path(path).resolve())
    choice = ClusterChoice(workers=args.workers, scheduler=args.scheduler, slurm_jobs=args.slurm,
                           slurm_opts=args.slurm_opt, dashboard=args.dashboard, threads=args.threads)
    report = run_batch(args.inputs, args.out, settings, tuple(args.pattern or VIDEO_PATTERNS), choice,
                       progress=not args.quiet, retries=args.retries, retry_failed=args.retry_failed)
    counts = report["counts"]
    print(f"{len(report['videos'])} videos: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
          + f"; study table in {args.out / 'study.csv'}")
    for entry in report["videos"]:
        if entry["status"] == "failed":
            print(f"  failed: {entry['path']}: {entry['reason']}")
    return 1 if counts.get("failed") else 0


def cmd_export(args: argparse.Namespace) -> int:
    from rtfer.runtime.graphs import write_graph
    from rtfer.runtime.weights import DEFAULT_MODEL, load_meta, resolve_weights, weights_digest

    path = resolve_weights(args.weights or DEFAULT_MODEL)
    meta = load_meta(path)
    if not args.int8:
        if args.calibration:
            raise RtferError("--calibration only applies with --int8")
        print(write_graph(path, meta, args.out))
        return 0
    if not args.calibration:
        raise RtferError("--int8 needs --calibration DIR: faces to calibrate the activation ranges on")
    import tempfile

    from rtfer.runtime.quantize import quantize_onnx

    faces = _load_training_data(args.calibration, meta.model, 7).images  # cropped as the model was trained
    with tempfile.TemporaryDirectory() as tmp:
        float_graph = write_graph(path, meta, Path(tmp) / "float.onnx")
        print(quantize_onnx(float_graph, meta, faces, args.out, weights_digest(path)))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import ipaddress
    import secrets

    import uvicorn

    from rtfer.app.server import create_app
    from rtfer.runtime.weights import DEFAULT_MODEL

    token = args.token
    try:
        loopback = args.host == "localhost" or ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        raise RtferError(f"--host must be an IP address or localhost, not {args.host!r}") from None
    if not loopback and not token:
        token = secrets.token_urlsafe(24)
        print(f"access token (required from other machines): {token}", file=sys.stderr)
    app = create_app(args.data_dir, weights=args.weights or DEFAULT_MODEL, token=token,
                     max_upload_mb=args.max_upload_mb)
    log.info("rtfer app on http://%s:%d (data in %s)", args.host, args.port, args.data_dir)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from rtfer.models import list_models
    from rtfer.runtime.quantize import int8_path
    from rtfer.runtime.weights import load_meta, resolve_weights, shipped_models

    shipped = {name: load_meta(name) for name in shipped_models()}
    int8 = {name: int8_path(resolve_weights(name)).is_file() for name in shipped}
    if args.json:
        print(json.dumps({"architectures": list_models(),
                          "weights": {n: {"model": m.model, "labels": m.labels, "metrics": m.metrics,
                                          "int8_graph": int8[n]} for n, m in shipped.items()}}))
        return 0
    print("architectures: " + ", ".join(list_models()))
    print("shipped weights:" + ("" if shipped else " none"))
    for name, meta in shipped.items():
        scores = [f"{label} {meta.metrics[key]:.4f}" for key, label in
                  (("val_accuracy", "val accuracy"), ("cv_accuracy", "10-fold CV accuracy")) if key in meta.metrics]
        print(f"  {name:<20} {meta.model:<9} {', '.join(meta.labels)}" + (" + 8-bit graph" if int8[name] else "")
              + (f"  ({'; '.join(scores)})" if scores else ""))
    return 0


#: Modules only an extra installs: a command that needs one names the extra instead of a traceback.
EXTRA_OF_MODULE = {"torch": "train", "kornia": "train", "sklearn": "train", "onnxscript": "train",
                   "dask": "batch", "distributed": "batch", "pyarrow": "batch", "bokeh": "batch",
                   "dask_jobqueue": "slurm", "cryptography": "slurm"}

COMMANDS = {"train": cmd_train, "cv": cmd_cv, "teacher-targets": cmd_teacher_targets, "evaluate": cmd_evaluate,
            "evaluate-video": cmd_evaluate_video,
            "analyze": cmd_analyze, "batch": cmd_batch,
            "export": cmd_export, "serve": cmd_serve, "models": cmd_models}


def main(argv: list[str] | None = None) -> int:
    try:  # Ctrl-C while the parser is built must not print a traceback either
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        print("rtfer: interrupted", file=sys.stderr)
        return 130
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return COMMANDS[args.command](args)
    except RtferError as exc:
        print(f"rtfer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        print(f"rtfer {args.command}: error: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        extra = EXTRA_OF_MODULE.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"rtfer {args.command}: error: this needs the {extra} extra ({exc.name} is not installed): "
              f'pip install "rtfer[{extra}]"', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rtfer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
