"""Beam DoFn that scores batches of candidates with the teacher's `serving_examples`.

The SavedModel is loaded once per worker process (shared across DoFn instances, splits
and threads through one `apache_beam.utils.shared.Shared` handle), not once per bundle
or per split.

Example (a pipeline scoring a PCollection of `Candidate` lists):

    scored = (batches
              | beam.ParDo(ScoreWithTeacher("/models/teacher/Format-Serving", 5))
                .with_outputs(ScoreWithTeacher.FAILED, main="scored"))
"""

import math
from typing import Iterable, List

import apache_beam as beam
import numpy as np
import tensorflow as tf
from absl import logging
from apache_beam.utils import shared

from relevance.progress import RateProgress
from components.pseudo_labeler.records import Candidate
from relevance import contract
from models.export import load_relevance_model

_METRICS_NAMESPACE = "PseudoLabeler"
# One handle for the whole process: the graph scores several splits (human train, eval,
# the unlabeled pilot and sample), each with its own DoFn; with a handle per DoFn each
# would load (and hold) its own copy of the teacher.
_TEACHERS = shared.Shared()


class _LoadedTeacher:
    """Holder for the loaded model; `Shared` needs a weak-referenceable object."""

    def __init__(self, model_path: str):
        self.model = load_relevance_model(model_path)
        self.signature = self.model.signatures[contract.SIGNATURE_EXAMPLES]


class ScoreWithTeacher(beam.DoFn):
    """Attaches teacher probabilities to each candidate of a batch.

    A batch that fails is retried row by row so one bad record cannot sink its
    neighbours; rows that still fail, or get non-finite probabilities, go to the
    `FAILED` output. A model with the wrong number of grades is a configuration error
    and fails the pipeline.

    Args:
        model_path: SavedModel directory with the `serving_examples` signature.
        num_grades: G, the expected width of the `probabilities` output.
        progress_label: the split, for the progress lines (rows, rate, ETA) each worker
            logs while it scores (`relevance.progress`).
        expected_rows: the split's rows in all, for the progress's percentage and ETA
            (0: unknown).
    """

    FAILED = "teacher_failed"

    def __init__(self, model_path: str, num_grades: int, progress_label: str = "",
                 expected_rows: int = 0):
        self._model_path = model_path
        self._num_grades = num_grades
        self._progress_label = progress_label
        self._expected_rows = int(expected_rows)
        self._progress = None
        self._teacher = None
        self._rows_scored = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "rows_scored")
        self._rows_failed = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "rows_failed")

    def setup(self):
        model_path = self._model_path
        self._teacher = _TEACHERS.acquire(lambda: _LoadedTeacher(model_path), tag=model_path)
        label = f"PseudoLabeler[{self._progress_label}]" if self._progress_label else "PseudoLabeler"
        self._progress = RateProgress(label, total=self._expected_rows)

    def teardown(self):
        if self._progress is not None:
            self._progress.finish()

    def _predict(self, serialized: List[bytes]) -> np.ndarray:
        outputs = self._teacher.signature(examples=tf.constant(serialized, dtype=tf.string))
        probabilities = outputs[contract.OUTPUT_PROBABILITIES].numpy()
        if probabilities.ndim != 2 or probabilities.shape[0] != len(serialized):
            raise ValueError(
                f"teacher returned probabilities of shape {probabilities.shape} "
                f"for {len(serialized)} examples"
            )
        if probabilities.shape[1] != self._num_grades:
            raise ValueError(
                f"teacher at {self._model_path} predicts {probabilities.shape[1]} grades "
                f"but the component is configured with num_grades={self._num_grades}"
            )
        return probabilities

    def _emit(self, candidate: Candidate, row: np.ndarray):
        values = tuple(float(p) for p in row)
        if not all(math.isfinite(p) for p in values):
            self._rows_failed.inc()
            return beam.pvalue.TaggedOutput(self.FAILED, candidate)
        self._rows_scored.inc()
        return candidate._replace(probabilities=values)

    def process(self, batch: Iterable[Candidate], expected_rows: int = 0) -> Iterable:
        batch = list(batch)
        if expected_rows and not self._progress.total:
            # A sampled pool's size is known only when the graph runs (a side input).
            self._progress.total = int(expected_rows)
        self._progress.update(len(batch))
        try:
            probabilities = self._predict([c.serialized for c in batch])
        except tf.errors.OpError as error:
            logging.warning("Teacher failed on a batch of %d; retrying row by row: %s",
                            len(batch), str(error).splitlines()[0])
            yield from self._process_rows(batch)
            return
        for candidate, row in zip(batch, probabilities):
            yield self._emit(candidate, row)

    def _process_rows(self, batch: List[Candidate]) -> Iterable:
        for candidate in batch:
            try:
                probabilities = self._predict([candidate.serialized])
            except tf.errors.OpError:
                self._rows_failed.inc()
                yield beam.pvalue.TaggedOutput(self.FAILED, candidate)
                continue
            yield self._emit(candidate, probabilities[0])
