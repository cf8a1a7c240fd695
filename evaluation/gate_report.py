"""The gate's record: `gate.json` (every model's metrics per slice, the decision and its
reasons) and `report.md` (the same as tables), written into the ModelBlessing directory.

Each noise-aware `teacher_tolerance` check (see `evaluation.gate`) records the
tolerance asked, the paired bootstrap SE of student - teacher, z, the effective
tolerance, and the eval queries and rows the SE is over; report.md shows them as the
table "Student vs teacher: noise-aware tolerance".

Example:
>>> import tempfile
>>> models = {"student": {"overall": {"n": 3, "accuracy": 0.5}}}
>>> decision = {"blessed": True, "reasons": ["min_accuracy: accuracy 0.5000 >= minimum 0.0000"]}
>>> paths = write_gate_report(tempfile.mkdtemp(), models, decision, num_grades=2)
>>> sorted(os.path.basename(p) for p in paths)
['gate.json', 'report.md']
"""

import json
import os
from typing import Dict, List

import tensorflow as tf

from evaluation.slices import HUMAN_SLICE, OVERALL
from evaluation import metrics

GATE_FILE_NAME = "gate.json"
REPORT_FILE_NAME = "report.md"


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _table(models: Dict[str, dict], slice_name: str, keys: List[str]) -> List[str]:
    lines = ["| model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for model, by_slice in models.items():
        values = by_slice.get(slice_name, {})
        lines.append(f"| {model} | " + " | ".join(_cell(values.get(k)) for k in keys) + " |")
    return lines


def _noise_table(decision: dict) -> List[str]:
    checks = [check for check in decision.get("checks", []) if "standard_error" in check]
    if not checks:
        return []
    lines = ["", "## Student vs teacher: noise-aware tolerance", "",
             "tolerance = max(tolerance asked, z x SE); SE: paired bootstrap of student - "
             "teacher over the gate slice's queries"
             f" ({checks[0]['resamples']} resamples).", "",
             "| metric | student - teacher | tolerance asked | SE | z | z x SE "
             "| effective tolerance | queries | rows | passed |",
             "|---" * 10 + "|"]
    for check in checks:
        se = check["standard_error"]
        difference = (check["student"] - check["teacher"]
                      if check.get("student") is not None and check.get("teacher") is not None
                      else None)
        cells = [check["metric"], _cell(difference), _cell(check["tolerance_asked"]), _cell(se),
                 f"{check['z']:g}", _cell(check["z"] * se if se is not None else None),
                 _cell(check["effective_tolerance"]), _cell(check["queries"]),
                 _cell(check["rows"]), _cell(check["passed"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _markdown(models: Dict[str, dict], decision: dict, num_grades: int) -> str:
    verdict = "BLESSED" if decision["blessed"] else "NOT BLESSED"
    lines = [f"# Validation gate: {verdict}", ""]
    lines += [f"- {reason}" for reason in decision["reasons"]]
    lines += _noise_table(decision)
    keys = metrics.metric_keys(num_grades)
    for slice_name, title in ((HUMAN_SLICE, "Held-out human grades"),
                              (OVERALL, "All eval rows (human + held-out pseudo-labels)")):
        lines += ["", f"## {title} (`{slice_name}`)", ""] + _table(models, slice_name, keys)
    every_slice = sorted({name for by_slice in models.values() for name in by_slice})
    lines += ["", "## nDCG@10 / accuracy by slice", "",
              "| slice | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for slice_name in every_slice:
        cells = []
        for by_slice in models.values():
            values = by_slice.get(slice_name, {})
            cells.append(f"{_cell(values.get('ndcg@10'))} / {_cell(values.get('accuracy'))}"
                         f" (n={_cell(values.get('n'))})")
        lines.append(f"| {slice_name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_gate_report(output_dir: str, models: Dict[str, dict], decision: dict,
                      num_grades: int, **context) -> List[str]:
    """Writes gate.json and report.md; returns their paths. `context`: extra JSON fields."""
    tf.io.gfile.makedirs(output_dir)
    document = {"decision": decision, "models": models, "num_grades": num_grades, **context}
    paths = [os.path.join(output_dir, GATE_FILE_NAME), os.path.join(output_dir, REPORT_FILE_NAME)]
    with tf.io.gfile.GFile(paths[0], "w") as f:
        json.dump(document, f, indent=2, sort_keys=True)
    with tf.io.gfile.GFile(paths[1], "w") as f:
        f.write(_markdown(models, decision, num_grades))
    return paths


def read_gate_report(blessing_uri: str) -> dict:
    """The gate.json document of a ValidationGate blessing."""
    with tf.io.gfile.GFile(os.path.join(blessing_uri, GATE_FILE_NAME)) as f:
        return json.load(f)
