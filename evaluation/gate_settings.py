"""The validation gate's defaults, each defined here once.

`GatePolicy`, the ValidationGate component's parameters, `PipelineConfig` and the CLI
flags all read them from here; this module imports no TensorFlow, so the CLI can show
them in `--help` without loading it. The rule they parametrise is in
`evaluation.gate` and docs/evaluation.md ("The validation gate").

>>> DEFAULT_GATE_Z, DEFAULT_GATE_RESAMPLES
(1.96, 1000)
"""

from evaluation import bootstrap

DEFAULT_GATE_METRICS = ("accuracy", "ndcg@10")
# The student must be within this of the teacher on each gate metric, at least.
DEFAULT_STUDENT_TOLERANCE = 0.05
# The tolerance widens to z x SE(student - teacher) when that is larger. 1.96 is the
# standard normal's 97.5% quantile: a student exactly as good as the teacher fails a
# metric through eval-set sampling noise alone about 2.5% of the time (one-sided), so
# at most about 5% of the time over the two default gate metrics. 0 turns widening off.
DEFAULT_GATE_Z = 1.96
# Paired bootstrap resamples of the eval queries: the SE's own Monte Carlo error is
# about SE / sqrt(2 x 1000), ~2% of it.
DEFAULT_GATE_RESAMPLES = 1000
DEFAULT_GATE_SEED = bootstrap.DEFAULT_SEED
