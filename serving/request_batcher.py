"""Cross-request batching for `relevance serve`, as TF Serving's `--enable_batching` does.

Every model call pays a fixed cost (TF's executor, op dispatch) on top of its per-row
cost, so when requests arrive together, one call over all their rows is cheaper than
one call each. Concurrent requests for the same version, signature and outputs are
queued, concatenated along dimension 0, run as one call and split back.
"""

import collections
import logging
import threading
import time
from typing import Callable, Deque, Dict, Hashable, List, Optional

import grpc
import numpy as np

from serving.batching_parameters import BatchingParameters
from serving.errors import RequestRejected

log = logging.getLogger(__name__)

Arrays = Dict[str, np.ndarray]
ModelCall = Callable[[Arrays], Arrays]


class _Task:
    __slots__ = ("key", "arrays", "rows", "call", "done", "outputs", "error")

    def __init__(self, key: Hashable, arrays: Arrays, rows: int, call: ModelCall):
        self.key = key
        self.arrays = arrays
        self.rows = rows
        self.call = call
        self.done = threading.Event()
        self.outputs: Optional[Arrays] = None
        self.error: Optional[BaseException] = None

    def finish(self, outputs: Optional[Arrays] = None, error: Optional[BaseException] = None):
        self.outputs, self.error = outputs, error
        self.done.set()


class RequestBatcher:
    """Merges queued requests that share a key into one model call.

    `run` blocks its caller until the request's rows have been computed, alone or with
    others. With `batch_timeout_micros` 0 a request never waits for company: batches
    form only from requests that queued while every batch thread was busy, so a lone
    client sees no added latency. A request with more rows than `max_batch_size` runs
    alone in the caller's thread. When a merged call is rejected as INVALID_ARGUMENT
    its requests are re-run one by one, so one bad request fails only itself. Work
    queued beyond `max_enqueued_batches` full batches is refused (RESOURCE_EXHAUSTED).

    Example:

    >>> import numpy as np
    >>> calls = []
    >>> def double(arrays):
    ...     calls.append(len(arrays["x"]))
    ...     return {"y": arrays["x"] * 2}
    >>> batcher = RequestBatcher(BatchingParameters(batch_timeout_micros=0))
    >>> batcher.run("key", {"x": np.array([1, 2])}, 2, double)["y"].tolist()
    [2, 4]
    >>> batcher.stop()
    """

    def __init__(self, parameters: BatchingParameters = BatchingParameters()):
        self.parameters = parameters
        self._queue: Deque[_Task] = collections.deque()
        self._queued_rows = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._unbatchable = set()
        self.calls = self.merged_requests = 0
        self._threads = [threading.Thread(target=self._work, name=f"batch-{i}", daemon=True)
                         for i in range(parameters.num_batch_threads)]
        for thread in self._threads:
            thread.start()

    def run(self, key: Hashable, arrays: Arrays, rows: int, call: ModelCall) -> Arrays:
        """Outputs of `call` for this request's rows; `arrays` all hold `rows` rows."""
        limit = self.parameters.max_batch_size
        if rows > limit or key in self._unbatchable:
            return call(arrays)
        task = _Task(key, arrays, rows, call)
        with self._condition:
            if self._stopping:
                raise RequestRejected(grpc.StatusCode.UNAVAILABLE, "the server is shutting down")
            capacity = self.parameters.max_enqueued_batches * limit
            if self._queued_rows + rows > capacity:
                raise RequestRejected(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"the batch queue is full ({self._queued_rows} candidates waiting, at most "
                    f"{capacity}: max_enqueued_batches x max_batch_size); retry later")
            self._queue.append(task)
            self._queued_rows += rows
            self._condition.notify()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs

    @property
    def queued_rows(self) -> int:
        """Rows (candidates) waiting for a batch thread."""
        return self._queued_rows

    def stop(self) -> None:
        """Runs what is queued, then stops the batch threads."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        for thread in self._threads:
            thread.join()

    # -- batch threads -----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._queue and not self._stopping:
                    self._condition.wait()
                if not self._queue:
                    return
                self._wait_for_company(self._queue[0])
                batch = self._take_batch()
            if batch:
                self._execute(batch)

    def _wait_for_company(self, first: _Task) -> None:
        """Holding the lock: waits until the first task's batch is full or its time is up."""
        deadline = time.monotonic() + self.parameters.batch_timeout_micros / 1e6
        while not self._stopping and first in self._queue:
            queued = sum(t.rows for t in self._queue if t.key == first.key)
            remaining = deadline - time.monotonic()
            if queued >= self.parameters.max_batch_size or remaining <= 0:
                return
            self._condition.wait(remaining)

    def _take_batch(self) -> List[_Task]:
        """Holding the lock: removes the oldest task and the queued tasks sharing its key,
        in arrival order, up to max_batch_size rows (and counts the batch: the counters
        change only under the lock, since two batch threads may finish at once)."""
        if not self._queue:
            return []
        key, rows, batch, kept = self._queue[0].key, 0, [], collections.deque()
        for task in self._queue:
            if task.key == key and rows + task.rows <= self.parameters.max_batch_size:
                batch.append(task)
                rows += task.rows
            else:
                kept.append(task)
        self._queue = kept
        self._queued_rows -= rows
        self.calls += 1
        if len(batch) > 1:
            self.merged_requests += len(batch)
        return batch

    def _execute(self, batch: List[_Task]) -> None:
        if len(batch) == 1:
            self._run_alone(batch[0])
            return
        merged = {name: np.concatenate([task.arrays[name] for task in batch])
                  for name in batch[0].arrays}
        try:
            outputs = batch[0].call(merged)
        except RequestRejected as rejected:
            if rejected.code != grpc.StatusCode.INVALID_ARGUMENT:
                for task in batch:
                    task.finish(error=rejected)
                return
            outputs = None  # some request in the batch is bad: find out which, alone
        except Exception as error:  # never leave a caller waiting
            log.exception("batched model call failed")
            for task in batch:
                task.finish(error=error)
            return
        total = sum(task.rows for task in batch)
        if outputs is not None and any(np.ndim(v) == 0 or len(v) != total for v in outputs.values()):
            log.warning("outputs of %s are not one row per input row; running its requests "
                        "unbatched from now on", batch[0].key)
            self._unbatchable.add(batch[0].key)
            outputs = None
        if outputs is None:
            for task in batch:
                self._run_alone(task)
            return
        start = 0
        for task in batch:
            end = start + task.rows
            task.finish({name: value[start:end] for name, value in outputs.items()})
            start = end

    @staticmethod
    def _run_alone(task: _Task) -> None:
        try:
            task.finish(task.call(task.arrays))
        except Exception as error:  # the caller re-raises it in its own thread
            task.finish(error=error)
