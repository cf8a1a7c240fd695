"""Student variants retrained in-process on one finished pipeline run's artefacts.

    PYTHONPATH=. .venv/bin/python bench/student_variants.py --workdir DIR \\
        [--variant 'NAME={"ngram_embeddings": true}'] [--seeds 42,43,44]

DIR is a `bench/word_vector_student.py --dataset xquad-r|crowdflower` workdir: its
Transform graph, and the student corpora its PseudoLabeler wrote (the first execution:
human labels only, 0x; the last: with pseudo-labels). Each variant (StudentConfig
fields over the run's own student config) is trained the way
`trainer.student.task.run_fn` trains it (same model, loss, batch, steps; batches
grouped by query when an order term is on, e.g. `'listwise={"listwise_weight": 1}'`),
but from rows transformed once and kept in memory, so a variant takes seconds instead
of a pipeline run; it is then scored on the development questions and on the test
split. Development: XQuAD-R `scaling_data.xquad_r_dev` (no test question); CrowdFlower
the carve's unlabeled queries with their hidden grades (no test query; the 0x student
never saw them, the pseudo-labeled one saw them with the teacher's labels, as the
XQuAD-R es / de / zh development rows). Use it to choose student settings on the
development questions; the test figures of record come from the full pipeline
(`word_vector_student.py`).

Writes bench/results/student_variants.json and prints nDCG@10 per language.
"""

import argparse
import collections
import dataclasses
import glob
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402

import carve  # noqa: E402
import scaling  # noqa: E402
import scaling_data  # noqa: E402
from evaluation import metrics  # noqa: E402
from models.export import raw_features_from_examples  # noqa: E402
from relevance import contract  # noqa: E402
from relevance.adapters import load_records  # noqa: E402
from relevance.config_dicts import known_keys  # noqa: E402
from relevance.records import record_to_example, to_record  # noqa: E402
from trainer.student import model as student_model  # noqa: E402
from trainer.student.config import StudentConfig  # noqa: E402
from trainer.student.losses import pack_targets  # noqa: E402
from models.query_batches import grouped_batches, query_keys  # noqa: E402
from trainer.student.task import (  # noqa: E402
    distillation_loss, load_word_vectors, parse_labels, steps_per_epoch_of,
)
from models.transform_inputs import TransformInputAdapter  # noqa: E402

DEFAULT_VARIANTS = ('default={}', 'no_word_vectors={"word_vectors_preset": ""}',
                    'listwise={"listwise_weight": 1.0}',
                    'ngram_embeddings={"ngram_embeddings": true}')
FEATURES = {**student_model.MODEL_INPUT_WIDTHS, **student_model.WORD_VECTOR_INPUT_WIDTHS}


class Artefacts:
    """The run's Transform graph, its student config and its rows, transformed once."""

    def __init__(self, workdir: str, data_dir: str):
        root = os.path.join(workdir, "pipeline", "pipeline_root")
        with open(os.path.join(workdir, "data", "inputs.json")) as handle:
            inputs = json.load(handle)
        num_grades = inputs["num_grades"]
        self.tft_output = tft.TFTransformOutput(
            sorted(glob.glob(os.path.join(root, "Transform", "transform_graph", "*")))[-1])
        self.layer = self.tft_output.transform_features_layer()
        self.adapter = TransformInputAdapter(self.tft_output.raw_feature_spec())
        self.num_grades = num_grades
        configs = [json.load(open(path))["student"] for path in glob.glob(os.path.join(
            root, "StudentTrainer", "model_run", "*", "student_config.json"))]
        # The run's training settings; the variant fields at their defaults, word
        # vectors from the preset the run's word-vector students used. The stored config
        # may come from an older version: keys since removed are dropped (known_keys).
        self.config = dataclasses.replace(
            StudentConfig.from_dict(known_keys(StudentConfig, configs[0])), ngram_embeddings=False,
            word_vectors_trainable=False,
            word_vectors_preset=max(c.get("word_vectors_preset", "") for c in configs))
        executions = sorted(glob.glob(os.path.join(root, "PseudoLabeler", "pseudo_labeled", "*")),
                            key=lambda path: int(os.path.basename(path)))
        self.corpora = {"0x": self._corpus(executions[0]), "pseudo": self._corpus(executions[-1])}
        development = _development_rows(inputs["description"], data_dir)
        with open(os.path.join(workdir, "data", "test.jsonl")) as handle:
            test = [json.loads(line) for line in handle]
        self.splits = {"development": self._graded(development), "test": self._graded(test)}

    def _transform(self, serialized):
        out = collections.defaultdict(list)
        for start in range(0, len(serialized), 512):
            raw = raw_features_from_examples(tf.constant(serialized[start:start + 512]))
            transformed = self.layer(self.adapter(raw))
            for name in FEATURES:
                out[name].append(transformed[name].numpy())
        return {name: np.concatenate(parts) for name, parts in out.items()}

    def _corpus(self, execution_dir):
        files = glob.glob(os.path.join(execution_dir, "Split-train", "*"))
        serialized = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
        soft_label, grade = parse_labels(tf.constant(serialized), self.num_grades)
        return (self._transform(serialized), soft_label.numpy(), grade.numpy(),
                query_keys(serialized))

    def _graded(self, rows):
        examples = [record_to_example(to_record(row, self.num_grades, detect_missing_language=False))
                    .SerializeToString() for row in rows]
        return {"x": self._transform(examples), "grade": np.array([r[contract.GRADE] for r in rows]),
                "query_id": [carve.query_group(r) for r in rows],
                "language": np.array([r[contract.LANGUAGE] for r in rows])}


