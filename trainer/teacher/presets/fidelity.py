"""Does a converted decoder preset still know its language? A check that needs no
original checkpoint to compare with.

A conversion that scrambles anything (a transposed kernel, a wrong rotary layout, a
tokenizer off by one id) leaves a model that predicts English no better than word salad.
So the check scores:

* **perplexity** of the language model on plain English sentences, and on the same
  sentences with their words shuffled: a working model finds the real text far more
  predictable (`perplexity_ratio` = shuffled / plain, well above 1);
* **greedy completions** of a few factual prompts, which must contain the known answer.

`check_decoder_preset(preset)` runs both and returns a JSON-ready report with `passed`.

Example (the tiny random preset the tests build knows no English, so it fails):

>>> import os, tempfile
>>> from support.gguf_test_file import write_tiny_llama_gguf
>>> from trainer.teacher.presets.llama_converter import convert_llama_gguf
>>> work = tempfile.mkdtemp()
>>> preset = convert_llama_gguf(write_tiny_llama_gguf(os.path.join(work, "t.gguf")),
...                             os.path.join(work, "preset"))
>>> report = check_decoder_preset(preset, max_new_tokens=2)
>>> sorted(report), report["passed"]
(['completions', 'passed', 'perplexity', 'perplexity_ratio', 'shuffled_perplexity', 'thresholds'], False)
"""

import random
from typing import Dict, List, Sequence, Tuple

import numpy as np

SENTENCES = (
    "The sun rises in the east and sets in the west.",
    "She opened the window to let some fresh air into the room.",
    "Children usually learn to read and write at school.",
    "The train to London leaves the station at nine o'clock every morning.",
    "He bought a loaf of bread and a bottle of milk at the shop.",
    "Water boils at one hundred degrees Celsius at sea level.",
)
FACTUAL_PROMPTS: Tuple[Tuple[str, str], ...] = (
    ("The capital of France is", "Paris"),
    ("One, two, three, four,", "five"),
    ("Water is made of hydrogen and", "oxygen"),
)
# Shuffled English should be at least this many times as hard to predict as English.
MIN_PERPLEXITY_RATIO = 3.0


def shuffled_words(text: str, seed: int = 0) -> str:
    """The words of `text` in a random (seeded) order.

    >>> shuffled_words("a b c d", seed=1)
    'd a c b'
    """
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


def _causal_lm(preset: str):
    import keras_hub

    from trainer.teacher.presets import gguf_tokenizer  # noqa: F401  (registers its class)

    return keras_hub.models.CausalLM.from_preset(preset)


def perplexity(causal_lm, texts: Sequence[str]) -> float:
    """exp(mean negative log-likelihood) of every token after the first, over `texts`
    (each tokenized alone, no start token: the model predicts the text itself)."""
    import tensorflow as tf

    tokenizer = causal_lm.preprocessor.tokenizer
    backbone = causal_lm.backbone
    total, count = 0.0, 0
    for text in texts:
        ids = np.asarray(tokenizer(text), dtype="int32")[None, :]
        hidden = backbone({"token_ids": ids, "padding_mask": np.ones_like(ids)})
        logits = tf.cast(backbone.token_embedding(hidden, reverse=True), tf.float32)
        log_probs = tf.nn.log_softmax(logits[0, :-1], axis=-1).numpy()
        targets = ids[0, 1:]
        total -= float(log_probs[np.arange(len(targets)), targets].sum())
        count += len(targets)
    return float(np.exp(total / max(count, 1)))


def greedy_completions(causal_lm, prompts: Sequence[str], max_new_tokens: int = 8) -> List[str]:
    """The model's greedy continuation of each prompt (the prompt itself cut off)."""
    causal_lm.compile(sampler="greedy")
    tokenizer = causal_lm.preprocessor.tokenizer
    completions = []
    for prompt in prompts:
        length = len(np.asarray(tokenizer(prompt))) + 1 + max_new_tokens  # + start token
        text = causal_lm.generate(prompt, max_length=length, strip_prompt=True)
        completions.append(str(text))
    return completions


def check_decoder_preset(preset: str, max_new_tokens: int = 8) -> Dict:
    """Perplexity on English vs shuffled English, and factual completions (see the
    module docstring); `passed` when the ratio reaches MIN_PERPLEXITY_RATIO and every
    completion names its answer."""
    causal_lm = _causal_lm(preset)
    plain = perplexity(causal_lm, SENTENCES)
    shuffled = perplexity(causal_lm, [shuffled_words(s, seed=i) for i, s in enumerate(SENTENCES)])
    prompts = [prompt for prompt, _ in FACTUAL_PROMPTS]
    completions = [
        {"prompt": prompt, "expected": answer, "completion": text,
         "correct": answer.lower() in text.lower()}
        for (prompt, answer), text in zip(FACTUAL_PROMPTS,
                                          greedy_completions(causal_lm, prompts, max_new_tokens))
    ]
    ratio = shuffled / plain
    return {
        "perplexity": round(plain, 2),
        "shuffled_perplexity": round(shuffled, 2),
        "perplexity_ratio": round(ratio, 2),
        "completions": completions,
        "thresholds": {"min_perplexity_ratio": MIN_PERPLEXITY_RATIO},
        "passed": bool(ratio >= MIN_PERPLEXITY_RATIO and all(c["correct"] for c in completions)),
    }
