"""Knowledge-distillation loss for the student: a human-grade term and optional order terms."""

import keras
import tensorflow as tf

from models.listwise import expected_grade, listwise_kl, margin_mse

_EPSILON = 1e-12


def pack_targets(soft_label: tf.Tensor, grade: tf.Tensor, num_grades: int,
                 query_group: tf.Tensor = None) -> tf.Tensor:
    """Packs the teacher distribution and the human grade into one `[B, 2G]` target.

    Columns `[:G]` hold the teacher's probabilities, columns `[G:2G]` the one-hot of the
    human grade, all zeros when the row has no human grade (`grade` 0). With
    `query_group` (an integer per row, equal for candidates of the same query in the
    batch) a last column holds it: `[B, 2G + 1]`, what the loss's order terms need.
    """
    grade = tf.reshape(tf.cast(grade, tf.int32), [-1])
    # one_hot(-1) is all zeros: exactly the "no human grade" mask.
    human = tf.one_hot(grade - 1, num_grades, dtype=tf.float32)
    columns = [tf.cast(soft_label, tf.float32), human]
    if query_group is not None:
        columns.append(tf.cast(tf.reshape(query_group, [-1, 1]), tf.float32))
    return tf.concat(columns, axis=1)


def amplify_contrast(probabilities: tf.Tensor, center, contrast: float) -> tf.Tensor:
    """softmax(c + a * (log p - c)): the teacher's row-to-row differences scaled by `a`.

    `center` c (one value per grade) is the teacher's mean log-probability over the
    training rows; `contrast` a = 1 returns p unchanged.
    """
    log_probs = tf.math.log(tf.maximum(probabilities, _EPSILON))
    center = tf.constant(center, tf.float32)
    return tf.nn.softmax(center + contrast * (log_probs - center), axis=-1)


def soften(probabilities: tf.Tensor, temperature: float) -> tf.Tensor:
    """p^(1/T) renormalised: softmax(log p / T) for a distribution given as probabilities."""
    powered = tf.pow(tf.maximum(probabilities, 0.0), 1.0 / temperature)
    return powered / tf.maximum(tf.reduce_sum(powered, axis=-1, keepdims=True), _EPSILON)


