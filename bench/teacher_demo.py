"""Trains the default teacher on demo data and measures it: speed and held-out accuracy.

    .venv/bin/python bench/teacher_demo.py [--num-labeled 1200] [--teacher '{"epochs": 5}']

Writes `demo.data` (English, grades 1..5), holds out every fifth query (by a
hash of the query text, so a query's candidates are all on one side), writes canonical
gzip TFRecords and runs `trainer.teacher.task.run_fn` with the default `TeacherConfig`
(overridden by --teacher). The exported SavedModel's `serving_examples` signature then
scores the held-out rows. JSON goes to bench/results/teacher_demo.json and stdout:
train examples/s (epochs after the first; the first also traces the step functions),
inference pairs/s, held-out accuracy and the majority-class accuracy for reference.
"""

import argparse
import collections
import hashlib
import json
import os
import platform
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tfx.components.trainer.fn_args_utils import FnArgs  # noqa: E402

from relevance import contract, readers, records  # noqa: E402
from demo import data as demo_data  # noqa: E402
from trainer.teacher import task  # noqa: E402
from trainer.teacher.config import TeacherConfig  # noqa: E402

NUM_GRADES = 5


def _held_out(query: str) -> bool:
    return int(hashlib.md5(query.encode("utf-8")).hexdigest(), 16) % 5 == 0


def write_splits(base: str, num_labeled: int, seed: int) -> dict:
    paths = demo_data.write_demo_data(base, num_labeled=num_labeled, num_unlabeled=10,
                                      seed=seed)
    rows = {"train": [], "eval": []}
    for row in readers.read_rows(paths["labeled"]):
        if not row.fields:
            continue
        record = records.to_record(row.fields, detect_missing_language=False)
        rows["eval" if _held_out(record[contract.QUERY]) else "train"].append(record)
    patterns = {}
    for split, split_rows in rows.items():
        directory = os.path.join(base, f"Split-{split}")
        os.makedirs(directory, exist_ok=True)
        with tf.io.TFRecordWriter(os.path.join(directory, "data.gz"), options="GZIP") as out:
            for record in split_rows:
                out.write(records.record_to_example(record).SerializeToString())
        patterns[split] = os.path.join(directory, "*")
    patterns["grades"] = {split: [r[contract.GRADE] for r in split_rows]
                          for split, split_rows in rows.items()}
    return patterns


def score_held_out(serving_dir: str, eval_pattern: str, batch_size: int = 256):
    model = tf.saved_model.load(serving_dir)
    signature = model.signatures[contract.SIGNATURE_EXAMPLES]
    serialized = [r.numpy() for r in tf.data.TFRecordDataset(
        tf.io.gfile.glob(eval_pattern), compression_type="GZIP")]
    grades = [tf.train.Example.FromString(s).features.feature[contract.GRADE]
              .int64_list.value[0] for s in serialized]
    signature(examples=tf.constant(serialized[:batch_size]))  # warm-up
    started = time.time()
    probabilities = np.concatenate([
        signature(examples=tf.constant(serialized[i:i + batch_size]))[
            contract.OUTPUT_PROBABILITIES].numpy()
        for i in range(0, len(serialized), batch_size)])
    seconds = time.time() - started
    predicted = probabilities.argmax(axis=1) + 1
    return np.asarray(grades), predicted, len(serialized) / seconds


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-labeled", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--teacher", default="{}", help="TeacherConfig overrides (JSON)")
    parser.add_argument("--output", default=os.path.join(ROOT, "bench", "results",
                                                         "teacher_demo.json"))
    args = parser.parse_args(argv)

    base = tempfile.mkdtemp(prefix="teacher_demo_")
    splits = write_splits(base, args.num_labeled, args.seed)
    overrides = json.loads(args.teacher)
    fn_args = FnArgs(
        train_files=[splits["train"]], eval_files=[splits["eval"]], transform_output=None,
        serving_model_dir=os.path.join(base, "serving"), model_run_dir=None,
        train_steps=None, eval_steps=None,
        custom_config={"num_grades": NUM_GRADES, "teacher": overrides},
    )
    started = time.time()
    summary = task.run_fn(fn_args)
    run_seconds = time.time() - started

    grades, predicted, pairs_per_second = score_held_out(fn_args.serving_model_dir,
                                                         splits["eval"])
    majority = collections.Counter(splits["grades"]["train"]).most_common(1)[0][0]
    result = {
        "teacher_config": TeacherConfig.from_dict(overrides).to_dict(),
        "num_train": summary["num_train"],
        "num_held_out": int(len(grades)),
        "run_fn_seconds": round(run_seconds, 1),
        "fit_seconds": round(summary["fit_seconds"], 1),
        "first_epoch_seconds": round(summary["epoch_seconds"][0], 1),
        "train_examples_per_second": round(summary["train_examples_per_second"], 1),
        "inference_pairs_per_second": round(pairs_per_second, 1),
        "held_out_accuracy": round(float(np.mean(predicted == grades)), 4),
        "held_out_within_one_grade": round(float(np.mean(np.abs(predicted - grades) <= 1)), 4),
        "majority_class_accuracy": round(float(np.mean(grades == majority)), 4),
        "final_train_accuracy": round(summary["history"].get("accuracy", [0])[-1], 4),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as out:
        json.dump(result, out, indent=2, sort_keys=True)
    print(json.dumps(result, indent=2, sort_keys=True))
    return result


if __name__ == "__main__":
    main()
