"""A tiny, randomly initialised PaliGemma preset for tests, benchmarks and the demo.

No PaliGemma weights can be downloaded on a machine without Kaggle access, so this
writes a complete keras-hub preset directory (tiny ViT + one-layer Gemma decoder, a
SentencePiece vocabulary trained in-process) that loads through the same
`PaliGemmaCausalLM.from_preset` path as a real checkpoint. Its captions are gibberish.

Example:

>>> import tempfile, keras_hub
>>> preset = write_tiny_paligemma_preset(tempfile.mkdtemp())  # doctest: +SKIP
>>> keras_hub.models.PaliGemmaCausalLM.from_preset(preset)  # doctest: +SKIP
"""

import io
import logging
import os

logger = logging.getLogger(__name__)

TINY_IMAGE_SIZE = 16
_MARKER = "tiny_random_paligemma.txt"
_WORDS = (
    "a photo of caption en red blue green black white yellow pink grey leather wooden "
    "cotton ceramic glass metal wool linen shoes boots dress jacket sofa chair table mug "
    "bowl lamp on white background wooden floor kitchen counter shelf"
).split()


def is_tiny_preset(preset: str) -> bool:
    return os.path.isfile(os.path.join(preset, _MARKER))


def _vocabulary_proto() -> bytes:
    import sentencepiece

    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter([" ".join(_WORDS)] * 20 + list(_WORDS) * 5),
        model_writer=buffer, model_type="bpe", vocab_size=300, hard_vocab_limit=False,
        byte_fallback=True, pad_id=0, bos_id=1, eos_id=2, unk_id=3,
        # The PaliGemma tokenizer requires exactly these special pieces.
        pad_piece="<pad>", bos_piece="<bos>", eos_piece="<eos>", unk_piece="<unk>",
        minloglevel=2, num_threads=1,
    )
    return buffer.getvalue()


def write_tiny_paligemma_preset(directory: str, seed: int = 0) -> str:
    """Writes the tiny preset into `directory` (reused if already there); returns it."""
    if is_tiny_preset(directory):
        return directory
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)
    tokenizer = keras_hub.models.PaliGemmaTokenizer(proto=_vocabulary_proto())
    backbone = keras_hub.models.PaliGemmaBackbone(
        vocabulary_size=tokenizer.vocabulary_size(), image_size=TINY_IMAGE_SIZE,
        num_layers=1, num_query_heads=2, num_key_value_heads=1, hidden_dim=16,
        intermediate_dim=32, head_dim=8, vit_patch_size=4, vit_num_heads=2,
        vit_hidden_dim=16, vit_num_layers=1, vit_intermediate_dim=32,
    )
    image_converter = keras_hub.layers.PaliGemmaImageConverter(
        image_size=(TINY_IMAGE_SIZE, TINY_IMAGE_SIZE), scale=1.0 / 127.5, offset=-1.0
    )
    preprocessor = keras_hub.models.PaliGemmaCausalLMPreprocessor(
        tokenizer=tokenizer, image_converter=image_converter, sequence_length=32
    )
    causal_lm = keras_hub.models.PaliGemmaCausalLM(backbone=backbone, preprocessor=preprocessor)
    causal_lm.save_to_preset(directory)
    with open(os.path.join(directory, _MARKER), "w") as handle:
        handle.write("Randomly initialised PaliGemma for tests and the demo: its captions are "
                     "gibberish. Use a real checkpoint (e.g. pali_gemma_3b_mix_224) for real "
                     "captions.\n")
    logger.warning("wrote a tiny RANDOM PaliGemma preset to %s: captions will be gibberish",
                   directory)
    return directory
