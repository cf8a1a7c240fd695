"""Order terms of the distillation loss: each compares the candidates of one query.

A row's score is its expected grade, ``s = sum_k k * p_k`` (k = 1..G), the score the
served model ranks by. `DistillationLoss` adds these terms per row; rows are tied to
their query by a group index (equal index = same query, within the batch), which
`trainer.student.query_batches` provides by keeping a query's candidates in one batch.
A row alone in its group gets 0 from both terms.
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
