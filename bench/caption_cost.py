"""Seconds per image of the ImageCaptioner's model, measured, plus a labelled 3B estimate.

Measures a PaliGemma preset through the captioner's own `LoadedCaptioner` on the demo's
generated images: load time, first-batch time (XLA compile included) and steady-state
seconds per image over batches. Default preset: the tiny random one (no download).

It also ESTIMATES (does not measure: the 3B weights cannot be downloaded here) the cost
of a real PaliGemma 3B at 224 px from a FLOP / memory-traffic model: prefill of 256
image tokens + the prompt through the decoder plus the ViT is compute-bound; each
generated token reads all weights once per batch, which is memory-bound. This machine's
matmul GFLOP/s and memory bandwidth are measured for the CPU figure; the GPU figures use
datasheet peaks at 40% efficiency.

    .venv/bin/python bench/caption_cost.py [--preset NAME_OR_DIR] [--images 32]
        [--batch-size 8] [--max-length 32]

Writes bench/results/caption_cost.json and prints it.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.pop("TF_USE_LEGACY_KERAS", None)

RESULTS = os.path.join(ROOT, "bench", "results", "caption_cost.json")

# PaliGemma 3B (pali_gemma_3b_mix_224): SigLIP So400m ViT + Gemma 2B decoder.
_VIT_PARAMS = 0.41e9
_DECODER_PARAMS = 1.98e9  # without the 257k x 2048 embedding
_EMBEDDING_PARAMS = 0.53e9
_IMAGE_TOKENS = 256  # (224 / 14)^2
_PROMPT_TOKENS = 4
# name: (peak dense bf16/fp16 TFLOP/s, memory GB/s); datasheet values.
_GPUS = {"T4": (65.0, 320.0), "L4": (121.0, 300.0), "A100-40GB": (312.0, 1555.0)}
_EFFICIENCY = 0.4


def _measure(preset, num_images, batch_size, max_length, prompt):
    from components.image_captioner.caption_model import LoadedCaptioner
    from demo.images import write_demo_images

    image_dir = tempfile.mkdtemp(prefix="caption_cost_")
    names = [n for n in write_demo_images(image_dir) if not n.endswith("damaged.png")]
    images = [open(os.path.join(image_dir, names[i % len(names)]), "rb").read()
              for i in range(num_images)]
    started = time.perf_counter()
    captioner = LoadedCaptioner(preset)
    load_seconds = time.perf_counter() - started
    batches = [images[i:i + batch_size] for i in range(0, len(images), batch_size)]
    started = time.perf_counter()
    first = captioner.caption(batches[0], prompt, max_length, batch_size=batch_size)
    first_batch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for batch in batches[1:] or batches:
        captioner.caption(batch, prompt, max_length, batch_size=batch_size)
    steady_images = sum(len(b) for b in batches[1:] or batches)
    steady_seconds = time.perf_counter() - started
    params = int(captioner.model.count_params())
    return {
        "preset": preset,
        "parameters": params,
        "image_size": captioner.image_size,
        "images": num_images,
        "batch_size": batch_size,
        "max_length": max_length,
        "load_seconds": round(load_seconds, 3),
        "first_batch_seconds_incl_compile": round(first_batch_seconds, 3),
        "seconds_per_image": round(steady_seconds / steady_images, 5),
        "example_caption": first[0],
    }


def _machine_throughput():
    """Sustained float32 matmul GFLOP/s and memory copy GB/s of this machine."""
    import tensorflow as tf

    a = tf.random.normal([2048, 2048])
    tf.matmul(a, a).numpy()
    started, repeats = time.perf_counter(), 10
    for _ in range(repeats):
        tf.matmul(a, a).numpy()
    gflops = 2 * 2048 ** 3 * repeats / (time.perf_counter() - started) / 1e9
    source = np.ones(128 * 1024 * 1024 // 8)
    target = np.zeros_like(source)  # touched once, so page faults are not timed
    np.copyto(target, source)
    started = time.perf_counter()
    for _ in range(5):
        np.copyto(target, source)
    gbps = 2 * source.nbytes * 5 / (time.perf_counter() - started) / 1e9  # read + write
    return gflops, gbps


def _estimate_3b(flops_per_second, bytes_per_second, weight_bytes, batch_size, new_tokens):
    prefill = 2 * (_DECODER_PARAMS * (_IMAGE_TOKENS + _PROMPT_TOKENS) + _VIT_PARAMS * _IMAGE_TOKENS)
    per_token_per_image = 2 * (_DECODER_PARAMS + _EMBEDDING_PARAMS)
    step = max(weight_bytes / bytes_per_second, batch_size * per_token_per_image / flops_per_second)
    return prefill / flops_per_second + new_tokens * step / batch_size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=None,
                        help="PaliGemma preset name or directory (default: tiny random preset)")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--prompt", default="caption en\n")
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args()

    preset = args.preset
    if preset is None:
        from components.image_captioner.tiny_preset import write_tiny_paligemma_preset

        preset = write_tiny_paligemma_preset(tempfile.mkdtemp(prefix="tiny_paligemma_"))
    measured = _measure(preset, args.images, args.batch_size, args.max_length, args.prompt)
    gflops, gbps = _machine_throughput()
    params_3b = _VIT_PARAMS + _DECODER_PARAMS + _EMBEDDING_PARAMS
    estimate = {
        "note": "ESTIMATE, not measured: PaliGemma 3B weights cannot be downloaded here. "
                "FLOP / memory-traffic model; captions stopping early at <eos> cost less.",
        "cpu_this_machine_float32": {
            "measured_matmul_gflops": round(gflops, 1),
            "measured_memory_gbps": round(gbps, 1),
            f"seconds_per_image_batch_{args.batch_size}": round(_estimate_3b(
                gflops * 1e9, gbps * 1e9, 4 * params_3b, args.batch_size, args.max_length), 1),
            "seconds_per_image_batch_1": round(_estimate_3b(
                gflops * 1e9, gbps * 1e9, 4 * params_3b, 1, args.max_length), 1),
            "memory_gb": round(4 * params_3b / 1e9, 1),
        },
        # Assumed, not measured: what an idle 2-core AVX2 machine typically sustains.
        "cpu_reference_idle_2_cores_float32_assumed_100_gflops_10_gbps": {
            f"seconds_per_image_batch_{args.batch_size}": round(_estimate_3b(
                100e9, 10e9, 4 * params_3b, args.batch_size, args.max_length), 1),
            "seconds_per_image_batch_1": round(_estimate_3b(
                100e9, 10e9, 4 * params_3b, 1, args.max_length), 1),
        },
        "gpu_bfloat16": {
            name: round(_estimate_3b(tflops * 1e12 * _EFFICIENCY, gbs * 1e9 * _EFFICIENCY * 2,
                                     2 * params_3b, args.batch_size, args.max_length), 3)
            for name, (tflops, gbs) in _GPUS.items()
        },
    }
    result = {"measured": measured, "estimate_pali_gemma_3b_224": estimate,
              "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(result, handle, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
