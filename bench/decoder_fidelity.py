"""Fidelity of a converted decoder preset (default smollm2-135m), without the original.

    .venv/bin/python bench/decoder_fidelity.py [--preset smollm2-135m] [--preset-cache DIR]

Builds the preset if the cache lacks it, then runs `trainer.teacher.presets.fidelity`:
perplexity on plain English sentences against the same sentences with their words
shuffled, and greedy completions of factual prompts. Writes
bench/results/decoder_fidelity.json and prints it; exits 1 when the check fails.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from trainer.teacher.presets.fidelity import check_decoder_preset  # noqa: E402
from trainer.teacher.presets.registry import SMOLLM2, resolve_preset  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "results", "decoder_fidelity.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=SMOLLM2)
    parser.add_argument("--preset-cache", default=None)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    args = parser.parse_args()
    started = time.time()
    directory = resolve_preset(args.preset, cache_dir=args.preset_cache, progress=print)
    report = {"preset": args.preset, "directory": directory,
              **check_decoder_preset(directory, max_new_tokens=args.max_new_tokens),
              "seconds": round(time.time() - started, 1)}
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as out:
        json.dump(report, out, indent=2)
    print(json.dumps(report, indent=2))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
