"""`relevance evaluate`: score labeled data with exported models and write metrics and a report.

    relevance evaluate --model DIR [--model DIR ...] [--model-name NAME ...]
                       --data PATH --format FMT --output DIR [--num-grades G]
                       [--adapter-option KEY=VALUE ...] [--baseline-train PATH]

* FMT is a canonical format (auto, csv, jsonl, tfrecord: read with `relevance.readers`)
  or a public data set adapter (`relevance.adapters.ADAPTERS`: crowdflower, xquad-r, esci,
  wands). Adapters fix G; canonical formats use --num-grades (default 5).
* DIR is a SavedModel directory or a TF Serving base directory (BASE/NAME holding numeric
  version directories: the newest version is used). Each model is called through its
  `serving_examples` signature in batches.
* `--baseline-train PATH` (same format as --data) fits the BM25 baseline of
  `evaluation.baseline` and evaluates it as the model "bm25_baseline".
* Writes OUTPUT/metrics.json, `{"models": {NAME: {"overall": {...}, "by_language":
  {LANG: {...}}}}, "agreement": [...], "data": {...}}` with the keys of
  `evaluation.metrics.metric_keys`, and OUTPUT/report.md with its PNG plots.
* The terminal shows one line per model (pairs, headline metrics) and where the report
  went; through the CLI everything else (TensorFlow, the scoring progress) goes to
  OUTPUT/logs/evaluate.log (`cli.evaluate_flags.run_evaluate`). The command line's
  own code (flags to `evaluate`, the terminal lines) is `cli.evaluate`.
"""

import io
import json
import logging
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from relevance import contract
from evaluation import metrics
from relevance.adapters import ADAPTERS, read_adapter_rows
from relevance.errors import InputError, RecordError
from evaluation.settings import CANONICAL_FORMATS, DEFAULT_BATCH_SIZE
from relevance.readers import read_rows
from relevance.records import record_to_example
from relevance.row_validation import validate_row
from models.export import load_relevance_model

logger = logging.getLogger(__name__)

BASELINE_NAME = "bm25_baseline"
_PROGRESS_SECONDS = 10.0


