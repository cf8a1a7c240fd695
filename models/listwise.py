"""Order terms of the losses: each compares the candidates of one query.

The student's distillation terms (`listwise_kl`, `margin_mse`) score a row by its
expected grade, ``s = sum_k k * p_k`` (k = 1..G), the score the served model ranks by;
`DistillationLoss` adds them per row. The teacher's term (`graded_softmax_cross_entropy`
over `relevance_log_odds`) learns order from the human grades. Rows are tied to their
query by a group index (equal index = same query, within the batch), which
`models.query_batches` provides by keeping a query's candidates in one batch. A row
alone in its group gets 0 from every term.
"""

import tensorflow as tf


def expected_grade(probabilities: tf.Tensor) -> tf.Tensor:
    """`[B, G]` grade probabilities -> `[B]` scores sum_k k * p_k, k = 1..G.

    >>> float(expected_grade(tf.constant([[0.5, 0.0, 0.5]]))[0])
    2.0
    """
    num_grades = tf.shape(probabilities)[-1]
    grades = tf.cast(tf.range(1, num_grades + 1), probabilities.dtype)
    return tf.reduce_sum(probabilities * grades, axis=-1)


def _segments(group: tf.Tensor):
    """(segment id of each row in 0..S-1, S, size of each row's segment)."""
    _, segment = tf.unique(tf.reshape(group, [-1]))
    count = tf.reduce_max(segment) + 1
    sizes = tf.math.unsorted_segment_sum(tf.ones_like(segment, tf.float32), segment, count)
    return segment, count, tf.gather(sizes, segment)


def _segment_log_softmax(values: tf.Tensor, segment: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    # Shift by each segment's maximum so that exp() cannot overflow.
    top = tf.gather(tf.math.unsorted_segment_max(values, segment, count), segment)
    total = tf.math.unsorted_segment_sum(tf.exp(values - top), segment, count)
    return values - top - tf.math.log(tf.gather(total, segment))


def listwise_kl(teacher_scores, student_scores, group, temperature: float = 1.0) -> tf.Tensor:
    """Each row's share of KL(P_t || P_s) over its query's candidates; `[B]`.

    ``P_t(i) = softmax_{j in q}(t_j / tau)``, ``P_s(i)`` the same of the student's
    scores, and row i gets ``P_t(i) * (log P_t(i) - log P_s(i))``, so a query's rows
    sum to its KL. Zero for a row alone in its query.

    >>> row = listwise_kl(tf.constant([2.0, 1.0]), tf.constant([1.0, 1.0]), tf.constant([7, 7]))
    >>> round(float(tf.reduce_sum(row)), 4)   # KL((0.731, 0.269) || (0.5, 0.5))
    0.1109
    """
    segment, count, _ = _segments(group)
    log_teacher = _segment_log_softmax(teacher_scores / temperature, segment, count)
    log_student = _segment_log_softmax(student_scores / temperature, segment, count)
    return tf.exp(log_teacher) * (log_teacher - log_student)


def margin_mse(teacher_scores, student_scores, group) -> tf.Tensor:
    """Mean over the row's query's other candidates j of the squared margin error; `[B]`.

    Row i gets ``mean_{j in q, j != i} ((s_i - s_j) - (t_i - t_j))^2``; zero for a row
    alone in its query. With e = s - t this is ``(n e_i^2 - 2 e_i S1 + S2) / (n - 1)``,
    S1 and S2 the sums of e and e^2 over the query's n rows: no pair matrix is built.

    >>> row = margin_mse(tf.constant([3.0, 1.0, 2.0]), tf.constant([2.0, 2.0, 2.0]),
    ...                  tf.constant([0, 0, 1]))
    >>> [round(float(v), 4) for v in row]     # margins 2 (teacher) vs 0 (student)
    [4.0, 4.0, 0.0]
    """
    segment, count, sizes = _segments(group)
    error = student_scores - teacher_scores
    first = tf.gather(tf.math.unsorted_segment_sum(error, segment, count), segment)
    second = tf.gather(tf.math.unsorted_segment_sum(tf.square(error), segment, count), segment)
    total = sizes * tf.square(error) - 2.0 * error * first + second
    # Rounding can leave a tiny negative sum where every margin matches.
    return tf.maximum(total, 0.0) / tf.maximum(sizes - 1.0, 1.0)


def relevance_log_odds(logits: tf.Tensor) -> tf.Tensor:
    """`[B, G]` grade logits -> `[B]` log-odds that the grade is in the upper half
    (grade k > (G + 1) / 2): an unbounded score that orders rows as the chance of being
    relevant does (for G = 2, the logit difference).

    >>> [round(float(v), 4) for v in relevance_log_odds(tf.constant([[0.0, 1.0], [2.0, 0.0]]))]
    [1.0, -2.0]
    """
    num_grades = tf.shape(logits)[-1]
    upper = tf.cast(tf.range(1, num_grades + 1), tf.float32) > (tf.cast(num_grades, tf.float32) + 1.0) / 2.0
    very_negative = tf.fill(tf.shape(logits), tf.constant(-1e9, logits.dtype))
    high = tf.reduce_logsumexp(tf.where(upper, logits, very_negative), axis=-1)
    low = tf.reduce_logsumexp(tf.where(upper, very_negative, logits), axis=-1)
    return high - low


def graded_softmax_cross_entropy(grades: tf.Tensor, scores: tf.Tensor, group: tf.Tensor) -> tf.Tensor:
    """Each row's share of its query's listwise softmax cross-entropy; `[B]`.

    The target spreads a query's mass over its candidates by graded gain,
    ``P*(i) = gain_i / sum_{j in q} gain_j`` with ``gain = 2^(grade - 1) - 1`` (grades
    1..G: the lowest gains nothing), and row i gets ``-P*(i) log softmax_{j in q}(s_j)_i``,
    so a query's rows sum to its cross-entropy (ListNet's top-one loss, Cao et al. 2007,
    with nDCG's gains). Zero for a row alone in its query and for a query whose
    candidates all have the lowest grade. Use it beside a pointwise loss when the model
    ranks a query's candidates: it rewards order within the query, not calibration.

    >>> row = graded_softmax_cross_entropy(tf.constant([2, 1, 2]), tf.constant([0.0, 0.0, 5.0]),
    ...                                    tf.constant([4, 4, 9]))
    >>> [round(float(v), 4) + 0.0 for v in row]   # -log(1/2) for the relevant row of query 4
    [0.6931, 0.0, 0.0]
    """
    segment, count, _ = _segments(group)
    gains = tf.pow(2.0, tf.cast(grades, tf.float32) - 1.0) - 1.0
    total = tf.gather(tf.math.unsorted_segment_sum(gains, segment, count), segment)
    target = tf.math.divide_no_nan(gains, total)
    return -target * _segment_log_softmax(tf.cast(scores, tf.float32), segment, count)
