"""A tiny random Qwen2.5-VL with its tokenizer and processor, built offline for CPU tests.

No hub download and no torchvision: the tokenizer is a byte-level BPE trained here on a few hundred
lines (vlmgym prompts, board texts, the answer tags), the image processor is the PIL one, and the
processor is a :class:`Qwen2_5_VLProcessor` without a video processor. The model has about 50k
parameters and builds in about a second. Everything is deterministic for a given ``seed``.

Usage::

    from tiny_vlm import build_tiny_vlm
    model, processor = build_tiny_vlm()
    build_tiny_vlm(save_dir=path)        # also save both, loadable with load_tiny_vlm(path)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["SPECIAL_TOKENS", "TinyQwen2_5_VLProcessor", "build_tiny_processor", "build_tiny_vlm",
           "load_tiny_vlm", "tiny_corpus"]

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def tiny_corpus() -> list[str]:
    """Lines to train the tokenizer on: every registered game's prompt and some board texts."""
    import gymnasium as gym

    import vlmgym

    lines = ["<perception>", "</perception>", "<think>", "</think>", "<answer>", "</answer>",
             "You are a helpful assistant.", "system", "user", "assistant",
             "up right down left", "(0, 1) (2, 1)", "0 1 2 3 4 5 6 7 8 9 | - ( ) , :"]
    for env_id in sorted(vlmgym.ENV_IDS):
        try:
            env = gym.make(env_id, obs_mode="text")
        except Exception:  # ids that need data (e.g. image tile archives) are skipped
            continue
        _, info = env.reset(seed=0)
        lines += info["prompt"].split("\n") + info["board_text"].split("\n")
        env.close()
    return lines * 4


def _chat_template() -> str:
    import trl

    path = Path(trl.__file__).parent / "chat_templates" / "qwen2_5_vl.jinja"
    return path.read_text()


def _tokenizer(vocab_size: int = 500, split_cells: bool = False) -> Any:
    """A byte-level BPE. ``split_cells``: every character but lowercase letters and spaces is a token
    of its own (words and the spaces between them still merge, often into phrases), so a board row
    is one token per cell and the same cell of every board sits at the same offset: what a model
    needs to read a board position by position. With ``vocab_size=2000`` (the corpus saturates at
    about 1500 tokens) a 5x5 Sokoban prompt is about 210 tokens
    (509 when every space is a token of its own)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    if split_cells:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex("[^a-z ]"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(tiny_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", padding_side="left")
    fast.chat_template = _chat_template()
    return fast


def _processor_class() -> type:
    from transformers import Qwen2_5_VLProcessor

    class TinyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
        """The stock processor requires a (torchvision) video processor; images only here.

        Transformers derives a processor's parts from its ``__init__`` signature, so leaving
        ``video_processor`` out of it makes the processor image + tokenizer only.
        """

        def __init__(self, image_processor: Any = None, tokenizer: Any = None,
                     chat_template: str | None = None, **kwargs: Any):
            super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    return TinyQwen2_5_VLProcessor


TinyQwen2_5_VLProcessor: Any = None  # set on first use (importing transformers is slow)


def build_tiny_processor(*, min_pixels: int = 28 * 28, max_pixels: int = 56 * 56, vocab_size: int = 500,
                         split_cells: bool = False) -> Any:
    """Tokenizer + PIL image processor (images resized to at most ``max_pixels``) + processor."""
    global TinyQwen2_5_VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    if TinyQwen2_5_VLProcessor is None:
        TinyQwen2_5_VLProcessor = _processor_class()
    image_processor = Qwen2VLImageProcessorPil(
        size={"shortest_edge": min_pixels, "longest_edge": max_pixels},
        patch_size=14, temporal_patch_size=2, merge_size=2)
    tokenizer = _tokenizer(vocab_size, split_cells)
    return TinyQwen2_5_VLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                   chat_template=tokenizer.chat_template)


def _mrope_section(head_dim: int) -> list[int]:
    """Rotary sections (time, height, width) summing to half the head size."""
    half = head_dim // 2
    return [1, 1] if half == 2 else [half - 2 * (half // 3), half // 3, half // 3]


def build_tiny_vlm(seed: int = 0, save_dir: str | os.PathLike[str] | None = None, *, hidden_size: int = 16,
                   num_layers: int = 2, num_heads: int = 4, max_pixels: int = 56 * 56,
                   vocab_size: int = 500, split_cells: bool = False) -> tuple[Any, Any]:
    """(model, processor): a random Qwen2.5-VL in float32 and its processor.

    The defaults (hidden 16, 2 layers: about 50k parameters) are for plumbing tests; the learning
    benchmark and test use a wider model (``hidden_size=64``) and a larger vocabulary
    (``vocab_size=1000``: the corpus then saturates at about 900 tokens, and a 3x3 2048 prompt is 234
    tokens instead of 403, which halves generation time on CPU). The vision tower has the same width
    as the language model; its output is merged 2x2 into the language model's width.
    """
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    processor = build_tiny_processor(max_pixels=max_pixels, vocab_size=vocab_size, split_cells=split_cells)
    tok = processor.tokenizer
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tok), "hidden_size": hidden_size, "intermediate_size": 2 * hidden_size,
            "num_hidden_layers": num_layers, "num_attention_heads": num_heads,
            "num_key_value_heads": max(1, num_heads // 2),
            "max_position_embeddings": 4096,
            "rope_parameters": {"rope_type": "default", "mrope_section": _mrope_section(hidden_size // num_heads),
                                "rope_theta": 1e6},
            "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": 2, "hidden_size": hidden_size, "intermediate_size": 2 * hidden_size, "num_heads": num_heads,
            "out_hidden_size": hidden_size, "fullatt_block_indexes": [1], "patch_size": 14,
            "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 56,
        },
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.bos_token_id = ids["<|endoftext|>"]
    if save_dir is not None:
        model.save_pretrained(save_dir)
        processor.save_pretrained(save_dir)
    return model, processor


def load_tiny_vlm(path: str | os.PathLike[str]) -> tuple[Any, Any]:
    """Load what ``build_tiny_vlm(save_dir=path)`` saved (the processor without a video processor)."""
    global TinyQwen2_5_VLProcessor
    from transformers import Qwen2_5_VLForConditionalGeneration

    if TinyQwen2_5_VLProcessor is None:
        TinyQwen2_5_VLProcessor = _processor_class()
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(path)
    processor = TinyQwen2_5_VLProcessor.from_pretrained(path)
    return model, processor


def load_tiny_processor(path: str | os.PathLike[str]) -> Any:
    """The processor of a saved tiny model alone: ``--processor tiny_vlm:load_tiny_processor``."""
    return load_tiny_vlm_processor_class().from_pretrained(path)


def load_tiny_vlm_processor_class() -> type:
    """The image-only processor class (built on first use)."""
    global TinyQwen2_5_VLProcessor
    if TinyQwen2_5_VLProcessor is None:
        TinyQwen2_5_VLProcessor = _processor_class()
    return TinyQwen2_5_VLProcessor
