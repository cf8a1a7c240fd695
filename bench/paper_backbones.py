"""CPU cost per pair of the paper's teacher backbones, built with random weights.

No pretrained checkpoint can be downloaded here, but a transformer's cost does not depend
on its weights: a keras-hub backbone built from the published architecture (layers,
width, vocabulary) and fed token ids of the teacher's sequence length costs what the
pretrained one would. Quality is not measured: the weights are random. Used by
`bench/cost_ratio.py --paper-backbones`.
"""

import time
from typing import Dict, List, Optional

import numpy as np

# Published base-size architectures of the multilingual encoders the paper compared.
PAPER_BACKBONES = {
    "xlm_roberta_base": ("XLMRobertaBackbone", dict(
        vocabulary_size=250002, num_layers=12, num_heads=12, hidden_dim=768,
        intermediate_dim=3072)),
    "mdeberta_v3_base": ("DebertaV3Backbone", dict(
        vocabulary_size=251000, num_layers=12, num_heads=12, hidden_dim=768,
        intermediate_dim=3072)),
    "bert_base_multi": ("BertBackbone", dict(
        vocabulary_size=119547, num_layers=12, num_heads=12, hidden_dim=768,
        intermediate_dim=3072)),
}


def backbone_cpu_us_per_pair(name: str, pairs: int, sequence_length: int, calls: int = 3,
                             architecture_overrides: Optional[Dict] = None) -> Dict:
    """Median wall and CPU microseconds per pair of one forward pass over `pairs` rows.

    Tokenisation and the classification head are left out, so this is a lower bound on
    the cost of a teacher built on the backbone. `architecture_overrides` (e.g. fewer
    layers) is for tests; the published sizes are the point of the benchmark.
    """
    import keras_hub
    import tensorflow as tf

    class_name, architecture = PAPER_BACKBONES[name]
    architecture = dict(architecture, **(architecture_overrides or {}))
    backbone = getattr(keras_hub.models, class_name)(
        **architecture, max_sequence_length=max(512, sequence_length))
    rng = np.random.default_rng(0)
    inputs = {
        "token_ids": rng.integers(5, min(30000, architecture["vocabulary_size"]),
                                  size=(pairs, sequence_length)).astype("int32"),
        "padding_mask": np.ones((pairs, sequence_length), dtype="int32"),
    }
    if class_name == "BertBackbone":
        inputs["segment_ids"] = np.zeros((pairs, sequence_length), dtype="int32")
    forward = tf.function(lambda batch: backbone(batch, training=False))
    forward(inputs)  # trace
    samples: List = []
    for _ in range(calls):
        wall, cpu = time.perf_counter(), time.process_time()
        output = forward(inputs)
        _ = (output["sequence_output"] if isinstance(output, dict) else output).numpy()
        samples.append((time.perf_counter() - wall, time.process_time() - cpu))
    wall, cpu = np.median(np.array(samples), axis=0)
    return {
        "backbone": name,
        "architecture": architecture,
        "parameters": int(backbone.count_params()),
        "pairs_per_call": pairs,
        "sequence_length": sequence_length,
        "calls": calls,
        "wall_us_per_pair": round(float(wall) / pairs * 1e6, 1),
        "cpu_us_per_pair": round(float(cpu) / pairs * 1e6, 1),
        "weights": "random (cost only; no pretrained checkpoint is downloadable here)",
    }
