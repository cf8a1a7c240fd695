"""`relevance evaluate`'s scoring time on the same rows in shuffled and in length order.

    .venv/bin/python bench/evaluate_order.py --teacher DIR --data FILE.jsonl \
        [--format jsonl] [--num-grades G] [--rows 1000] [--old-code DIR]

Scores `--rows` rows of the file (a fixed random sample) with the teacher's
`serving_examples` signature through `evaluation.evaluate.score_with_saved_model`, once
with the rows shuffled and once sorted by length, and reports seconds and pairs/s for
each (model load excluded: the model is loaded once before timing). `evaluate` now
orders rows by length itself, so the two should be close; with `--old-code DIR` (a
checkout of an earlier commit) the shuffled rows are also scored by that code, in a
child process, as a user of the old `relevance evaluate` would have.

Writes bench/results/evaluate_order.json and prints it.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _serialized(data: str, fmt: str, num_grades, rows: int, seed: int):
    from evaluation.evaluate import load_labeled_records
    from relevance.records import record_to_example

    records, num_grades = load_labeled_records(data, fmt, num_grades, {})
    records = list(records)
    random.Random(seed).shuffle(records)
    records = records[:rows]
    return [record_to_example(r).SerializeToString() for r in records], num_grades


def _time_scoring(teacher: str, serialized, num_grades: int) -> dict:
    from evaluation.evaluate import score_with_saved_model
    from models.export import load_relevance_model

    load_relevance_model(teacher)  # load (and warm) once; the timed call loads again, cached
    score_with_saved_model(teacher, serialized[:8], num_grades)
    started, cpu_started = time.perf_counter(), time.process_time()
    score_with_saved_model(teacher, serialized, num_grades)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 1), "cpu_seconds": round(time.process_time() - cpu_started, 1),
            "pairs_per_second": round(len(serialized) / seconds, 2)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--format", default="auto")
    parser.add_argument("--num-grades", type=int, default=None)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--old-code", default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if not args.child:
        sys.path.insert(0, ROOT)
    serialized, num_grades = _serialized(args.data, args.format, args.num_grades, args.rows,
                                         args.seed)
    if args.child:
        print(json.dumps(_time_scoring(args.teacher, serialized, num_grades)))
        return {}
    figures = {"rows": len(serialized), "teacher": args.teacher, "data": args.data,
               "shuffled": _time_scoring(args.teacher, serialized, num_grades),
               "sorted_by_length": _time_scoring(args.teacher, sorted(serialized, key=len),
                                                 num_grades)}
    if args.old_code:
        command = [sys.executable, os.path.abspath(__file__), "--child"] + [
            arg for arg in (argv or sys.argv[1:]) if arg != "--old-code" and arg != args.old_code]
        done = subprocess.run(command, env=dict(os.environ, PYTHONPATH=os.path.abspath(
            args.old_code)), cwd=args.old_code, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"old code failed: {done.stderr[-2000:]}")
        figures["old_code_shuffled"] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["shuffled_over_sorted"] = round(
        figures["shuffled"]["seconds"] / figures["sorted_by_length"]["seconds"], 2)
    figures["load_average_1m"] = round(os.getloadavg()[0], 2)
    from scaling import write_results  # bench/ is the script's directory

    write_results("evaluate_order", figures)
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
