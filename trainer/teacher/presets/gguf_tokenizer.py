"""The byte-level BPE tokenizer of a converted GGUF decoder, reloadable from its preset.

keras-hub's `Llama3Tokenizer` takes its start / end tokens as arguments but does not
save them (0.31: its config has neither), so a preset whose tokens differ from Llama 3's
(`<|begin_of_text|>`, `<|end_of_text|>`) does not reload. This subclass saves them.
Its module is imported wherever such a preset is loaded (`trainer.teacher.backbones`).

Example:

>>> from support.gguf_test_file import MERGES, tiny_vocabulary
>>> vocabulary = {token: index for index, token in enumerate(tiny_vocabulary())}
>>> tokenizer = GgufBytePairTokenizer(vocabulary=vocabulary, merges=MERGES,
...     bos_token="<|im_start|>", eos_token="<|im_end|>",
...     misc_special_tokens=["<|endoftext|>"])
>>> tokenizer.start_token_id, tokenizer.end_token_id
(1, 2)
>>> config = tokenizer.get_config()
>>> config["bos_token"], config["eos_token"], config["misc_special_tokens"]
('<|im_start|>', '<|im_end|>', ['<|endoftext|>'])
"""

import keras
import keras_hub


@keras.saving.register_keras_serializable(package="search_relevance")
class GgufBytePairTokenizer(keras_hub.models.Llama3Tokenizer):
    """`Llama3Tokenizer` with its start, end and other control tokens in its config."""

    def __init__(self, vocabulary=None, merges=None, bos_token="<|begin_of_text|>",
                 eos_token="<|end_of_text|>", misc_special_tokens=(), **kwargs):
        self._control_tokens = dict(bos_token=bos_token, eos_token=eos_token,
                                    misc_special_tokens=sorted(set(misc_special_tokens)))
        super().__init__(vocabulary=vocabulary, merges=merges, bos_token=bos_token,
                         eos_token=eos_token, misc_special_tokens=set(misc_special_tokens),
                         **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(self._control_tokens)
        return config
