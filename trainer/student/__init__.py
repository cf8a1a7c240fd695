"""The distilled student: a small lexical + hashed-embedding ranker for real-time serving.

Entry points:
    trainer.student.preprocessing.preprocessing_fn  - TFX Transform features (core TF ops only)
    trainer.student.task.run_fn                     - TFX Trainer run_fn
"""
