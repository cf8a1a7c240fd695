"""In-process latency of the student's `serving_default`: one query x 200 candidates.

With no arguments, trains a tiny student on generated demo data through the real
Transform (tft_beam) and `trainer.student.task.run_fn`, with a word-vector table of
200k words x 128 dimensions (the vocabulary cap; `--word-vector-words 0` for none),
then times the SavedModel's raw signature and reports its size on disk; again
(`distinct_item_words`) with item texts whose words are nearly all distinct, the worst
case for the word-vector lookups. With `--item-embedding-dims D` (default the ItemEmbedder's,
64; 0 for none, which needs word vectors) the rows carry random unit `item_embedding` and
`query_embedding` features as the ItemEmbedder writes them, `--query-cache` distinct
queries (default 10,000, the student's cache size) among the unlabeled rows fill the
query cache to its real size, and the timed signature is `serving_embedded` with 200
item embeddings in the request (the query tower included: the request's query is in no
cache). `--model DIR` times an existing student SavedModel instead.

    .venv/bin/python bench/student_latency.py [--model DIR] [--calls 300] [--candidates 200]
    .venv/bin/python bench/student_latency.py --model DIR --profile   # where the time goes

Writes bench/results/student_latency.json and prints it. `--profile` instead traces 20
calls with the TF profiler on one thread (so that op times are compute, not waiting for a
shared core) and writes (bench/results/student_profile.json) and prints each op type's
time per call, heaviest first, and the number of ops a call executes.
"""

import argparse
import json
import os
import random
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from components.item_embedder.settings import EmbedSettings  # noqa: E402
from relevance import contract  # noqa: E402
from bench.demo_student import build_demo_student  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "results", "student_latency.json")
PROFILE_RESULTS = os.path.join(ROOT, "bench", "results", "student_profile.json")
G = contract.DEFAULT_NUM_GRADES


# ------------------------------------------------------------------ the request

_VOCABULARY = (
    "red blue green black white yellow pink grey leather wooden cotton ceramic glass metal "
    "wool linen vintage modern minimalist rustic elegant sporty shoes boots sandals dress "
    "jacket scarf sofa chair table mug teapot bowl lamp lantern chandelier footwear clothing "
    "furniture kitchenware lighting perfect for everyday use easy to clean and built last "
    "a great gift friends family ships within two days our made of available in shop at "
    "free returns on every order photo the studio garden kitchen living room handmade "
    "premium classic soft durable lightweight waterproof comfortable stylish new sale"
).split()


def make_request(num_candidates, seed=0):
    """One query and `num_candidates` items with realistic field lengths."""
    rng = random.Random(seed)

    def text(n):
        return " ".join(rng.choice(_VOCABULARY) for _ in range(n))

    def sentence(n):
        return text(n).capitalize() + "."

    items = {name: [] for name in contract.ITEM_TEXT_FIELDS}
    for _ in range(num_candidates):
        title = text(rng.randint(6, 10)).title()
        items["title"].append(title)
        items["description"].append(
            " ".join(sentence(rng.randint(8, 12)) for _ in range(3))
        )
        items["image_caption"].append("a photo of " + text(rng.randint(6, 8)))
        items["link_title"].append(f"{title} | Shop {rng.randint(1, 99)}")
        items["link_description"].append(sentence(rng.randint(10, 14)))
        items["engaged_queries"].append(
            contract.LIST_SEPARATOR.join(text(rng.randint(2, 4)) for _ in range(3))
        )
        items["board_titles"].append(
            contract.LIST_SEPARATOR.join(text(rng.randint(2, 3)).title() for _ in range(2))
        )
    request = {name: tf.constant(values) for name, values in items.items()}
    request[contract.QUERY] = tf.constant(["red leather boots"])
    return request


def with_distinct_item_words(request, seed=1):
    """Every item field rewritten as 12 words drawn from the padded vocabulary's 200k
    made-up words: nearly every item word of the request is distinct (the worst case
    for the word-vector lookups, which run once per distinct word)."""
    rng = random.Random(seed)
    num_candidates = int(request["title"].shape[0])
    for name in contract.ITEM_TEXT_FIELDS:
        request[name] = tf.constant([
            " ".join(f"zz{rng.randrange(190_000):07d}" for _ in range(12))
            for _ in range(num_candidates)])
    return request


