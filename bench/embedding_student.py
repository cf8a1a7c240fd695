"""The student with precomputed item embeddings and a query tower, against its teacher.

    PYTHONPATH=. .venv/bin/python bench/embedding_student.py --workdir DIR \\
        [--dims 128] [--seeds 42,43,44] [--variant 'NAME={"embedding_products": false}']

DIR is a finished `bench/word_vector_student.py --dataset crowdflower|xquad-r` workdir:
its Transform graph, the student corpora its PseudoLabeler wrote (human labels only,
0x, and with pseudo-labels, the last run's volume), and its `relevance evaluate` output
on the held-out test split (the teacher's and BM25's per-row predictions). Every query
and item text of the corpora and the test split is encoded once by the pretrained
encoder (`components.item_embedder.TextEncoder`, cached in DIR/encodings.npz), and
reduced by an `EmbeddingSpace` fitted on the corpora's texts only, as the ItemEmbedder
does in the pipeline. Then, per corpus and seed, in-process and trained as
`trainer.student.task.run_fn` trains (same model, loss, steps, query tower fit, hidden
embedding share):

* `no_embeddings`: the student as it is without the ItemEmbedder;
* `embeddings`: with item embeddings; each test query through the query tower (test
  queries are in no cache: the hit rate is printed);
* `embeddings_exact_query`: the same model scored with the encoder's own embedding of
  each test query, as a query-embedding service or a cache hit would give it;
* `bi_encoder`: the pretrained encoder's query/item cosine, no training (full width).

Reports nDCG@10 per language, accuracy and QWK, and the paired-bootstrap standard error
of each student's nDCG@10 difference with the teacher, with BM25 and with the
human-only student (`no_embeddings 0x`), over test queries, the seeds' probabilities
averaged. Writes bench/results/embedding_student_<dataset>.json.
"""

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import scaling  # noqa: E402
import student_variants  # noqa: E402
import volume_ladder  # noqa: E402
from components.item_embedder.embedding_space import EmbeddingSpace  # noqa: E402
from components.item_embedder.settings import EmbedSettings  # noqa: E402
from components.item_embedder.text_encoder import TextEncoder  # noqa: E402
from components.item_embedder.texts import item_embedding_text  # noqa: E402
from evaluation import metrics  # noqa: E402
from evaluation.evaluate import BASELINE_NAME  # noqa: E402
from relevance import contract  # noqa: E402
from relevance.record_parsing import example_to_dict  # noqa: E402
from trainer.student import model as student_model  # noqa: E402
from trainer.student.config import StudentConfig  # noqa: E402
from trainer.student.item_embeddings import distinct_query_embeddings, hide_item_embeddings  # noqa: E402
from trainer.student.losses import pack_targets  # noqa: E402
from trainer.student.query_cache import QueryEmbeddingCache, most_frequent_queries  # noqa: E402
from trainer.student.query_side import fit_tower, query_encoder_inputs, tower_estimates  # noqa: E402
from trainer.student.query_tower import mean_cosine  # noqa: E402
from trainer.student.task import distillation_loss, load_word_vectors, steps_per_epoch_of  # noqa: E402

RESAMPLES = 2000
BUILT_IN_VARIANTS = ("no_embeddings", "embeddings", "embeddings_exact_query")
DEFAULT_DIMS = EmbedSettings().dims
# The student trained on the human labels alone, as it is without the ItemEmbedder.
HUMAN_ONLY = "no_embeddings 0x"


class EmbeddedArtefacts(student_variants.Artefacts):
    """The run's artefacts, each row's query and item text kept beside its features."""

    def __init__(self, workdir: str, data_dir: str):
        super().__init__(workdir, data_dir)
        with open(os.path.join(workdir, "data", "inputs.json")) as handle:
            self.description = json.load(handle)["description"]

    def _transform(self, serialized):
        features = super()._transform(serialized)
        rows = [example_to_dict(tf.train.Example.FromString(s)) for s in serialized]
        features["query_text"] = [str(row.get(contract.QUERY) or "") for row in rows]
        features["item_text"] = [item_embedding_text(row) for row in rows]
        return features


