"""Evaluation (floor 3 of the house): metrics, `relevance evaluate`, its report, the BM25
baseline, the paired bootstrap, and the pipeline's TFMA metric, slices and validation gate.

Modules:
    metrics         offline relevance metrics in numpy (accuracy, QWK, NDCG@k, ...)
    evaluate        `relevance evaluate`: score labeled data with exported models
    settings        its defaults (no TensorFlow: the CLI's parser reads them)
    report          report.md and its plots
    baseline        the BM25 lexical baseline (ranked by its score)
    bm25_tokens     its tokens: words with their marks, trigrams, n-grams without spaces
    bootstrap       paired bootstrap over queries
    tfma_metric     RelevanceMetrics, the custom TFMA metric
    eval_config     the TFMA EvalConfig of both Evaluators
    slices          the evaluation slices
    results         reading a TFMA evaluation back
    gate, gate_rows, gate_settings, gate_report, bm25_eval
                    the validation gate's rule, inputs, defaults, report, BM25 floor
    eval_rows       an eval split's rows: reading them, slice columns, query key, grade
"""
