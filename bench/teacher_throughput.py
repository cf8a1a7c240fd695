"""Benchmark: the pretrained teacher's training examples/s and inference pairs/s on
this CPU, by sequence length and with the token embedding table frozen or trained.

    .venv/bin/python bench/teacher_throughput.py [--preset multilingual-e5-small]
        [--sequence-lengths 64,128] [--batch-size 32] [--steps 4]

Builds (or reuses) the preset, puts the teacher's head on it and times `--steps`
training steps after one warm-up step, then inference (the serving path, rows cut to
their longest) on full-length rows. JSON goes to bench/results/teacher_throughput.json
and stdout.
"""

import argparse
import json
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import tensorflow as tf  # noqa: E402

from relevance import contract  # noqa: E402
from trainer.teacher.config import TeacherConfig  # noqa: E402
from trainer.teacher.model import TeacherModel  # noqa: E402
from trainer.teacher.presets.registry import DEFAULT_TEACHER_PRESET, resolve_preset  # noqa: E402

LONG_TEXT = ("red leather running shoes for women with a cushioned sole, a breathable "
             "mesh upper and reflective details for evening runs in the city")


def measure(preset_dir, sequence_length, frozen, batch_size, steps):
    config = TeacherConfig(preset=preset_dir, sequence_length=sequence_length,
                           freeze_embeddings=frozen, batch_size=batch_size)
    teacher = TeacherModel.from_preset(preset_dir, 5, config)
    teacher.compile(config, total_steps=100)
    raw = {name: tf.constant([LONG_TEXT] * batch_size) for name in contract.RAW_SIGNATURE_INPUTS}
    batch = (teacher.tokenize(raw), tf.zeros([batch_size], tf.int32))
    teacher.training_model.train_on_batch(*batch)  # traces the step
    started = time.time()
    for _ in range(steps):
        teacher.training_model.train_on_batch(*batch)
    train = batch_size * steps / (time.time() - started)
    predict = tf.function(teacher.predict_probabilities)
    predict(raw)
    started = time.time()
    for _ in range(steps):
        predict(raw)
    infer = batch_size * steps / (time.time() - started)
    return {"sequence_length": sequence_length, "embeddings_frozen": frozen,
            "train_examples_per_second": round(train, 2),
            "inference_pairs_per_second": round(infer, 2)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=DEFAULT_TEACHER_PRESET)
    parser.add_argument("--sequence-lengths", default="64,128")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--output", default=os.path.join(ROOT, "bench", "results",
                                                         "teacher_throughput.json"))
    args = parser.parse_args(argv)
    preset_dir = resolve_preset(args.preset, progress=print)
    rows = [measure(preset_dir, int(length), frozen, args.batch_size, args.steps)
            for length in args.sequence_lengths.split(",") for frozen in (True, False)]
    result = {"preset": args.preset, "batch_size": args.batch_size, "cpus": os.cpu_count(),
              "machine": platform.machine(), "results": rows}
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as out:
        json.dump(result, out, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