def encode_all(artefacts, workdir: str, preset: str):
    """{(side, text): [H] unit vector} for every text of the corpora and splits, cached."""
    path = os.path.join(workdir, "encodings.npz")
    known = {}
    if os.path.exists(path):
        saved = np.load(path, allow_pickle=True)
        known = dict(zip(map(tuple, saved["keys"]), saved["vectors"]))
    wanted = {"query": set(), "item": set()}
    for features in _feature_sets(artefacts):
        wanted["query"].update(features["query_text"])
        wanted["item"].update(features["item_text"])
    missing = {side: sorted(t for t in texts if (side, t) not in known)
               for side, texts in wanted.items()}
    if any(missing.values()):
        encoder = TextEncoder(preset)
        started = time.time()
        for side, texts in missing.items():
            encode = encoder.encode_queries if side == "query" else encoder.encode_items
            print(f"encoding {len(texts)} {side} texts", flush=True)
            known.update(zip(((side, t) for t in texts), encode(texts)))
        print(f"encoded in {time.time() - started:.0f} s", flush=True)
        keys = list(known)
        np.savez(path, keys=np.array(keys, dtype=object),
                 vectors=np.stack([known[k] for k in keys]))
    return known


def _feature_sets(artefacts):
    return [corpus[0] for corpus in artefacts.corpora.values()] + [
        split["x"] for split in artefacts.splits.values()]


def attach_embeddings(artefacts, encodings, dims: int, preset: str):
    """Fits the space on the corpora's texts; adds item and query embeddings everywhere."""
    fit_keys = set()
    for features, _, _, _ in artefacts.corpora.values():
        fit_keys.update(("query", t) for t in features["query_text"])
        fit_keys.update(("item", t) for t in features["item_text"])
    space = EmbeddingSpace.fit(np.stack([encodings[k] for k in sorted(fit_keys)]), dims, preset)
    for features in _feature_sets(artefacts):
        full_items = np.stack([encodings[("item", t)] for t in features["item_text"]])
        full_queries = np.stack([encodings[("query", t)] for t in features["query_text"]])
        features["full_item"], features["full_query"] = full_items, full_queries
        features[student_model.ITEM_EMBEDDING] = space.project(full_items)
        features[student_model.ITEM_EMBEDDING_PRESENT] = np.ones((len(full_items), 1), "float32")
        features["query_embedding"] = space.project(full_queries)
    return space


def train_student(artefacts, config: StudentConfig, corpus: str, seed: int, dims: int):
    """The trained model and its query cache (dims = 0: the student without embeddings)."""
    keras.utils.set_random_seed(seed)
    word_vectors = load_word_vectors(config, artefacts.tft_output)
    model = student_model.build_student_model(config, artefacts.num_grades, word_vectors, dims)
    features, soft_label, grade, _ = artefacts.corpora[corpus]
    cache, report = None, {}
    if dims:
        query_encoder = model.get_layer(student_model.QUERY_ENCODER)
        queries, targets = distinct_query_embeddings(features["query_text"],
                                                     features["query_embedding"])
        _, report["tower_cosine_training"] = fit_tower(
            query_encoder, queries, targets, config, artefacts.layer, artefacts.adapter, seed)
        cache = QueryEmbeddingCache(*most_frequent_queries(
            features["query_text"], features["query_embedding"], config.query_cache_size))
    inputs = {n: features[n] for n in model.input}
    targets = pack_targets(soft_label, grade, artefacts.num_grades)
    dataset = (tf.data.Dataset.from_tensor_slices((inputs, targets))
               .shuffle(config.shuffle_buffer, seed=seed).repeat().batch(config.batch_size))
    if dims:
        dataset = dataset.map(lambda x, y: (hide_item_embeddings(
            x, config.embedding_dropout, seed=seed), y))
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss=distillation_loss(config, artefacts.num_grades))
    model.fit(dataset, epochs=config.epochs, steps_per_epoch=steps_per_epoch_of(config, None),
              verbose=0)
    return model, cache, report


