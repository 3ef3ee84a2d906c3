"""The GPT model: shapes, nanoGPT-compatible names, tied weights, causal masking, KV cache."""

import pytest
import torch

from gptstudio.core.model import GPT, GPTConfig, KVCache, strip_compile_prefix

ARGS = dict(block_size=16, vocab_size=11, n_layer=2, n_head=2, n_embd=8, dropout=0.0, bias=True)


def model(**overrides) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**ARGS, **overrides})).eval()


def test_output_shapes_with_and_without_targets():
    m = model()
    idx = torch.randint(0, 11, (3, 16))
    logits, loss = m(idx, idx)
    assert logits.shape == (3, 16, 11) and loss.shape == ()
    logits, loss = m(idx)
    assert logits.shape == (3, 1, 11) and loss is None  # inference: last position only


def test_initial_loss_is_about_uniform():
    idx = torch.randint(0, 11, (8, 16))
    _, loss = model()(idx, idx)
    assert abs(loss.item() - torch.log(torch.tensor(11.0)).item()) < 0.3


def test_state_dict_names_match_nanogpt():
    names = set(model(n_layer=1).state_dict())
    layer = [
        "ln_1.weight",
        "ln_1.bias",
        "attn.c_attn.weight",
        "attn.c_attn.bias",
        "attn.c_proj.weight",
        "attn.c_proj.bias",
        "ln_2.weight",
        "ln_2.bias",
        "mlp.c_fc.weight",
        "mlp.c_fc.bias",
        "mlp.c_proj.weight",
        "mlp.c_proj.bias",
    ]
    expected = {
        "transformer.wte.weight",
        "transformer.wpe.weight",
        "transformer.ln_f.weight",
        "transformer.ln_f.bias",
        "lm_head.weight",
    } | {f"transformer.h.0.{n}" for n in layer}
    assert names == expected
    assert not any(n.endswith("bias") for n in model(n_layer=1, bias=False).state_dict())


def test_lm_head_is_tied_to_token_embedding():
    m = model()
    assert m.lm_head.weight is m.transformer.wte.weight
    n_unique = sum(p.numel() for p in m.parameters())
    assert m.get_num_params(non_embedding=False) == n_unique
    assert m.get_num_params() == n_unique - 16 * 8  # minus position embeddings


def test_residual_projections_have_scaled_init():
    torch.manual_seed(0)
    m = GPT(GPTConfig(**{**ARGS, "n_embd": 64, "n_layer": 8}))
    std = m.transformer.h[0].attn.c_proj.weight.std().item()
    assert std == pytest.approx(0.02 / (2 * 8) ** 0.5, rel=0.1)
    assert m.transformer.h[0].mlp.c_fc.weight.std().item() == pytest.approx(0.02, rel=0.1)


def test_future_tokens_do_not_change_past_logits():
    m = model()
    torch.manual_seed(1)
    a = torch.randint(0, 11, (2, 16))
    b = a.clone()
    b[:, 9:] = (b[:, 9:] + 3) % 11  # change only positions 9..15
    la, _ = m(a, a)
    lb, _ = m(b, b)
    assert torch.allclose(la[:, :9], lb[:, :9], atol=1e-6)
    assert not torch.allclose(la[:, 9:], lb[:, 9:], atol=1e-3)


def test_kv_cache_logits_equal_full_forward():
    m = model()
    torch.manual_seed(2)
    idx = torch.randint(0, 11, (2, 12))
    full, _ = m(idx, idx)  # logits at every position
    cache = KVCache(m.config, 2, 16, "cpu", torch.float32)
    got = [m(idx[:, :5], cache=cache)[0][:, -1]]  # prefill 5 tokens
    got += [m(idx[:, t : t + 1], cache=cache)[0][:, -1] for t in range(5, 9)]  # one at a time
    got.append(m(idx[:, 9:12], cache=cache)[0][:, -1])  # several after a prefix (masked path)
    want = [full[:, 4], full[:, 5], full[:, 6], full[:, 7], full[:, 8], full[:, 11]]
    for g, w in zip(got, want):
        assert torch.allclose(g, w, atol=1e-5)
    assert cache.pos == 12


def test_context_longer_than_block_size_is_refused():
    with pytest.raises(ValueError, match="block_size"):
        model()(torch.zeros(1, 17, dtype=torch.long))


def test_optimizer_decays_only_matrices():
    m = model()
    opt = m.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu")
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    n = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n == sum(p.numel() for p in m.parameters())


def test_flops_per_token_formula():
    m = model()
    n = m.get_num_params()
    assert m.flops_per_token() == 6 * n + 12 * 2 * 2 * 4 * 16


def test_strip_compile_and_ddp_prefixes():
    sd = {"_orig_mod.transformer.wte.weight": 1, "module._orig_mod.lm_head.weight": 2, "plain": 3}
    assert strip_compile_prefix(sd) == {"transformer.wte.weight": 1, "lm_head.weight": 2, "plain": 3}