def measure(model_dir, calls, candidates, warmup=30, distinct_item_words=False):
    loaded = tf.saved_model.load(model_dir)
    request = make_request(candidates)
    if distinct_item_words:
        request = with_distinct_item_words(request)
    serve = loaded.signatures[contract.SIGNATURE_RAW]
    if contract.SIGNATURE_EMBEDDED in loaded.signatures:
        serve = loaded.signatures[contract.SIGNATURE_EMBEDDED]
        dims = int(loaded.item_embedding_width.numpy())
        vectors = np.random.default_rng(1).normal(size=(candidates, dims)).astype("float32")
        request[contract.ITEM_EMBEDDING] = tf.constant(
            vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    for _ in range(warmup):
        out = serve(**request)
    assert out[contract.OUTPUT_PROBABILITIES].shape == (candidates, G)
    times = []
    cpu_start = time.process_time()
    for _ in range(calls):
        start = time.perf_counter()
        out = serve(**request)
        _ = out[contract.OUTPUT_PROBABILITIES].numpy()
        times.append((time.perf_counter() - start) * 1000.0)
    # Process CPU time (all threads) per call: less sensitive than wall time to other
    # processes competing for the cores, so before/after comparisons on a busy machine
    # should look at it too.
    cpu_ms_per_call = (time.process_time() - cpu_start) * 1000.0 / calls
    times = np.array(times)
    return {
        "model": model_dir,
        "candidates": candidates,
        "calls": calls,
        "warmup": warmup,
        "p50_ms": round(float(np.percentile(times, 50)), 3),
        "p95_ms": round(float(np.percentile(times, 95)), 3),
        "p99_ms": round(float(np.percentile(times, 99)), 3),
        "mean_ms": round(float(times.mean()), 3),
        "min_ms": round(float(times.min()), 3),
        "cpu_ms_per_call": round(cpu_ms_per_call, 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "score_checksum": round(float(np.sum(out[contract.OUTPUT_SCORE].numpy())), 4),
        "signature": contract.SIGNATURE_EMBEDDED if contract.ITEM_EMBEDDING in request
        else contract.SIGNATURE_RAW,
        "item_embeddings_used": float(np.mean(out[contract.OUTPUT_EMBEDDING_USED].numpy()))
        if contract.OUTPUT_EMBEDDING_USED in out else None,
    }


def profile_ops(model_dir, candidates, calls=20):
    """Per-op-type microseconds per call of the raw signature, from a TF profiler trace."""
    import collections
    import glob
    import shutil

    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    # One thread: op durations are then compute, not time spent waiting for a core.
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    serve = tf.saved_model.load(model_dir).signatures[contract.SIGNATURE_RAW]
    request = make_request(candidates)
    for _ in range(20):
        serve(**request)
    log_dir = tempfile.mkdtemp(prefix="student_profile_")
    tf.profiler.experimental.start(log_dir)
    for _ in range(calls):
        serve(**request)[contract.OUTPUT_PROBABILITIES].numpy()
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    with open(glob.glob(os.path.join(log_dir, "**", "*.xplane.pb"), recursive=True)[0], "rb") as f:
        space.ParseFromString(f.read())
    shutil.rmtree(log_dir, ignore_errors=True)
    micros, counts = collections.Counter(), collections.Counter()
    call_micros = 0.0
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if name.startswith("EagerLocalExecute"):  # the whole signature call
                    call_micros += event.duration_ps / 1e6 / calls
                # Op events are "<node name>:<op type>"; the rest are runtime spans
                # ("ExecutorState::Process", ...).
                if ":" not in name or "::" in name or name.startswith("EagerLocalExecute"):
                    continue
                op_type = name.rsplit(":", 1)[1]
                micros[op_type] += event.duration_ps / 1e6 / calls
                counts[op_type] += 1 / calls
    return {
        "model": model_dir,
        "candidates": candidates,
        "call_us": round(call_micros, 1),
        "ops_per_call": round(sum(counts.values())),
        "op_us_per_call": round(sum(micros.values()), 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "by_op_type": [
            {"op": op, "us_per_call": round(us, 1), "count": round(counts[op], 1)}
            for op, us in micros.most_common()
        ],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="student SavedModel dir (default: train a tiny one)")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--word-vector-words", type=int, default=200_000,
                        help="words in the trained student's word-vector table (0: a "
                             "student without word vectors)")
    parser.add_argument("--word-vector-dims", type=int, default=128)
    parser.add_argument("--item-embedding-dims", type=int, default=EmbedSettings().dims,
                        help="item / query embedding width of the trained student (0: none; "
                             "default: the ItemEmbedder's)")
    parser.add_argument("--query-cache", type=int, default=10_000,
                        help="distinct queries in the trained student's query cache")
    parser.add_argument("--output", default=RESULTS)
    parser.add_argument("--profile", action="store_true",
                        help="print per-op-type time per call instead (needs --model)")
    args = parser.parse_args(argv)
    if args.calls < 200:
        parser.error("--calls must be >= 200")
    if args.profile:
        if not args.model:
            parser.error("--profile needs --model")
        report = profile_ops(args.model, args.candidates)
        output = PROFILE_RESULTS if args.output == RESULTS else args.output
        os.makedirs(os.path.dirname(output), exist_ok=True)
        with open(output, "w") as f:
            json.dump(report, f, indent=2)
        print(json.dumps(report, indent=2))
        return report

    model_dir = args.model
    build_seconds = None
    if not model_dir:
        start = time.perf_counter()
        model_dir = build_demo_student(tempfile.mkdtemp(prefix="student_latency_"),
                                       args.word_vector_words, args.word_vector_dims,
                                       args.item_embedding_dims if args.word_vector_words else 0,
                                       args.query_cache)
        build_seconds = round(time.perf_counter() - start, 1)
    result = measure(model_dir, args.calls, args.candidates)
    result["distinct_item_words"] = {
        key: value for key, value in measure(model_dir, args.calls, args.candidates,
                                             distinct_item_words=True).items()
        if key in ("p50_ms", "p99_ms", "cpu_ms_per_call")}
    result["saved_model_mb"] = round(sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(model_dir) for name in names) / 1e6, 1)
    if build_seconds is not None:
        result["build_seconds"] = build_seconds
        result["word_vector_words"] = args.word_vector_words
        result["word_vector_dims"] = args.word_vector_dims if args.word_vector_words else 0
        result["item_embedding_dims"] = args.item_embedding_dims if args.word_vector_words else 0
        result["query_cache"] = args.query_cache if result["item_embedding_dims"] else 0
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