def score_split(model, split, dims: int, query_vectors: str = "tower", cache=None):
    """Grade probabilities `[N, G]` of a split; `query_vectors`: "tower" (cache hits
    replace it when `cache`) or "exact" (the encoder's embedding of every query)."""
    x = split["x"]
    features = {n: tf.constant(x[n]) for n in model.input}
    queries = tf.constant(x["query_text"])
    _, query_of_row = tf.unique(queries)
    lookup = None
    if dims and query_vectors == "exact":
        exact = tf.constant(x["query_embedding"])
        lookup = lambda rows: (tf.gather(exact, rows), tf.ones(tf.shape(rows), tf.bool))  # noqa
    elif dims and cache is not None:
        lookup = lambda rows: cache.lookup(tf.gather(queries, rows))  # noqa: E731
    logits = student_model.encode_queries_once(model, features, query_of_row, lookup)
    return tf.nn.softmax(logits).numpy()


def summarise(split, probabilities, num_grades, ranking=None):
    ranking = metrics.expected_grade(probabilities) if ranking is None else ranking
    grades, query_ids = split["grade"], split["query_id"]
    result = {"ndcg@10": student_variants.ndcg_by_language(split, ranking)}
    result["ndcg@10"]["all"] = metrics.mean_ndcg(grades, ranking, query_ids, 10)[0]
    predicted = metrics.predicted_grade(probabilities)
    result["accuracy"] = metrics.accuracy(grades, predicted)
    result["qwk"] = metrics.quadratic_weighted_kappa(grades, predicted, num_grades)
    per_query = metrics.ndcg_by_query(grades, ranking, query_ids, 10)
    return result, per_query