def evaluate(
    model_dirs: Sequence[str],
    data_path: str,
    output_dir: str,
    fmt: str = "auto",
    model_names: Sequence[str] = (),
    num_grades: Optional[int] = None,
    adapter_options: Optional[dict] = None,
    baseline_train: Optional[str] = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict:
    """Score, compute metrics, write metrics.json and report.md; return the metrics dict."""
    from evaluation.report import write_report  # matplotlib only when a report is written

    if not model_dirs and not baseline_train:
        raise InputError("nothing to evaluate: pass --model DIR and/or --baseline-train PATH.")
    # Everything that can be checked is checked before the first pair is scored.
    if batch_size < 1:
        raise InputError(f"--batch-size must be an integer >= 1, got {batch_size}")
    if tf.io.gfile.exists(output_dir) and not tf.io.gfile.isdir(output_dir):
        raise InputError(f"--output {output_dir} is an existing file; give a directory.")
    names = model_display_names(model_dirs, model_names)
    model_dirs = [resolve_saved_model_dir(model_dir) for model_dir in model_dirs]
    records, num_grades = load_labeled_records(data_path, fmt, num_grades, adapter_options)
    grades = np.asarray([r[contract.GRADE] for r in records])
    query_ids = [r[contract.QUERY_ID] for r in records]
    languages = [r[contract.LANGUAGE] or "und" for r in records]

    predictions: Dict[str, np.ndarray] = {}
    # Models rank by their expected grade; the BM25 baseline by its own score.
    ranking_scores: Dict[str, np.ndarray] = {}
    if model_dirs:
        serialized = [record_to_example(r).SerializeToString() for r in records]
        for name, model_dir in zip(names, model_dirs):
            predictions[name] = score_with_saved_model(
                model_dir, serialized, num_grades, batch_size, data_path
            )
    if baseline_train:
        ranking_scores[BASELINE_NAME], predictions[BASELINE_NAME] = _baseline_predictions(
            baseline_train, fmt, num_grades, adapter_options, records
        )

    document = {
        "models": {
            name: {
                "overall": metrics.compute_all(grades, probs, query_ids, num_grades,
                                               ranking_scores.get(name)),
                "by_language": metrics.compute_by_language(
                    grades, probs, query_ids, languages, num_grades, ranking_scores.get(name)
                ),
            }
            for name, probs in predictions.items()
        },
        "agreement": agreement(predictions),
        "data": {"path": data_path, "format": fmt, "num_grades": num_grades,
                 "labeled_pairs": len(records), "queries": len(set(query_ids))},
    }
    tf.io.gfile.makedirs(output_dir)
    with tf.io.gfile.GFile(os.path.join(output_dir, "metrics.json"), "w") as handle:
        json.dump(document, handle, indent=2, sort_keys=False)
    write_report(output_dir, document, grades, languages, predictions, num_grades)
    write_predictions(output_dir, predictions, ranking_scores)
    return document


PREDICTIONS_FILE = "predictions.npz"


def write_predictions(output_dir: str, predictions: Dict[str, np.ndarray],
                      ranking_scores: Dict[str, np.ndarray]) -> str:
    """Each model's probabilities `[N, G]` (and the baseline's ranking scores `[N]`,
    under "<name>.scores"), in input order, for paired comparisons across runs."""
    arrays = {**predictions, **{f"{name}.scores": value for name, value in ranking_scores.items()}}
    path = os.path.join(output_dir, PREDICTIONS_FILE)
    buffer = io.BytesIO()  # zip needs a seekable file; GFile may be remote
    np.savez(buffer, **arrays)
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return path


def model_display_names(model_dirs: Sequence[str], model_names: Sequence[str]) -> List[str]:
    """Names given with --model-name, else directory basenames, made unique."""
    if model_names and len(model_names) != len(model_dirs):
        raise InputError(
            f"{len(model_names)} --model-name values for {len(model_dirs)} --model values: "
            "give one name per model, in the same order, or none."
        )
    names, seen = [], {}
    for index, model_dir in enumerate(model_dirs):
        if model_names:
            name = model_names[index]
        else:
            parts = [p for p in os.path.normpath(model_dir).split(os.sep) if p]
            # A version directory (".../student/3") is named after its model.
            name = parts[-2] if len(parts) > 1 and parts[-1].isdigit() else (parts or ["model"])[-1]
        count = seen.get(name, 0) + 1
        seen[name] = count
        names.append(name if count == 1 else f"{name}_{count}")
    if BASELINE_NAME in names:
        raise InputError(f"the model name {BASELINE_NAME!r} is reserved for --baseline-train.")
    return names


def load_labeled_records(
    path: str, fmt: str, num_grades: Optional[int], adapter_options: Optional[dict] = None,
    labeled_only: bool = True,
) -> Tuple[List[dict], int]:
    """Canonical records of a data file (labeled ones only by default) and G."""
    options = dict(adapter_options or {})
    if fmt in ADAPTERS:
        if fmt == "xquad-r" and num_grades:
            options.setdefault("num_grades", num_grades)
        sources, adapter_grades = read_adapter_rows(fmt, path, **options)
        if num_grades and num_grades != adapter_grades:
            raise InputError(
                f"{path}: the {fmt} data set has {adapter_grades} grades, but --num-grades "
                f"is {num_grades}; drop --num-grades."
            )
        num_grades = adapter_grades
    elif fmt in CANONICAL_FORMATS:
        if options:
            raise InputError(f"{path}: --adapter-option applies to data set adapters, not {fmt}.")
        num_grades = num_grades or contract.DEFAULT_NUM_GRADES
        sources = (raw for data_file in _data_files(path) for raw in read_rows(data_file, fmt))
    else:
        raise InputError(f"{path}: unknown format {fmt!r}.")

    records, reasons, total = [], {}, 0
    for raw in sources:
        total += 1
        try:
            # Grades optional here: unlabeled rows are counted apart, below.
            record = validate_row(raw, None, num_grades)
        except RecordError as err:
            reasons[err.reason] = reasons.get(err.reason, 0) + 1
            continue
        if record[contract.GRADE] is None and labeled_only:
            reasons["unlabeled"] = reasons.get("unlabeled", 0) + 1
            continue
        records.append(record)
    if reasons:
        logger.warning("%s: %d of %d rows not evaluated (%s)", path, total - len(records), total,
                       ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())))
    if not records:
        raise InputError(
            f"{path}: no labeled, valid row to evaluate among {total} rows "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(reasons.items())) or 'empty'})."
        )
    logger.info("%s: %d labeled pairs, G = %d", path, len(records), num_grades)
    return records, num_grades


def _data_files(path: str) -> List[str]:
    """`path` itself, or the data files directly inside the directory `path`."""
    if not tf.io.gfile.isdir(path):
        return [path]
    files = sorted(
        os.path.join(path, name) for name in tf.io.gfile.listdir(path)
        if not name.startswith(".") and not tf.io.gfile.isdir(os.path.join(path, name))
    )
    if not files:
        raise InputError(f"{path}: no input files in the directory; put the labeled CSV, "
                         "JSONL or TFRecord files in it, or pass one file.")
    return files