def _development_rows(description: str, data_dir: str):
    """The run's development rows: graded, of no test query (see the module docstring)."""
    if description.startswith("crowdflower"):
        records, _ = load_records("crowdflower", os.path.join(data_dir, "crowdflower", "train.csv"))
        return carve.carve_by_query(list(records), scaling_data.CROWDFLOWER_FRACTIONS,
                                    scaling_data.SEED)["unlabeled"]
    return scaling_data.xquad_r_dev(data_dir)[0]


def ndcg_by_language(split, scores):
    result = {}
    for language in sorted(set(split["language"])):
        rows = np.flatnonzero(split["language"] == language)
        result[language] = metrics.mean_ndcg(split["grade"][rows], scores[rows],
                                             [split["query_id"][i] for i in rows], 10)[0]
    return result


def train_and_score(artefacts: Artefacts, config: StudentConfig, corpus: str, seed: int):
    keras.utils.set_random_seed(seed)
    word_vectors = load_word_vectors(config, artefacts.tft_output)
    model = student_model.build_student_model(config, artefacts.num_grades, word_vectors)
    features, soft_label, grade, keys = artefacts.corpora[corpus]
    inputs = {n: features[n] for n in model.input}
    loss = distillation_loss(config, artefacts.num_grades)
    if loss.needs_query_groups:
        def gather(rows, group):
            return ({n: tf.gather(v, rows) for n, v in inputs.items()}, pack_targets(
                tf.gather(soft_label, rows), tf.gather(grade, rows), artefacts.num_grades, group))

        dataset = grouped_batches(np.arange(len(keys)), keys, config.batch_size, seed=seed,
                                  repeat=True).map(gather)
    else:
        targets = pack_targets(soft_label, grade, artefacts.num_grades)
        dataset = (tf.data.Dataset.from_tensor_slices((inputs, targets))
                   .shuffle(config.shuffle_buffer, seed=seed).repeat().batch(config.batch_size))
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss)
    model.fit(dataset, epochs=config.epochs, steps_per_epoch=steps_per_epoch_of(config, None),
              verbose=0)
    scores = {}
    for name, split in artefacts.splits.items():
        logits = model.predict({n: split["x"][n] for n in model.input}, batch_size=2048, verbose=0)
        expected = tf.nn.softmax(logits).numpy() @ np.arange(1, artefacts.num_grades + 1)
        scores[name] = ndcg_by_language(split, expected)
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON")
    parser.add_argument("--seeds", default="42")
    args = parser.parse_args()
    started = time.time()
    artefacts = Artefacts(args.workdir, args.data_dir)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    results = {}
    for spec in args.variant or DEFAULT_VARIANTS:
        name, _, overrides = spec.partition("=")
        config = dataclasses.replace(artefacts.config, **json.loads(overrides or "{}"))
        if not config.train_steps:
            config = dataclasses.replace(config, train_steps=300)
        for corpus in artefacts.corpora:
            runs = [train_and_score(artefacts, config, corpus, seed) for seed in seeds]
            averaged = {split: {language: round(float(np.mean([r[split][language] for r in runs])), 4)
                                for language in runs[0][split]} for split in runs[0]}
            results[f"{name} {corpus}"] = {"overrides": json.loads(overrides or "{}"), **averaged}
            print(f"{name} {corpus}: " + "  ".join(
                f"{split} " + " ".join(f"{k} {v:.3f}" for k, v in values.items())
                for split, values in averaged.items()), flush=True)
    document = {"command": "PYTHONPATH=. .venv/bin/python bench/student_variants.py "
                           + " ".join(sys.argv[1:]),
                "code_commit": scaling._snapshot_commit(), "workdir": args.workdir,
                "seeds": seeds, "base_config": artefacts.config.to_dict(), "results": results,
                "elapsed_seconds": round(time.time() - started, 1)}
    output = scaling.write_results("student_variants", document)
    print(f"wrote {output} ({document['elapsed_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
