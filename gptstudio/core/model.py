"""The GPT-2 model, as nanoGPT has it, plus an optional KV cache for fast generation.

Parameter names and shapes match nanoGPT's model.py, so its checkpoints load directly:
transformer.wte / wpe / h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj} / ln_f, lm_head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    block_size: int = 1024
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # True: bias in Linears and LayerNorms, like GPT-2. False: a bit better and faster
    gelu_approximate: str = "none"  # "tanh" for weights trained with it (OpenAI's GPT-2: gelu_new)

    @classmethod
    def from_dict(cls, d: dict) -> GPTConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def problems(self) -> list[str]:
        """Why this shape cannot be built (empty list = it can), e.g. for settings read from a file."""
        out = []
        for name in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                out.append(f"{name} must be a positive whole number, not {v!r}")
        if not out and self.n_embd % self.n_head:
            out.append(f"n_embd ({self.n_embd}) is not divisible by n_head ({self.n_head})")
        if not isinstance(self.dropout, (int, float)) or isinstance(self.dropout, bool) or not 0 <= self.dropout < 1:
            out.append(f"dropout must be a number in [0, 1), not {self.dropout!r}")
        if not isinstance(self.bias, bool):
            out.append(f"bias must be true or false, not {self.bias!r}")
        if self.gelu_approximate not in ("none", "tanh"):
            out.append(f"gelu_approximate must be 'none' or 'tanh', not {self.gelu_approximate!r}")
        return out


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (PyTorch's cannot drop just the bias)."""

    def __init__(self, ndim: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class KVCache:
    """Keys and values of every layer for the tokens seen so far, preallocated up to max_len."""

    def __init__(self, config: GPTConfig, batch_size: int, max_len: int, device, dtype):
        hd = config.n_embd // config.n_head
        shape = (config.n_layer, batch_size, config.n_head, max_len, hd)
        self.k = torch.empty(shape, device=device, dtype=dtype)
        self.v = torch.empty(shape, device=device, dtype=dtype)
        self.pos = 0  # number of tokens cached

    def update(self, layer: int, k, v):
        """Store this step's keys/values for a layer; return all cached keys/values so far."""
        t0, t1 = self.pos, self.pos + k.size(2)
        self.k[layer, :, :, t0:t1] = k
        self.v[layer, :, :, t0:t1] = v
        return self.k[layer, :, :, :t1], self.v[layer, :, :, :t1]


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head

    def forward(self, x, cache: KVCache | None = None, layer: int = 0):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_dim)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        mask, causal = None, True
        if cache is not None:
            past = cache.pos
            k, v = cache.update(layer, k, v)
            if past > 0:
                # new query i (absolute position past+i) may see keys 0..past+i
                causal = False
                if T > 1:
                    mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal and T > 1, dropout_p=self.attn_dropout if self.training else 0.0
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate=config.gelu_approximate)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, cache=None, layer=0):
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """nanoGPT's `transformer` ModuleDict as a class (same parameter names), so its parts have types."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = LayerNorm(config.n_embd, bias=config.bias)


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        assert config.vocab_size is not None and config.block_size is not None
        self.config = config
        self.transformer = Transformer(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # weight tying: the output projection is the token embedding (fewer parameters, better loss)
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        # GPT-2 paper: scale the residual projections by 1/sqrt(2 * n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def get_num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; by default without position embeddings (token ones are tied to lm_head)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wpe.weight.numel()
        return n

    def forward(self, idx, targets=None, cache: KVCache | None = None):
        """Logits for every position (training) or the last one only (inference); loss if targets."""
        _B, T = idx.size()
        start = cache.pos if cache is not None else 0
        if start + T > self.config.block_size:
            raise ValueError(f"Cannot forward {start + T} tokens: block_size is {self.config.block_size}.")
        pos = torch.arange(start, start + T, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for i, block in enumerate(self.transformer.h):
            x = block(x, cache, i)
        if cache is not None:
            cache.pos += T
        x = self.transformer.ln_f(x)
        if targets is not None:
            logits = self.lm_head(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
            return logits, loss
        # inference: only the last position's logits are needed
        return self.lm_head(x[:, [-1], :]), None

    def crop_block_size(self, block_size: int) -> None:
        """Shrink the context (e.g. load GPT-2 at 1024 and train at 256)."""
        assert block_size <= self.config.block_size
        self.config.block_size = block_size
        self.transformer.wpe.weight = nn.Parameter(self.transformer.wpe.weight[:block_size])

    def grow_vocab(self, vocab_size: int) -> None:
        """Add token rows (new special tokens, e.g. a chat template's) to the tied embedding / output
        matrix. New rows start as the mean of the existing ones, common practice when extending a
        trained vocabulary: the new tokens start as an average token rather than as random outliers
        that the softmax would give odd probabilities."""
        old = self.transformer.wte.weight
        if vocab_size <= old.size(0):
            return
        with torch.no_grad():
            grown = torch.empty(vocab_size, old.size(1), dtype=old.dtype, device=old.device)
            grown[: old.size(0)] = old
            grown[old.size(0) :] = old.mean(dim=0)
        self.transformer.wte = nn.Embedding(vocab_size, old.size(1), device=old.device, dtype=old.dtype)
        self.lm_head = nn.Linear(old.size(1), vocab_size, bias=False, device=old.device, dtype=old.dtype)
        self.lm_head.weight = nn.Parameter(grown)
        self.transformer.wte.weight = self.lm_head.weight  # still tied
        self.config.vocab_size = vocab_size

    def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
        """AdamW with weight decay on 2-D tensors (matmuls, embeddings) only; fused where torch has it."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        # one fused kernel per step: on CUDA, and on CPU since torch 2.4 (fewer passes over the weights)
        fused = device_type == "cuda" or (
            device_type == "cpu" and torch.torch_version.TorchVersion(torch.__version__) >= "2.4"
        )
        extra = {"fused": True} if fused else {"foreach": True}
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, **extra)

    def flops_per_token(self) -> int:
        """Training FLOPs per token (PaLM appendix B): 6N + 12 L H Q T."""
        cfg = self.config
        N = self.get_num_params()
        L, H, Q, T = cfg.n_layer, cfg.n_head, cfg.n_embd // cfg.n_head, cfg.block_size
        return 6 * N + 12 * L * H * Q * T


def strip_compile_prefix(state_dict: dict) -> dict:
    """torch.compile'd models save keys as '_orig_mod.x' (and DDP as 'module.x'): restore plain keys."""
    out = {}
    for k, v in state_dict.items():
        while k.startswith(("_orig_mod.", "module.")):  # in any order: DDP(compile(m)) gives both
            k = k.split(".", 1)[1]
        out[k] = v
    return out
