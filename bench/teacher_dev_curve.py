"""The teacher's development curve on XQuAD-R: nDCG@10 per language before training and
after every epoch, on questions that are neither labeled nor test.

Trains the default teacher (or one changed by `--set key=value`, any `TeacherConfig`
field) on the scaling experiment's labeled English rows (bench/scaling_data.py, same
carve and seed) and scores `scaling_data.xquad_r_dev` after each epoch, so settings are
chosen without looking at the test questions:

    .venv/bin/python bench/teacher_dev_curve.py --data-dir ../shared/data \\
        --dev-questions 60 --set learning_rate=3e-5 --output /tmp/dev_lr3e-5.json

Writes the curve (JSON) to `--output` and prints it; epoch 0 is the untrained teacher
(with the similarity prior, the zero-shot bi-encoder).
"""

import argparse
import ast
import json
import math
import os
import random
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO_ROOT, os.path.dirname(os.path.abspath(__file__))]

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import carve  # noqa: E402
import scaling_data  # noqa: E402
from relevance import contract  # noqa: E402
from evaluation import metrics  # noqa: E402
from evaluation.baseline import fit_bm25_baseline  # noqa: E402
from relevance.records import record_to_example  # noqa: E402
from models import export  # noqa: E402
from trainer.teacher.config import TeacherConfig  # noqa: E402
from trainer.teacher import task  # noqa: E402
from trainer.teacher.model import TeacherModel  # noqa: E402
from trainer.teacher.presets.registry import resolve_preset  # noqa: E402

BATCH = 64


def _inputs(teacher: TeacherModel, rows):
    serialized = tf.constant([record_to_example(row).SerializeToString() for row in rows])
    return teacher.tokenize(export.raw_features_from_examples(serialized))


def _dataset(teacher, rows, batch_size, labels=None, shuffle_seed=None):
    """The rows tokenized once, batched as the Trainer batches them (`task.batched`:
    length-sorted pools and padding cut per batch when shuffled; in row order when not)."""
    parts = [_inputs(teacher, rows[start:start + BATCH]) for start in range(0, len(rows), BATCH)]
    features = {k: tf.concat([p[k] for p in parts], axis=0) for k in parts[0]}
    if labels is None:
        labels = tf.zeros([len(rows)], tf.int32)
    examples = tf.data.Dataset.from_tensor_slices((features, labels))
    if shuffle_seed is None:
        return task.batched(examples, batch_size, length_pool=1)
    return task.batched(examples, batch_size, shuffle=True, seed=shuffle_seed)


def _dev_ndcg(teacher, dataset, rows):
    logits = teacher.training_model.predict(dataset, verbose=0)
    return _ndcg_by_language(metrics.expected_grade(tf.nn.softmax(logits).numpy()), rows)


def _ndcg_by_language(scores, rows):
    grades = np.array([row[contract.GRADE] for row in rows])
    result = {}
    for language in sorted({row[contract.LANGUAGE] for row in rows}):
        mask = np.array([row[contract.LANGUAGE] == language for row in rows])
        ids = [row[contract.QUERY_ID] for row, keep in zip(rows, mask) if keep]
        result[language] = metrics.mean_ndcg(grades[mask], scores[mask], ids, k=10)[0]
    result["all"] = float(np.mean([result[lang] for lang in result]))
    return result


def _parse_sets(pairs):
    settings = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            settings[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            settings[key] = value
    return settings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.path.join(REPO_ROOT, "..", "shared", "data"))
    parser.add_argument("--dev-questions", type=int, default=60,
                        help="questions sampled for the development set (all their languages)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a TeacherConfig field, e.g. learning_rate=3e-5 (repeatable)")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)

    settings = _parse_sets(args.set)
    config = TeacherConfig.from_dict(settings)
    rest, labeled, _, num_grades = scaling_data.xquad_r_carve(args.data_dir)
    dev_rows, _ = scaling_data.xquad_r_dev(args.data_dir)
    groups = sorted({carve.language_free_group(row) for row in dev_rows})
    chosen = set(random.Random(scaling_data.SEED).sample(groups, min(args.dev_questions, len(groups))))
    dev_rows = [row for row in dev_rows if carve.language_free_group(row) in chosen]
    print(f"labeled {len(labeled)} rows; dev {len(dev_rows)} rows of {len(chosen)} questions",
          flush=True)

    bm25_ndcg = _ndcg_by_language(
        fit_bm25_baseline(labeled, num_grades).predict(dev_rows).scores, dev_rows)
    print(json.dumps({"bm25_dev_ndcg10": bm25_ndcg}), flush=True)

    teacher = TeacherModel.from_preset(resolve_preset(config.preset), num_grades, config)
    labels = tf.constant([row[contract.GRADE] - 1 for row in labeled], tf.int32)
    train = _dataset(teacher, labeled, config.batch_size, labels, shuffle_seed=config.seed)
    dev = _dataset(teacher, dev_rows, BATCH)
    steps_per_epoch = math.ceil(len(labeled) / config.batch_size)
    teacher.compile(config, total_steps=steps_per_epoch * config.epochs)

    curve = [{"epoch": 0, "dev_ndcg10": _dev_ndcg(teacher, dev, dev_rows)}]
    print(json.dumps(curve[-1]), flush=True)
    for epoch in range(1, config.epochs + 1):
        started = time.time()
        history = teacher.training_model.fit(train, epochs=1, verbose=0)
        seconds = time.time() - started
        curve.append({"epoch": epoch, "train_seconds": round(seconds, 1),
                      "train_loss": float(history.history["loss"][-1]),
                      "dev_ndcg10": _dev_ndcg(teacher, dev, dev_rows)})
        print(json.dumps(curve[-1]), flush=True)
    report = {"settings": settings, "config": config.to_dict(), "labeled_rows": len(labeled),
              "dev_rows": len(dev_rows), "dev_questions": len(chosen), "bm25_dev_ndcg10": bm25_ndcg, "curve": curve,
              "code_commit": os.environ.get("SNAPSHOT_COMMIT")}
    with open(args.output, "w") as out:
        json.dump(report, out, indent=2)
    print(json.dumps({"settings": settings, "bm25_dev_ndcg10": bm25_ndcg, "curve": curve},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