def resolve_saved_model_dir(model_dir: str) -> str:
    """The SavedModel directory itself, or the newest numeric version under a base dir."""
    def is_saved_model(path):
        return any(tf.io.gfile.exists(os.path.join(path, name))
                   for name in ("saved_model.pb", "saved_model.pbtxt"))

    if not tf.io.gfile.isdir(model_dir):
        raise InputError(f"{model_dir}: model directory not found.")
    if is_saved_model(model_dir):
        return model_dir
    versions = [
        int(name.rstrip("/")) for name in tf.io.gfile.listdir(model_dir)
        if name.rstrip("/").isdigit() and is_saved_model(os.path.join(model_dir, name.rstrip("/")))
    ]
    if not versions:
        raise InputError(
            f"{model_dir}: neither a SavedModel (no saved_model.pb) nor a TF Serving base "
            "directory with numeric version subdirectories holding SavedModels."
        )
    return os.path.join(model_dir, str(max(versions)))


def score_with_saved_model(
    model_dir: str, serialized: Sequence[bytes], num_grades: int,
    batch_size: int = DEFAULT_BATCH_SIZE, data_path: str = "the data",
) -> np.ndarray:
    """[N, G] probabilities from the model's `serving_examples` signature, in the
    order of `serialized`.

    The rows are scored in batches of similar length (`length_order`) and the answers
    put back in input order: the teacher cuts each call to its longest row, so a batch
    that follows file order pays for its longest row in every row."""
    path = resolve_saved_model_dir(model_dir)
    try:
        loaded = load_relevance_model(path)
    except Exception as err:  # noqa: BLE001 - TF raises several types for broken models
        raise InputError(f"{path}: cannot load the SavedModel ({err}).") from err
    if contract.SIGNATURE_EXAMPLES not in loaded.signatures:
        raise InputError(
            f"{path}: the SavedModel has no {contract.SIGNATURE_EXAMPLES!r} signature "
            f"(found {', '.join(loaded.signatures) or 'none'}); export it with "
            "models.export.save_serving_module."
        )
    signature = loaded.signatures[contract.SIGNATURE_EXAMPLES]
    order = length_order(serialized)
    batches, started, last_log = [], time.time(), time.time()
    for start in range(0, len(serialized), batch_size):
        batch = tf.constant([serialized[i] for i in order[start : start + batch_size]])
        probabilities = signature(examples=batch)[contract.OUTPUT_PROBABILITIES].numpy()
        if probabilities.ndim != 2 or probabilities.shape[1] != num_grades:
            raise InputError(
                f"{path}: the model predicts {probabilities.shape[-1]} grades but "
                f"{data_path} has {num_grades}; evaluate it on data with the same scale."
            )
        batches.append(probabilities)
        done = start + len(batch)
        if time.time() - last_log > _PROGRESS_SECONDS or done == len(serialized):
            last_log = time.time()
            logger.info("%s: scored %d / %d pairs (%.0f s)", path, done, len(serialized),
                        last_log - started)
    if not batches:
        return np.zeros((0, num_grades))
    probabilities = np.empty((len(serialized), num_grades), dtype=np.float64)
    probabilities[order] = np.concatenate(batches)
    return probabilities


def length_order(serialized: Sequence[bytes]) -> np.ndarray:
    """Row indices ordered by serialized size (shortest first, ties in input order): a
    proxy for the text's token count that needs no parsing.

    >>> length_order([b"aaaa", b"a", b"aa", b"a"]).tolist()
    [1, 3, 2, 0]
    """
    return np.argsort(np.fromiter((len(s) for s in serialized), dtype=np.int64,
                                  count=len(serialized)), kind="stable")


def _baseline_predictions(train_path, fmt, num_grades, adapter_options, records):
    """`evaluation.baseline.BM25Prediction` (scores, probabilities) of the records, BM25
    fitted on `train_path`."""
    from evaluation.baseline import fit_bm25_baseline

    train_records, train_grades = load_labeled_records(
        train_path, fmt, num_grades, adapter_options
    )
    if train_grades != num_grades:
        raise InputError(f"{train_path}: has {train_grades} grades, the data {num_grades}.")
    logger.info("fitting the BM25 baseline on %d pairs", len(train_records))
    return fit_bm25_baseline(train_records, num_grades).predict(records)


def agreement(predictions: Dict[str, np.ndarray]) -> List[dict]:
    """For every pair of models: share of equal argmax grades and score correlation."""
    names = list(predictions)
    pairs = []
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = predictions[first], predictions[second]
            score_a, score_b = metrics.expected_grade(a), metrics.expected_grade(b)
            correlated = len(a) > 1 and score_a.std() > 0 and score_b.std() > 0
            pairs.append({
                "models": [first, second],
                "same_argmax": float(np.mean(np.argmax(a, 1) == np.argmax(b, 1))),
                "score_pearson": float(np.corrcoef(score_a, score_b)[0, 1]) if correlated else None,
            })
    return pairs