@keras.saving.register_keras_serializable(package="relevance_student")
class DistillationLoss(keras.losses.Loss):
    """Temperature-scaled KL to the teacher plus cross-entropy on human grades, and
    optionally the teacher's order within each query (listwise KL, margin MSE).

    For a row with teacher probabilities ``p``, student logits ``z`` and optional human
    grade ``g``::

        p_T  = p^(1/T) / sum(p^(1/T))                  # teacher softened at temperature T
        q_T  = softmax(z / T)                          # student softened at temperature T
        loss = distill_weight * T^2 * KL(p_T || q_T)
             + human_weight * has_grade * CE(one_hot(g - 1), softmax(z))

    With ``teacher_contrast`` a != 1 and ``teacher_center`` c (the teacher's mean
    log-probability of each grade over the training rows), ``p`` is first replaced by::

        p' = softmax(c + a * (log p - c))              # teacher's contrast scaled by a

    which keeps the teacher's average grade profile and multiplies each row's departure
    from it by ``a``. An under-trained teacher can rank pairs well (its probabilities move
    the right way) while every row's distribution stays within ~1% of the corpus average:
    the KL term then asks the student to reproduce differences far below its training
    noise, and the student learns the average only. `trainer.student.task` picks ``a``
    from the data (`StudentConfig.min_teacher_spread`); unlike ``T``, which softens both
    sides and so leaves the student's optimum ``z = log p`` unchanged, ``a`` changes the
    targets themselves.

    The ``T^2`` factor keeps the gradient scale of the KL term independent of ``T``
    (Hinton et al., 2015), so ``distill_weight`` and ``human_weight`` stay comparable
    when you change the temperature. Per-row losses are averaged over the batch, so
    the human term weighs in proportion to the share of human rows in the batch.

    Use it to train a small student on a teacher's pseudo-labels mixed with the human
    graded rows: the KL term transfers the teacher's full grade distribution (which
    grades it confuses), the CE term anchors the student on ground truth where it exists.
    ``T > 1`` exposes more of the teacher's "dark knowledge" in low-probability grades;
    ``T = 1`` is plain soft-label training. Set ``human_weight=0`` for pure
    distillation, or ``distill_weight=0`` for supervised training on human rows only.

    **Order terms.** The terms above are pointwise: each row is matched on its own, and
    a student that is slightly off on every row can still order a query's candidates
    differently from the teacher. Two optional terms teach the order directly. With
    scores ``t_i = sum_k k * p'_ik`` (the teacher's expected grade) and
    ``s_i = sum_k k * softmax(z_i)_k`` (the student's, what it ranks by), over the
    candidates i, j of the row's query q in the batch (`models.listwise`)::

        P_t(i) = softmax_{j in q}(t_j / tau),  P_s(i) = softmax_{j in q}(s_j / tau)
        loss_i += listwise_weight * P_t(i) * log(P_t(i) / P_s(i))
        loss_i += margin_weight * mean_{j in q, j != i} ((s_i - s_j) - (t_i - t_j))^2

    The first is the KL between the teacher's and the student's softmax over the list
    (RankDistil, Reddi et al., arXiv 2306.04455; per query the rows sum to the KL), the
    second the margin MSE of Hofstätter et al. (arXiv 2010.02666) on every pair of the
    query's candidates. Both are minimised by ``s = t + c_q``: only the differences
    within a query count, not the scores' level, which the pointwise terms set. A
    smaller ``tau`` (``listwise_temperature``) weighs the teacher's top candidates more;
    with G = 2 the scores span only 1, so ``tau = 1`` gives a nearly flat list. A row
    alone in its query gets neither term. They need ``y_true`` with the query-group
    column of `pack_targets` and batches that keep a query's candidates together
    (`models.query_batches`). Use them when the student is served as a
    ranker and the teacher ranks better than it: the pointwise terms spend the
    student's capacity on the grade distribution, these on the order within a query.

    Args:
        num_grades: G.
        temperature: T > 0.
        distill_weight: weight of the KL term.
        human_weight: weight of the human cross-entropy term.
        teacher_contrast: a > 0 (1: the teacher's probabilities as they are).
        teacher_center: c, G values; required when ``teacher_contrast`` != 1.
        listwise_weight: weight of the listwise KL over a query's candidates.
        listwise_temperature: tau > 0 of the listwise softmax.
        margin_weight: weight of the margin MSE over pairs of a query's candidates.

    Inputs:
        y_true: ``[B, 2G]`` from `pack_targets` (teacher probabilities, human one-hot);
            ``[B, 2G + 1]`` with the query group when an order term is on.
        y_pred: ``[B, G]`` student **logits**.

    Example:

    >>> import numpy as np
    >>> loss = DistillationLoss(num_grades=2, temperature=1.0)
    >>> y_true = np.array([[0.5, 0.5, 0.0, 0.0]], "float32")   # no human grade
    >>> float(loss(y_true, np.zeros((1, 2), "float32")))        # student == teacher
    0.0
    >>> sharp = DistillationLoss(2, teacher_contrast=3.0, teacher_center=[0.0, 0.0])
    >>> y_true = np.array([[0.6, 0.4, 0.0, 0.0]], "float32")   # p' = (0.6^3, 0.4^3) / sum
    >>> abs(float(sharp(y_true, np.log([[0.216, 0.064]]).astype("float32")))) < 1e-6
    True
    >>> ordered = DistillationLoss(2, distill_weight=0.0, human_weight=0.0, margin_weight=1.0)
    >>> y_true = pack_targets([[0.0, 1.0], [1.0, 0.0]], [0, 0], 2, query_group=[3, 3])
    >>> float(ordered(y_true, np.zeros((2, 2), "float32")))   # margins 1 vs 0, both rows
    1.0
    """

    def __init__(
        self,
        num_grades: int,
        temperature: float = 1.0,
        distill_weight: float = 1.0,
        human_weight: float = 1.0,
        teacher_contrast: float = 1.0,
        teacher_center=None,
        listwise_weight: float = 0.0,
        listwise_temperature: float = 1.0,
        margin_weight: float = 0.0,
        name: str = "distillation_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.num_grades = int(num_grades)
        self.temperature = float(temperature)
        self.distill_weight = float(distill_weight)
        self.human_weight = float(human_weight)
        if teacher_contrast <= 0:
            raise ValueError(f"teacher_contrast must be > 0, got {teacher_contrast}")
        if teacher_contrast != 1.0 and (
            teacher_center is None or len(teacher_center) != self.num_grades
        ):
            raise ValueError(
                f"teacher_contrast {teacher_contrast} needs teacher_center with "
                f"{self.num_grades} values, got {teacher_center}"
            )
        self.teacher_contrast = float(teacher_contrast)
        self.teacher_center = (
            None if teacher_center is None else [float(c) for c in teacher_center]
        )
        if listwise_temperature <= 0:
            raise ValueError(f"listwise_temperature must be > 0, got {listwise_temperature}")
        self.listwise_weight = float(listwise_weight)
        self.listwise_temperature = float(listwise_temperature)
        self.margin_weight = float(margin_weight)

    @property
    def needs_query_groups(self) -> bool:
        """Whether an order term is on: targets then carry the query-group column."""
        return self.listwise_weight > 0 or self.margin_weight > 0

    def call(self, y_true, y_pred):
        y_true = tf.cast(y_true, tf.float32)
        logits = tf.cast(y_pred, tf.float32)
        teacher = y_true[:, : self.num_grades]
        if self.teacher_contrast != 1.0:
            teacher = amplify_contrast(teacher, self.teacher_center, self.teacher_contrast)
        softened = soften(teacher, self.temperature)
        human = y_true[:, self.num_grades : 2 * self.num_grades]

        student_log_probs_t = tf.nn.log_softmax(logits / self.temperature, axis=-1)
        # xlogy makes 0 * log 0 = 0 for grades the teacher rules out.
        kl = tf.reduce_sum(
            tf.math.xlogy(softened, softened) - softened * student_log_probs_t, axis=-1
        )
        human_ce = -tf.reduce_sum(human * tf.nn.log_softmax(logits, axis=-1), axis=-1)
        loss = self.distill_weight * self.temperature**2 * kl + self.human_weight * human_ce
        if not self.needs_query_groups:
            return loss
        if y_true.shape[-1] != 2 * self.num_grades + 1:
            raise ValueError(
                f"the listwise and margin terms need targets of {2 * self.num_grades + 1} "
                f"columns (pack_targets with query_group), got {y_true.shape[-1]}")
        group = y_true[:, 2 * self.num_grades]
        # The teacher's order as the pointwise term sees it (contrast, no temperature).
        teacher_scores = expected_grade(teacher)
        student_scores = expected_grade(tf.nn.softmax(logits, axis=-1))
        if self.listwise_weight > 0:
            loss += self.listwise_weight * listwise_kl(
                teacher_scores, student_scores, group, self.listwise_temperature)
        if self.margin_weight > 0:
            loss += self.margin_weight * margin_mse(teacher_scores, student_scores, group)
        return loss

    def get_config(self):
        config = super().get_config()
        config.update(
            num_grades=self.num_grades,
            temperature=self.temperature,
            distill_weight=self.distill_weight,
            human_weight=self.human_weight,
            teacher_contrast=self.teacher_contrast,
            teacher_center=self.teacher_center,
            listwise_weight=self.listwise_weight,
            listwise_temperature=self.listwise_temperature,
            margin_weight=self.margin_weight,
        )
        return config


def teacher_agreement(num_grades: int):
    """Keras metric: share of rows where the student's top grade is the teacher's."""

    def teacher_agreement(y_true, y_pred):
        teacher_top = tf.argmax(y_true[:, :num_grades], axis=-1)
        return tf.cast(tf.equal(teacher_top, tf.argmax(y_pred, axis=-1)), tf.float32)

    return teacher_agreement
