"""The markdown report of `relevance evaluate`, with PNG plots drawn by matplotlib (Agg).

Files written into the output directory:

* report.md: overall metrics per model, per-language tables, model agreement;
* confusion_<model>.png: confusion matrix (rows true grade, columns predicted grade,
  colour = share of the row, text = count);
* by_language.png: accuracy and nDCG@10 per language and model;
* calibration.png: mean true grade against mean expected grade per bin;
* agreement_<a>_vs_<b>.png: expected grade of one model against the other (2+ models).
"""

import os
import re
from typing import Dict, List, Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from evaluation import metrics  # noqa: E402

_LANGUAGE_TABLE_KEYS = ("n", "accuracy", "qwk", "ndcg@10", "ece")


def write_report(
    output_dir: str,
    document: dict,
    grades: np.ndarray,
    languages: Sequence[str],
    predictions: Dict[str, np.ndarray],
    num_grades: int,
) -> str:
    """Draw the plots and write report.md; return its path."""
    names = list(predictions)
    images: List[str] = []
    for name in names:
        images.append(_confusion_plot(output_dir, name, grades, predictions[name], num_grades))
    images.append(_language_plot(output_dir, document))
    images.append(_calibration_plot(output_dir, grades, predictions, num_grades))
    agreement_images = [
        _agreement_plot(output_dir, pair["models"], predictions, num_grades)
        for pair in document["agreement"]
    ]

    data = document["data"]
    lines = [
        "# Relevance evaluation",
        "",
        f"Data: `{data['path']}` (format {data['format']}), {data['labeled_pairs']} labeled "
        f"pairs, {data['queries']} queries, G = {num_grades}.",
        "",
        "## Overall",
        "",
    ]
    keys = metrics.metric_keys(num_grades)
    lines += _table(["model"] + keys, [
        [name] + [document["models"][name]["overall"].get(k) for k in keys] for name in names
    ])
    lines += ["", "Metric definitions: see `evaluation/metrics.py` (nDCG ties are broken "
              "pessimistically; AUROC at t scores P(grade >= t)).", ""]
    lines += ["## By language", ""]
    all_languages = sorted({lang for name in names
                            for lang in document["models"][name]["by_language"]})
    for key in _LANGUAGE_TABLE_KEYS:
        lines += [f"### {key}", ""]
        lines += _table(["language"] + names, [
            [lang] + [document["models"][name]["by_language"].get(lang, {}).get(key)
                      for name in names]
            for lang in all_languages
        ])
        lines.append("")
    lines += [f"![accuracy and nDCG@10 by language]({os.path.basename(images[-2])})", ""]
    lines += ["## Confusion matrices", ""]
    lines += [f"![confusion matrix {name}]({os.path.basename(path)})"
              for name, path in zip(names, images)]
    lines += ["", "## Calibration", "", f"![calibration]({os.path.basename(images[-1])})", ""]
    if document["agreement"]:
        lines += ["## Agreement between models", ""]
        lines += _table(["models", "same argmax", "score Pearson r"], [
            [" vs ".join(pair["models"]), pair["same_argmax"], pair["score_pearson"]]
            for pair in document["agreement"]
        ])
        lines.append("")
        lines += [f"![agreement]({os.path.basename(path)})" for path in agreement_images]
        lines.append("")
    path = os.path.join(output_dir, "report.md")
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def _format(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _table(header: List[str], rows: List[list]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_format(v) for v in row) + " |" for row in rows]
    return lines


def _save(figure, output_dir: str, file_name: str, bottom_margin: float = 0.0) -> str:
    path = os.path.join(output_dir, file_name)
    figure.tight_layout(rect=(0, bottom_margin, 1, 1))
    # Through GFile so a gs:// output directory works like a local one.
    with tf.io.gfile.GFile(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
    return path


def _confusion_plot(output_dir, name, grades, probabilities, num_grades) -> str:
    matrix = metrics.confusion_matrix(grades, metrics.predicted_grade(probabilities), num_grades)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(1.2 * num_grades + 2, 1.1 * num_grades + 1.5))
    axis.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for (row, column), count in np.ndenumerate(matrix):
        colour = "white" if shares[row, column] > 0.5 else "black"
        axis.text(column, row, str(count), ha="center", va="center", color=colour)
    ticks = np.arange(num_grades)
    axis.set_xticks(ticks, [str(g) for g in ticks + 1])
    axis.set_yticks(ticks, [str(g) for g in ticks + 1])
    axis.set_xlabel("predicted grade")
    axis.set_ylabel("true grade")
    axis.set_title(f"{name}: confusion (colour = row share)")
    return _save(figure, output_dir, f"confusion_{slug(name)}.png")


def _language_plot(output_dir, document) -> str:
    names = list(document["models"])
    languages = sorted({lang for name in names for lang in document["models"][name]["by_language"]})
    figure, axes = plt.subplots(1, 2, figsize=(max(6, 1.5 * len(languages) + 4), 4))
    width = 0.8 / max(len(names), 1)
    positions = np.arange(len(languages))
    for axis, key in zip(axes, ("accuracy", "ndcg@10")):
        for index, name in enumerate(names):
            slices = document["models"][name]["by_language"]
            values = [_nan_if_none(slices.get(lang, {}).get(key)) for lang in languages]
            axis.bar(positions + index * width, values, width, label=name)
        axis.set_xticks(positions + width * (len(names) - 1) / 2, languages)
        axis.set_ylim(0, 1)
        axis.set_title(key)
    handles, labels = axes[0].get_legend_handles_labels()
    # Below the plots: inside, the legend would hide bars near 1.0.
    figure.legend(handles, labels, loc="lower center", ncol=min(len(names), 4), fontsize="small")
    return _save(figure, output_dir, "by_language.png", bottom_margin=0.12)


def _calibration_plot(output_dir, grades, predictions, num_grades) -> str:
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.plot([1, num_grades], [1, num_grades], color="grey", linestyle="--", label="calibrated")
    for name, probabilities in predictions.items():
        curve = metrics.calibration_curve(grades, probabilities)
        axis.plot(curve["mean_score"], curve["mean_grade"], marker="o", label=name)
    axis.set_xlabel("mean expected grade (predicted)")
    axis.set_ylabel("mean true grade")
    axis.set_xlim(1, num_grades)
    axis.set_ylim(1, num_grades)
    axis.legend(fontsize="small")
    axis.set_title("calibration of the expected grade")
    return _save(figure, output_dir, "calibration.png")


def _agreement_plot(output_dir, pair, predictions, num_grades) -> str:
    first, second = pair
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.scatter(metrics.expected_grade(predictions[first]),
                 metrics.expected_grade(predictions[second]), s=6, alpha=0.4)
    axis.plot([1, num_grades], [1, num_grades], color="grey", linestyle="--")
    axis.set_xlabel(f"{first}: expected grade")
    axis.set_ylabel(f"{second}: expected grade")
    axis.set_title("score agreement")
    return _save(figure, output_dir, f"agreement_{slug(first)}_vs_{slug(second)}.png")


def _nan_if_none(value: Optional[float]) -> float:
    return float("nan") if value is None else value


def slug(name: str) -> str:
    """A file-name-safe version of a model name.

    Example:
        >>> slug("teacher v2/final")
        'teacher_v2_final'
    """
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "model"
