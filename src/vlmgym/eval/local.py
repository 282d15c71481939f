"""Local model policies: ``hf:PATH`` (transformers) and ``vllm:PATH`` (vLLM's offline ``LLM``).

Both build the same conversation as the OpenAI-compatible policy: an optional system message,
then one user message holding the board image and the instruction. Heavy imports happen only when
such a policy is created.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from vlmgym.eval.interface import GenerationConfig, Policy, PolicyError, Query, Reply
from vlmgym.plugins import load_attr

__all__ = ["HFPolicy", "VLLMPolicy"]


def _messages(q: Query, generation: GenerationConfig, image_part: dict[str, Any] | None) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if image_part is not None:
        content.append(image_part)
    content.append({"type": "text", "text": q.user_text()})
    messages: list[dict[str, Any]] = []
    if generation.system_prompt:
        messages.append({"role": "system", "content": [{"type": "text", "text": generation.system_prompt}]})
    messages.append({"role": "user", "content": content})
    return messages


class HFPolicy(Policy):
    """``hf:PATH``: batched ``generate`` with a transformers image-text-to-text model.

    Args:
        path: a local folder or hub id for ``AutoModelForImageTextToText`` and ``AutoProcessor``.
        model, processor: already-built objects instead of loading from ``path`` (the processor
            may also be a ``module:attr`` string naming a class with ``from_pretrained`` or a
            function ``path -> processor``).
        batch_size: queries per ``generate`` call.
        device: ``"cuda"``, ``"cpu"``, ... (default: CUDA when available).
        dtype: ``"auto"``, ``"bfloat16"``, ``"float32"``, ...
        generation: sampling settings (temperature 0 = greedy).
        seed: seeds ``torch`` before each batch when sampling.
    """

    def __init__(self, path: str | None = None, *, model: Any = None, processor: Any = None,
                 batch_size: int = 8, device: str | None = None, dtype: str = "auto",
                 generation: GenerationConfig | None = None, seed: int = 0,
                 trust_remote_code: bool = False):
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise PolicyError(f"hf:{path} needs torch and transformers: pip install 'vlmgym[rl]' "
                              f"(or torch + transformers) ({exc})") from None
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise PolicyError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.path = path
        self.name = f"hf:{path}" if path else "hf"
        self.generation = generation or GenerationConfig()
        self.batch_size = batch_size
        self.seed = int(seed)
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = dtype
        if model is None:
            if path is None:
                raise PolicyError("HFPolicy needs a path or a model")
            torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype, None)
            if torch_dtype is None:
                raise PolicyError(f"unknown dtype {dtype!r}; use auto, bfloat16, float16 or float32")
            try:
                model = transformers.AutoModelForImageTextToText.from_pretrained(
                    path, dtype=torch_dtype, trust_remote_code=trust_remote_code)
            except (OSError, ValueError) as exc:
                raise PolicyError(f"cannot load a model from {path!r}: {exc}") from None
        if processor is None or isinstance(processor, str):
            processor = self._load_processor(processor, path, trust_remote_code)
        if getattr(processor, "image_processor", None) is None:
            raise PolicyError(
                f"the processor for {path!r} has no image processor ({type(processor).__name__}); "
                "pass processor=module:attr naming a processor class or loader function")
        tokenizer = getattr(processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.padding_side = "left"  # batched generation continues every row at the end
        self.model = model.to(self.device).eval()
        self.processor = processor

    @staticmethod
    def _load_processor(spec: str | None, path: str | None, trust_remote_code: bool) -> Any:
        if spec is not None:
            loader = load_attr(spec, "processor", PolicyError)
            if hasattr(loader, "from_pretrained"):
                return loader.from_pretrained(path)
            return loader(path)
        from transformers import AutoProcessor

        try:
            return AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            raise PolicyError(f"cannot load a processor from {path!r}: {exc}") from None

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "batch_size": self.batch_size,
                "device": self.device, "dtype": self.dtype, "generation": vars(self.generation).copy()}

    def _generate(self, chunk: Sequence[Query]) -> list[Reply]:
        torch = self._torch
        gen = self.generation
        has_image = [q.image is not None for q in chunk]
        if any(has_image) and not all(has_image):
            raise PolicyError("a batch mixes image and text-only observations")
        texts = [self.processor.apply_chat_template(
            _messages(q, gen, {"type": "image"} if q.image is not None else None),
            add_generation_prompt=True, tokenize=False) for q in chunk]
        kwargs: dict[str, Any] = {"text": texts, "return_tensors": "pt", "padding": True}
        if all(has_image):
            kwargs["images"] = [[q.pil()] for q in chunk]
        inputs = self.processor(**kwargs).to(self.device)
        sample = gen.temperature > 0
        params: dict[str, Any] = {"max_new_tokens": gen.max_tokens, "do_sample": sample}
        if sample:
            params.update(temperature=gen.temperature, top_p=gen.top_p)
            torch.manual_seed((self.seed * 1_000_003 + chunk[0].seed) & 0x7FFFFFFF)
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(**inputs, **params)
        latency = time.perf_counter() - start
        prompt_len = inputs["input_ids"].shape[1]
        new = out[:, prompt_len:]
        answers = self.processor.batch_decode(new, skip_special_tokens=True)
        pad = getattr(getattr(self.processor, "tokenizer", None), "pad_token_id", None)
        replies = []
        for i, text in enumerate(answers):
            n_new = int((new[i] != pad).sum()) if pad is not None else int(new.shape[1])
            replies.append(Reply(text=text, latency_s=latency,
                                 usage={"prompt_tokens": int(inputs["attention_mask"][i].sum()),
                                        "completion_tokens": n_new}))
        return replies

    def __call__(self, queries: Sequence[Query]) -> list[str | Reply]:
        out: list[str | Reply] = []
        for i in range(0, len(queries), self.batch_size):
            out.extend(self._generate(queries[i:i + self.batch_size]))
        return out

    def close(self) -> None:
        self.model = None
        if self._torch.cuda.is_available():
            self._torch.cuda.empty_cache()


class VLLMPolicy(Policy):
    """``vllm:PATH``: offline batched generation with ``vllm.LLM.chat``.

    Args:
        path: model folder or hub id.
        generation: sampling settings; each query gets its own sampling seed.
        seed: engine seed.
        **llm_kwargs: passed to ``vllm.LLM`` (``tensor_parallel_size``, ``max_model_len``,
            ``gpu_memory_utilization``, ...); ``limit_mm_per_prompt`` defaults to one image.
    """

    def __init__(self, path: str, *, generation: GenerationConfig | None = None, seed: int = 0,
                 **llm_kwargs: Any):
        try:
            import vllm
        except ImportError:
            raise PolicyError(
                f"vllm:{path} needs vLLM (pip install vllm; it needs a GPU). Alternatively serve the "
                f"model with `vllm serve {path}` and evaluate with --policy openai:{path} "
                "--base-url http://127.0.0.1:8000/v1") from None
        self._vllm = vllm
        self.path = path
        self.name = f"vllm:{path}"
        self.generation = generation or GenerationConfig()
        self.seed = int(seed)
        llm_kwargs.setdefault("limit_mm_per_prompt", {"image": 1})
        self.llm_kwargs = llm_kwargs
        self.llm = vllm.LLM(model=path, seed=self.seed, **llm_kwargs)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "generation": vars(self.generation).copy(),
                "llm_kwargs": {k: v for k, v in self.llm_kwargs.items() if isinstance(v, (int, float, str, bool, dict, list))}}

    def __call__(self, queries: Sequence[Query]) -> list[str | Reply]:
        gen = self.generation
        conversations = []
        params = []
        for q in queries:
            part = None
            if q.image is not None:
                import base64

                part = {"type": "image_url",
                        "image_url": {"url": "data:image/png;base64," + base64.b64encode(q.png()).decode()}}
            conversations.append(_messages(q, gen, part))
            params.append(self._vllm.SamplingParams(
                temperature=gen.temperature, top_p=gen.top_p, max_tokens=gen.max_tokens,
                seed=(self.seed * 1_000_003 + q.seed) & 0x7FFFFFFF))
        start = time.perf_counter()
        outputs = self.llm.chat(conversations, sampling_params=params, use_tqdm=False)
        latency = time.perf_counter() - start
        replies: list[str | Reply] = []
        for o in outputs:
            completion = o.outputs[0]
            replies.append(Reply(text=completion.text, latency_s=latency,
                                 usage={"prompt_tokens": len(o.prompt_token_ids or []),
                                        "completion_tokens": len(completion.token_ids)}))
        return replies