def paired_se(per_query_a, per_query_b):
    shared = sorted(set(per_query_a) & set(per_query_b))
    return volume_ladder.paired_difference(per_query_a, per_query_b, shared, RESAMPLES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--preset", default="multilingual-e5-small")
    parser.add_argument("--dims", type=int, default=DEFAULT_DIMS)
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--corpora", default="0x,pseudo",
                        help="0x (human labels only), pseudo (the run's pseudo-labels, all), "
                             "pseudo@K (K x the human rows' count of them, nested)")
    parser.add_argument("--variants", default=",".join(BUILT_IN_VARIANTS),
                        help="which built-in students to train (comma-separated)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                        help="StudentConfig overrides of the embedding student")
    args = parser.parse_args()
    started = time.time()
    artefacts = EmbeddedArtefacts(args.workdir, args.data_dir)
    encodings = encode_all(artefacts, args.workdir, args.preset)
    attach_embeddings(artefacts, encodings, args.dims, args.preset)
    corpora = args.corpora.split(",")
    artefacts.corpora.update(volume_ladder.nested_volumes(
        artefacts.corpora["pseudo"], [float(c.split("@")[1]) for c in corpora if "@" in c]))
    test = artefacts.splits["test"]
    num_grades = artefacts.num_grades
    config = dataclasses.replace(artefacts.config, train_steps=artefacts.config.train_steps or 300)

    saved = np.load(os.path.join(args.workdir, "eval", "predictions.npz"))
    if len(saved["teacher"]) != len(test["grade"]):
        raise SystemExit("the evaluate output does not hold the test split's rows")
    results, per_query = {}, {}
    results["teacher"], per_query["teacher"] = summarise(test, saved["teacher"], num_grades)
    results["bm25"], per_query["bm25"] = summarise(
        test, saved[BASELINE_NAME], num_grades, ranking=saved[f"{BASELINE_NAME}.scores"])
    cosine = np.sum(test["x"]["full_query"] * test["x"]["full_item"], axis=1)
    results["bi_encoder"], per_query["bi_encoder"] = summarise(
        test, np.full((len(cosine), num_grades), 1.0 / num_grades), num_grades, ranking=cosine)

    variants = {"no_embeddings": ({}, 0, "tower"), "embeddings": ({}, args.dims, "tower"),
                "embeddings_exact_query": ({}, args.dims, "exact")}
    variants = {name: variants[name] for name in args.variants.split(",") if name}
    for spec in args.variant:
        name, _, overrides = spec.partition("=")
        variants[name] = (json.loads(overrides or "{}"), args.dims, "tower")
    seeds = [int(s) for s in args.seeds.split(",")]
    trained = {}
    for corpus in corpora:
        for name, (overrides, dims, query_vectors) in variants.items():
            key = (corpus, json.dumps(overrides), dims)
            probabilities, reports = [], []
            for seed in seeds:
                if (key, seed) not in trained:
                    trained[(key, seed)] = train_student(
                        artefacts, dataclasses.replace(config, **overrides), corpus, seed, dims)
                model, cache, report = trained[(key, seed)]
                probabilities.append(score_split(model, test, dims, query_vectors, cache))
                reports.append(report)
            label = f"{name} {corpus}"
            results[label], per_query[label] = summarise(test, np.mean(probabilities, axis=0),
                                                         num_grades)
            results[label]["pseudo_labels"] = int(np.sum(artefacts.corpora[corpus][2] == 0))
            if dims:
                cache = trained[(key, seeds[0])][1]
                _, hit = cache.lookup(tf.constant(test["x"]["query_text"]))
                results[label]["test_cache_hit_rate"] = float(np.mean(hit.numpy()))
                results[label]["tower_cosine_training"] = float(np.mean(
                    [r["tower_cosine_training"] for r in reports]))
                query_encoder = trained[(key, seeds[0])][0].get_layer(student_model.QUERY_ENCODER)
                queries, targets = distinct_query_embeddings(test["x"]["query_text"],
                                                             test["x"]["query_embedding"])
                results[label]["tower_cosine_test_queries"] = mean_cosine(tower_estimates(
                    query_encoder, query_encoder_inputs(queries, artefacts.layer,
                                                        artefacts.adapter, query_encoder)),
                    targets)
            results[label]["vs_teacher"] = paired_se(per_query[label], per_query["teacher"])
            results[label]["vs_bm25"] = paired_se(per_query[label], per_query["bm25"])
            if corpus != "0x" and f"{name} 0x" in per_query:
                results[label]["vs_own_0x_by_language"] = volume_ladder.by_language_differences(
                    per_query[label], per_query[f"{name} 0x"], test, RESAMPLES)
            if HUMAN_ONLY in per_query and label != HUMAN_ONLY:
                results[label]["vs_human_only_student"] = paired_se(per_query[label],
                                                                    per_query[HUMAN_ONLY])
            print(label, json.dumps(results[label]), flush=True)
        # Free the corpus's models before the next one.
        trained.clear()

    document = {"command": "PYTHONPATH=. .venv/bin/python bench/embedding_student.py "
                           + " ".join(sys.argv[1:]),
                "code_commit": scaling._snapshot_commit(), "workdir": args.workdir,
                "data": artefacts.description,
                "seeds": seeds, "dims": args.dims, "base_config": config.to_dict(),
                "test_pairs": len(test["grade"]), "results": _rounded(results),
                "elapsed_seconds": round(time.time() - started, 1)}
    name = f"embedding_student_{os.path.basename(args.workdir)}"
    if args.dims != DEFAULT_DIMS:  # a width sweep keeps one file per width
        name += f"_d{args.dims}"
    output = scaling.write_results(name, document)
    print(f"wrote {output} ({document['elapsed_seconds']:.0f} s)")
    return 0


def _rounded(value):
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, float):
        return round(value, 4)
    return value


if __name__ == "__main__":
    sys.exit(main())
