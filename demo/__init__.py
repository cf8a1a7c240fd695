"""Demo code (floor 6 of the house): the built-in demo data set and its product images
(the tiny serving models of the tests and benchmarks are tests/support/serving_models.py).

Modules:
    data            `relevance demo`'s synthetic multilingual data (write_demo_data)
    images          the demo product images (one damaged on purpose)
"""
