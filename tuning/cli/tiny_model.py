"""Make a tiny Llama with random weights, entirely offline.

Model hubs are unreachable on the machines that run the quickstart and the tests, so the model is built
here: a byte-level BPE tokenizer trained on text already on disk (the Python standard library's source),
a ``LlamaConfig``, and random weights written with ``safetensors`` from numpy. No torch is needed in the
environment that builds it; vLLM loads the result like any Hugging Face checkpoint.
"""

from __future__ import annotations

import json
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]
# A template is needed because genai-bench's vllm backend talks to the chat completions endpoint.
_CHAT_TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
_MARKER = "servetune-tiny-model.json"


@dataclass(frozen=True)
class TinyLlamaShape:
    vocab_size: int = 4096
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    max_position_embeddings: int = 4096

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


def _stdlib_text(max_bytes: int = 4_000_000) -> Iterator[str]:
    """Source of the running Python's standard library, in a fixed order so the tokenizer is stable."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    total = 0
    for path in sorted(stdlib.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="ignore")
        total += len(text)
        yield text
        if total >= max_bytes:
            return


def _train_tokenizer(shape: TinyLlamaShape, out: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=shape.vocab_size,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_stdlib_text(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        model_max_length=shape.max_position_embeddings,
    )
    fast.chat_template = _CHAT_TEMPLATE
    fast.save_pretrained(out)


def _write_config(shape: TinyLlamaShape, out: Path, vocab_size: int) -> None:
    from transformers import LlamaConfig

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads,
        max_position_embeddings=shape.max_position_embeddings,
        bos_token_id=_SPECIAL_TOKENS.index("<s>"),
        eos_token_id=_SPECIAL_TOKENS.index("</s>"),
        tie_word_embeddings=False,
        architectures=["LlamaForCausalLM"],
    )
    config.save_pretrained(out)
    # transformers without torch may omit the dtype; vLLM needs it to pick the load precision.
    data = json.loads((out / "config.json").read_text())
    data.setdefault("torch_dtype", "float32")
    (out / "config.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _random_weights(shape: TinyLlamaShape, vocab_size: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, i, kv = shape.hidden_size, shape.intermediate_size, shape.num_kv_heads * shape.head_dim

    def normal(*dims: int) -> np.ndarray:
        return (rng.standard_normal(dims) * 0.02).astype(np.float32)

    weights = {
        "model.embed_tokens.weight": normal(vocab_size, h),
        "model.norm.weight": np.ones(h, dtype=np.float32),
        "lm_head.weight": normal(vocab_size, h),
    }
    for layer in range(shape.num_layers):
        prefix = f"model.layers.{layer}"
        weights |= {
            f"{prefix}.self_attn.q_proj.weight": normal(h, h),
            f"{prefix}.self_attn.k_proj.weight": normal(kv, h),
            f"{prefix}.self_attn.v_proj.weight": normal(kv, h),
            f"{prefix}.self_attn.o_proj.weight": normal(h, h),
            f"{prefix}.mlp.gate_proj.weight": normal(i, h),
            f"{prefix}.mlp.up_proj.weight": normal(i, h),
            f"{prefix}.mlp.down_proj.weight": normal(h, i),
            f"{prefix}.input_layernorm.weight": np.ones(h, dtype=np.float32),
            f"{prefix}.post_attention_layernorm.weight": np.ones(h, dtype=np.float32),
        }
    return weights


def is_tiny_model(path: Path) -> bool:
    """True when ``path`` holds a complete model made by :func:`make_tiny_llama`."""
    return (path / _MARKER).is_file()


def make_tiny_llama(out: Path, seed: int = 0, shape: TinyLlamaShape | None = None) -> int:
    """Write tokenizer, config and random weights to ``out``; return the parameter count.

    The marker file is written last, so an interrupted build is rebuilt rather than half-used.
    """
    from safetensors.numpy import save_file

    shape = shape or TinyLlamaShape()
    out.mkdir(parents=True, exist_ok=True)
    (out / _MARKER).unlink(missing_ok=True)
    _train_tokenizer(shape, out)
    vocab_size = len(json.loads((out / "tokenizer.json").read_text())["model"]["vocab"])
    _write_config(shape, out, vocab_size)
    weights = _random_weights(shape, vocab_size, seed)
    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
    parameters = sum(int(w.size) for w in weights.values())
    (out / _MARKER).write_text(
        json.dumps({"parameters": parameters, "seed": seed, "python": sys.version.split()[0]}) + "\n"
    )
    return parameters
