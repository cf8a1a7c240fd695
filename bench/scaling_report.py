"""Tables and the plot of the scaling experiment (student metrics against pseudo-label volume).

Reads the `scaling.json` document bench/scaling.py builds: `points` (one per student,
with `metrics` overall and `by_language`) and `references` (teacher, BM25 baseline).

Example:

    write_markdown(document, "scaling.md"); write_plot(document, "scaling.png")
"""

from typing import Dict, List, Optional

COLUMNS = ("accuracy", "qwk", "ndcg@10", "ece")


def _cell(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3f}"


def _overall_rows(document: Dict) -> List[str]:
    head = "| model | volume (x human) | pseudo-labels | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (3 + len(COLUMNS))]
    for point in document["points"]:
        metrics = point["metrics"]["overall"]
        lines.append(
            f"| student {point['label']} | {point['achieved_multiple']:.2f} | "
            f"{point['pseudo_labeled_out']} | " + " | ".join(_cell(metrics.get(k)) for k in COLUMNS) + " |"
        )
    for name, reference in document["references"].items():
        metrics = reference["overall"]
        lines.append(f"| {name} | - | - | " + " | ".join(_cell(metrics.get(k)) for k in COLUMNS) + " |")
    return lines


def _language_rows(document: Dict, metric: str) -> List[str]:
    languages = document["languages"]
    lines = [f"| {metric} | " + " | ".join(languages) + " |", "|" + "---|" * (1 + len(languages))]
    models = [(f"student {p['label']}", p["metrics"]) for p in document["points"]]
    models += list(document["references"].items())
    for name, metrics in models:
        cells = [_cell(metrics["by_language"].get(language, {}).get(metric)) for language in languages]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _steps_text(setup: Dict) -> str:
    # Older documents predate the step budget: their students trained by epochs.
    steps = setup.get("student_train_steps")
    return f" ({steps} optimiser steps at every volume)" if steps else " (one pass per epoch)"


def markdown(document: Dict) -> str:
    """The overall table, and per-language nDCG@10 and accuracy when there are several."""
    setup = document["setup"]
    lines = [
        f"### Scaling: {document['dataset']}",
        "",
        f"{document['data']['description']}. Human train pairs (after the pipeline's eval "
        f"split): {setup['human_train']}; unlabeled pairs: {setup['unlabeled']}; test pairs: "
        f"{document['references_n']}. Teacher epochs {setup['teacher_epochs']}, student epochs "
        f"{setup['student_epochs']}{_steps_text(setup)}.",
        "",
        *_overall_rows(document),
    ]
    if document["unreached"]:
        lines += ["", "Not reachable: " + "; ".join(
            f"{item['requested_multiple']:g}x ({item['reason']})" for item in document["unreached"])]
    if len(document["languages"]) > 1:
        for metric in ("ndcg@10", "accuracy"):
            lines += ["", *_language_rows(document, metric)]
    return "\n".join(lines) + "\n"


def write_markdown(document: Dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(markdown(document))


def write_plot(document: Dict, path: str) -> None:
    """Student metrics against achieved volume (symlog x), teacher and BM25 as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in ("accuracy", "qwk", "ndcg@10") if m in document["points"][0]["metrics"]["overall"]]
    languages = document["languages"] if len(document["languages"]) > 1 else []
    panels = len(metrics) + bool(languages)
    figure, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.6))
    volumes = [point["achieved_multiple"] for point in document["points"]]
    if languages:
        axis = axes[-1]
        for language in languages:
            values = [point["metrics"]["by_language"].get(language, {}).get("ndcg@10")
                      for point in document["points"]]
            axis.plot(volumes, [v if v is not None else float("nan") for v in values], "o-", label=language)
        axis.set_xscale("symlog", linthresh=1.0)
        axis.set_xlim(-0.3, max(volumes) * 1.5 + 1)
        axis.set_xlabel("pseudo-labels per human label")
        axis.set_title("student ndcg@10 by language")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    for axis, metric in zip(axes, metrics):
        values = [point["metrics"]["overall"].get(metric) for point in document["points"]]
        axis.plot(volumes, [v if v is not None else float("nan") for v in values], "o-", label="student")
        for (name, reference), style in zip(document["references"].items(), ("--", ":")):
            value = reference["overall"].get(metric)
            if value is not None:
                axis.axhline(value, linestyle=style, color="grey" if style == "--" else "black",
                             label=name)
        axis.set_xscale("symlog", linthresh=1.0)
        axis.set_xlim(-0.3, max(volumes) * 1.5 + 1)
        axis.set_xlabel("pseudo-labels per human label")
        axis.set_title(metric)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{document['dataset']}: student vs pseudo-label volume (test split)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
