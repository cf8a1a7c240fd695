"""The scaling experiment's inputs per data set: labeled, unlabeled and held-out test files.

Every recipe carves by query with a fixed seed (bench/carve.py) and writes canonical JSONL
under `out_dir`; the test queries are never seen by the pipeline, not even unlabeled.

| data set    | labeled                  | unlabeled (grades hidden)      | test                      |
|-------------|--------------------------|--------------------------------|---------------------------|
| demo        | 100 generated en rows    | 10,000 generated rows, 7 langs | 300 graded rows per language, unseen query texts |
| crowdflower | 8% of the queries        | 72% of the queries             | 20% of the queries        |
| xquad-r     | en, 25% of the remaining questions | es, de, zh of the remaining questions | 20% of the question ids, all 4 languages |

Example:

    inputs = prepare("crowdflower", "../shared/data", "/tmp/scaling/crowdflower/data")
    inputs["labeled"], inputs["unlabeled"], inputs["test"], inputs["num_grades"]
"""

import json
import os
import random
from typing import Dict, List, Tuple

from relevance import contract
from demo import data as demo_data
from relevance.adapters import load_records
from relevance.readers import read_rows

import carve

SEED = 20241121
DEMO_LABELED, DEMO_UNLABELED, DEMO_TEST_PER_LANGUAGE = 100, 10_000, 300
CROWDFLOWER_FRACTIONS = [("labeled", 0.08), ("unlabeled", 0.72), ("test", 0.20)]
XQUAD_TEST_SHARE, XQUAD_LABELED_SHARE = 0.20, 0.25
XQUAD_LANGUAGES = ("en", "es", "de", "zh")


def _write_parts(out_dir: str, labeled: List[dict], unlabeled: List[dict], test: List[dict],
                 num_grades: int, description: str) -> Dict:
    paths = {name: os.path.join(out_dir, f"{name}.jsonl") for name in ("labeled", "unlabeled", "test")}
    counts = {
        "labeled": carve.write_jsonl(paths["labeled"], labeled),
        "unlabeled": carve.write_jsonl(paths["unlabeled"], carve.hide_grades(unlabeled)),
        "test": carve.write_jsonl(paths["test"], test),
    }
    return {**paths, "num_grades": num_grades, "rows": counts, "description": description}


def _demo(data_dir: str, out_dir: str) -> Dict:
    del data_dir  # generated, not read
    # The generated files go to the pipeline as they are (CSV list cells included).
    paths = demo_data.write_demo_data(
        os.path.join(out_dir, "generated"), num_labeled=DEMO_LABELED,
        num_unlabeled=DEMO_UNLABELED, seed=0,
    )
    seen = [raw.fields for path in paths.values() for raw in read_rows(path)]
    test: List[dict] = []
    for language in demo_data.LANGUAGES:
        # The generator's own graded rows, one language at a time so each row carries it.
        rows = demo_data.generate_rows(
            random.Random(f"scaling-test-{language}-{SEED}"), DEMO_TEST_PER_LANGUAGE,
            (language,), f"T{language}", contract.DEFAULT_NUM_GRADES,
        )
        test += [{**row, contract.LANGUAGE: language} for row in carve.drop_seen_queries(rows, seen)]
    paths["test"] = os.path.join(out_dir, "test.jsonl")
    return {
        **paths, "num_grades": contract.DEFAULT_NUM_GRADES,
        "rows": {"labeled": DEMO_LABELED, "unlabeled": DEMO_UNLABELED,
                 "test": carve.write_jsonl(paths["test"], test)},
        "description": f"demo: {DEMO_LABELED} labeled en rows, {DEMO_UNLABELED} unlabeled rows in "
        f"{len(demo_data.LANGUAGES)} languages (demo.data, seed 0); test = "
        f"{DEMO_TEST_PER_LANGUAGE} generated graded rows per language minus queries whose text "
        "occurs in the training files",
    }


def _crowdflower(data_dir: str, out_dir: str) -> Dict:
    records, num_grades = load_records("crowdflower", os.path.join(data_dir, "crowdflower", "train.csv"))
    parts = carve.carve_by_query(list(records), CROWDFLOWER_FRACTIONS, SEED)
    shares = ", ".join(f"{name} {share:.0%}" for name, share in CROWDFLOWER_FRACTIONS)
    return _write_parts(
        out_dir, parts["labeled"], parts["unlabeled"], parts["test"], num_grades,
        f"crowdflower train.csv carved by query ({shares} of the queries; unlabeled grades hidden)",
    )


def xquad_r_carve(data_dir: str):
    """(rows of the non-test questions in every language, the labeled English rows,
    the test rows, G) of the cross-lingual carve described in `_xquad_r`."""
    rows: List[dict] = []
    num_grades = 2
    for language in XQUAD_LANGUAGES:
        records, num_grades = load_records("xquad-r", os.path.join(data_dir, "xquad-r", f"{language}.json"))
        rows += list(records)
    # Hold out by question id across every language: a test question is never seen at all.
    held = carve.carve_by_query(
        rows, [("test", XQUAD_TEST_SHARE), ("rest", 1 - XQUAD_TEST_SHARE)], SEED,
        group_of=carve.language_free_group,
    )
    english = [row for row in held["rest"] if row[contract.LANGUAGE] == "en"]
    labeled = carve.carve_by_query(
        english, [("labeled", XQUAD_LABELED_SHARE)], SEED, group_of=carve.language_free_group,
    )["labeled"]
    return held["rest"], labeled, held["test"], num_grades


def _xquad_r(data_dir: str, out_dir: str) -> Dict:
    rest, labeled, test, num_grades = xquad_r_carve(data_dir)
    unlabeled = [row for row in rest if row[contract.LANGUAGE] != "en"]
    return _write_parts(
        out_dir, labeled, unlabeled, test, num_grades,
        f"xquad-r: {XQUAD_TEST_SHARE:.0%} of the question ids held out in all languages as test; "
        f"labeled = en rows of {XQUAD_LABELED_SHARE:.0%} of the other questions; unlabeled = "
        "es/de/zh rows of the other questions (grades hidden)",
    )


def xquad_r_dev(data_dir: str) -> Tuple[List[dict], int]:
    """(graded rows, G) of a development set for choosing teacher settings: every
    language's rows of the non-test questions that have no human label. No test
    question is in it and no labeled one; its es / de / zh rows are the unlabeled pool
    (whose grades the pipeline never sees), its en rows are seen by nothing."""
    rest, labeled, _, num_grades = xquad_r_carve(data_dir)
    labeled_groups = {carve.language_free_group(row) for row in labeled}
    return [row for row in rest if carve.language_free_group(row) not in labeled_groups], num_grades


RECIPES = {"demo": _demo, "crowdflower": _crowdflower, "xquad-r": _xquad_r}


def prepare(dataset: str, data_dir: str, out_dir: str) -> Dict:
    """Write the data set's labeled / unlabeled / test files under `out_dir`; describe them.

    Files already carved there are reused untouched: rewriting them would change their
    modification times and so miss the pipeline's cache on a resumed run.
    """
    description_path = os.path.join(out_dir, "inputs.json")
    if os.path.exists(description_path):
        with open(description_path) as handle:
            return json.load(handle)
    os.makedirs(out_dir, exist_ok=True)
    inputs = RECIPES[dataset](data_dir, out_dir)
    with open(description_path, "w") as handle:
        json.dump(inputs, handle, indent=2)
    return inputs
