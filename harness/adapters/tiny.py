"""`--model tiny-random`: a tiny randomly initialised causal LM and a tool-calling tokenizer, built locally.

For tests and smoke runs of the trainers without a download (no model hub is
needed): a byte-level tokenizer (256 byte tokens plus the chat markers) with
the Qwen2.5 tool-calling chat template that TRL ships and recognises (so it
can parse tool calls out of generations), and a two-layer Qwen2 model with
hidden size 16. What it generates is noise; the point is that every part of
a training step runs for real.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["TINY_RANDOM", "build_tiny_random"]

TINY_RANDOM = "tiny-random"
"""The model name that asks for this model instead of a checkpoint."""

_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_MARKERS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]


def _chat_template() -> str:
    # TRL recognises a template by its exact text; take it from the installed package.
    return (resources.files("trl") / "chat_templates" / "qwen2_5.jinja").read_text(encoding="utf-8")


def build_tiny_random(folder: Path | str, *, seed: int = 0) -> tuple[Any, Any]:
    """Build the tiny model and its tokenizer, save both to `folder`, and return `(model, tokenizer)`.

    Needs `torch`, `transformers`, `tokenizers` and `trl` (the `trl` extra).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: index for index, symbol in enumerate(alphabet)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=_SPECIAL[1:],
    )
    tokenizer.add_tokens(_MARKERS)
    tokenizer.chat_template = _chat_template()
    tokenizer.padding_side = "left"
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return model, tokenizer
