"""Teacher training examples/s and labeling pairs/s on an accelerator, with mixed precision.

The lent GPU machines have no TensorFlow (and nothing can be installed there but carried
wheels, 64 MiB a call), so this bench needs only Keras 3 and keras-hub, on any backend:
JAX or PyTorch on the GPU machine, TensorFlow here. It builds the default teacher's shape
(multilingual-e5-small: 12 layers, 384 wide, a 250k-token table) with randomly initialised
weights (cost does not depend on their values), the pooled-token head and the similarity
prior's frozen second encoder, and times

* training: AdamW steps on (query, item) pairs of XQuAD-R-like lengths, batched by
  length as the TeacherTrainer does, the prior's passes without a backward;
* labeling: the whole teacher's forward pass (pair + query + item) on length-sorted
  batches, as the PseudoLabeler runs it.

Run it the same way with `--mixed-precision off` for the float32 baseline. On a CPU,
`--tiny` builds a 1-layer model so the script's path can be checked in seconds.

    KERAS_BACKEND=jax python3 bench/gpu_teacher.py --mixed-precision mixed_bfloat16 \
        --out $OUT/gpu_teacher.json

How a session with a GPU runs it in one call: bench/README.md ("GPU teacher bench").
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

# e5-small's shape (keras-hub BertBackbone) and XQuAD-R-like token counts.
E5_SMALL = dict(vocabulary_size=250_037, num_layers=12, num_heads=12, hidden_dim=384,
                intermediate_dim=1536, max_sequence_length=512)
TINY = dict(vocabulary_size=1_000, num_layers=1, num_heads=2, hidden_dim=16,
            intermediate_dim=32, max_sequence_length=128)
PAIR_TOKENS, QUERY_TOKENS, ITEM_TOKENS = (60, 25), (14, 4), (45, 20)  # (mean, sd)
NUM_GRADES = 5


def lengths(rng, mean_sd, count, cap):
    mean, sd = mean_sd
    return np.clip(rng.normal(mean, sd, count).round(), 4, cap).astype("int32")


def padded(rng, row_lengths, vocabulary_size):
    """Token ids and padding mask [N, max length] for rows of `row_lengths`."""
    width = int(row_lengths.max())
    mask = (np.arange(width)[None, :] < row_lengths[:, None]).astype("int32")
    ids = rng.integers(5, vocabulary_size, size=(len(row_lengths), width)).astype("int32")
    return ids * mask, mask


def build_teacher(keras, keras_hub, shape, policy):
    """The cross-encoder with the similarity prior: (trainable model, inputs' names)."""
    pair = keras_hub.models.BertBackbone(**shape, dtype=policy, name="pair_backbone")
    prior = keras_hub.models.BertBackbone(**shape, dtype=policy, name="prior_backbone")
    pair.token_embedding.trainable = False  # the pretrained teacher's default
    prior.trainable = False
    ops = keras.ops
    inputs, pooled_vectors = {}, {}
    for group in ("pair", "query", "item"):
        inputs[f"{group}_ids"] = keras.Input((None,), dtype="int32", name=f"{group}_ids")
        inputs[f"{group}_mask"] = keras.Input((None,), dtype="int32", name=f"{group}_mask")
    def encode(backbone, group):
        ids, mask = inputs[f"{group}_ids"], inputs[f"{group}_mask"]
        return backbone({"token_ids": ids, "padding_mask": mask,
                         "segment_ids": ops.zeros_like(ids)})["sequence_output"], mask
    sequence, _ = encode(pair, "pair")
    hidden = keras.layers.Dense(shape["hidden_dim"], activation="tanh", dtype=policy)(
        sequence[:, 0, :])
    logits = keras.layers.Dense(NUM_GRADES, dtype="float32")(hidden)
    for group in ("query", "item"):
        sequence, mask = encode(prior, group)
        weights = ops.cast(mask, sequence.dtype)[..., None]
        mean = ops.sum(sequence * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1)
        pooled_vectors[group] = ops.normalize(ops.cast(mean, "float32"), axis=-1)
    cosine = ops.sum(pooled_vectors["query"] * pooled_vectors["item"], axis=-1, keepdims=True)
    logits = logits + keras.layers.Dense(NUM_GRADES, dtype="float32")(cosine)
    return keras.Model(inputs, logits)


def batches(rng, count, batch_size, shape):
    """Length-sorted batches of `count` synthetic pairs, as dicts of numpy arrays."""
    cap = shape["max_sequence_length"]
    sizes = {group: lengths(rng, mean_sd, count, min(cap, 128)) for group, mean_sd in
             (("pair", PAIR_TOKENS), ("query", QUERY_TOKENS), ("item", ITEM_TOKENS))}
    order = np.argsort(sizes["pair"], kind="stable")
    out = []
    for start in range(0, count, batch_size):
        rows = order[start:start + batch_size]
        batch = {}
        for group, group_lengths in sizes.items():
            batch[f"{group}_ids"], batch[f"{group}_mask"] = padded(
                rng, group_lengths[rows], shape["vocabulary_size"])
        out.append(batch)
    return out


def timed(fn, items, warmup: int) -> float:
    """Seconds for fn over items[warmup:], after running it on the first `warmup`."""
    for item in items[:warmup]:
        fn(item)
    started = time.perf_counter()
    for item in items[warmup:]:
        fn(item)
    return time.perf_counter() - started


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mixed-precision", default="mixed_bfloat16",
                        choices=["off", "mixed_float16", "mixed_bfloat16"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-batches", type=int, default=40)
    parser.add_argument("--label-batches", type=int, default=80)
    parser.add_argument("--warmup", type=int, default=5, help="batches run before timing")
    parser.add_argument("--tiny", action="store_true", help="a 1-layer model (path check)")
    parser.add_argument("--out", default=None, help="JSON file (default: print only)")
    args = parser.parse_args(argv)

    import keras
    import keras_hub

    policy = None if args.mixed_precision == "off" else args.mixed_precision
    shape = TINY if args.tiny else E5_SMALL
    model = build_teacher(keras, keras_hub, shape, policy)
    optimizer = keras.optimizers.AdamW(learning_rate=2e-5)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    train = batches(rng, args.batch_size * (args.train_batches + args.warmup),
                    args.batch_size, shape)
    rng.shuffle(train)
    labels = rng.integers(0, NUM_GRADES, size=args.batch_size)
    train_seconds = timed(
        lambda batch: model.train_on_batch(batch, labels[:len(batch["pair_ids"])]),
        train, args.warmup)
    label = batches(rng, args.batch_size * (args.label_batches + args.warmup),
                    args.batch_size, shape)
    label_seconds = timed(lambda batch: model.predict_on_batch(batch), label, args.warmup)
    timed_train = sum(len(b["pair_ids"]) for b in train[args.warmup:])
    timed_label = sum(len(b["pair_ids"]) for b in label[args.warmup:])
    figures = {
        "backend": keras.backend.backend(),
        "device": _device(keras),
        "mixed_precision": args.mixed_precision,
        "model": "tiny" if args.tiny else "multilingual-e5-small shape, random weights",
        "batch_size": args.batch_size,
        "train_examples_per_second": round(timed_train / train_seconds, 1),
        "label_pairs_per_second": round(timed_label / label_seconds, 1),
        "timed_train_examples": timed_train,
        "timed_label_pairs": timed_label,
        "python": platform.python_version(),
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as handle:
            json.dump(figures, handle, indent=2)
    return figures


def _device(keras) -> str:
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax
            return str(jax.devices()[0])
        if backend == "torch":
            import torch
            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        import tensorflow as tf
        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    except Exception as error:  # noqa: BLE001 - the figure is informative only
        return f"unknown ({error})"


if __name__ == "__main__":
    main()
    sys.exit(0)
