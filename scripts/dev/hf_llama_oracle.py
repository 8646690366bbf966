#!/usr/bin/python3
"""Dev-only oracle (not run by tests or CI): Hugging Face LlamaForCausalLM written out in plain torch.

For a few random tiny checkpoints (Llama GQA untied, Llama tied with llama3 rope scaling in BF16, Qwen2
with q/k/v biases in F16) it writes config.json + model.safetensors as transformers would, computes the
logits and the mean next-token NLL in float32 the way transformers' modeling_llama does (RMSNorm in f32,
rotate_half RoPE, repeat_kv, causal eager softmax in f32, SwiGLU), runs our engine on the same files
(scripts/dev/hf_llama_ours.ts, bundled with esbuild) and reports max |ours - torch| / max |torch|.

Usage: /usr/bin/python3 scripts/dev/hf_llama_oracle.py [--out DIR] [--tol 1e-4]
Needs python3-torch (Debian); transformers and safetensors are not needed.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_safetensors(path, tensors, dtype):
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    header, blobs, offset = {}, [], 0
    for key, t in tensors.items():
        t = t.to(dtype).contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if dtype != torch.float32 else t.numpy().tobytes()
        header[key] = {"dtype": names[dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def inv_freq(cfg):
    dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    rs = cfg.get("rope_scaling")
    if not rs or rs.get("rope_type", rs.get("type")) != "llama3":
        return inv
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_wave, high_wave = old / lo, old / hi
    wavelen = 2 * math.pi / inv
    inv_l = torch.where(wavelen > low_wave, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
    medium = ~(wavelen < high_wave) * ~(wavelen > low_wave)
    return torch.where(medium, smoothed, inv_l)


def rms_norm(x, w, eps):
    dtype = x.dtype
    x = x.to(torch.float32)
    var = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(var + eps)
    return w * x.to(dtype)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n):
    b, h, t, d = x.shape
    return x if n == 1 else x[:, :, None].expand(b, h, n, t, d).reshape(b, h * n, t, d)


def hf_forward(cfg, w, ids):
    B, T = ids.shape
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps = cfg["rms_norm_eps"]
    qwen = cfg["architectures"][0] == "Qwen2ForCausalLM"
    attn_bias = cfg.get("attention_bias", False)

    def lin(x, name, bias):
        return torch.nn.functional.linear(x, w[name + ".weight"], w[name + ".bias"] if bias else None)

    pos = torch.arange(T)[None].expand(B, T)
    inv = inv_freq(cfg)
    freqs = (inv[None, :, None].float().expand(B, -1, 1) @ pos[:, None, :].float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]
    x = w["model.embed_tokens.weight"][ids]
    mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = rms_norm(x, w[p + ".input_layernorm.weight"], eps)
        qkv_bias = qwen or attn_bias
        q = lin(h, p + ".self_attn.q_proj", qkv_bias).view(B, T, H, D).transpose(1, 2)
        k = lin(h, p + ".self_attn.k_proj", qkv_bias).view(B, T, KV, D).transpose(1, 2)
        v = lin(h, p + ".self_attn.v_proj", qkv_bias).view(B, T, KV, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, H // KV), repeat_kv(v, H // KV)
        s = torch.matmul(q, k.transpose(2, 3)) * D**-0.5 + mask
        a = torch.softmax(s, dim=-1, dtype=torch.float32).to(q.dtype) @ v
        a = a.transpose(1, 2).reshape(B, T, H * D)
        x = x + lin(a, p + ".self_attn.o_proj", attn_bias and not qwen)
        h = rms_norm(x, w[p + ".post_attention_layernorm.weight"], eps)
        mb = cfg.get("mlp_bias", False)
        m = torch.nn.functional.silu(lin(h, p + ".mlp.gate_proj", mb)) * lin(h, p + ".mlp.up_proj", mb)
        x = x + lin(m, p + ".mlp.down_proj", mb)
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]
    logits = torch.nn.functional.linear(x, head)
    nll = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    return logits, nll


def random_weights(cfg, gen):
    h, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or h // H
    qwen = cfg["architectures"][0] == "Qwen2ForCausalLM"
    ab, mb = cfg.get("attention_bias", False), cfg.get("mlp_bias", False)
    w = {"model.embed_tokens.weight": torch.randn(V, h, generator=gen)}

    def proj(name, out_f, in_f, bias):
        w[name + ".weight"] = torch.randn(out_f, in_f, generator=gen) / math.sqrt(in_f)
        if bias:
            w[name + ".bias"] = 0.1 * torch.randn(out_f, generator=gen)

    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        proj(p + ".self_attn.q_proj", H * D, h, qwen or ab)
        proj(p + ".self_attn.k_proj", KV * D, h, qwen or ab)
        proj(p + ".self_attn.v_proj", KV * D, h, qwen or ab)
        proj(p + ".self_attn.o_proj", h, H * D, ab and not qwen)
        proj(p + ".mlp.gate_proj", I, h, mb)
        proj(p + ".mlp.up_proj", I, h, mb)
        proj(p + ".mlp.down_proj", h, I, mb)
        w[p + ".input_layernorm.weight"] = 1 + 0.2 * torch.randn(h, generator=gen)
        w[p + ".post_attention_layernorm.weight"] = 1 + 0.2 * torch.randn(h, generator=gen)
    w["model.norm.weight"] = 1 + 0.2 * torch.randn(h, generator=gen)
    if not cfg.get("tie_word_embeddings"):
        w["lm_head.weight"] = torch.randn(V, h, generator=gen) / math.sqrt(h)
    return w


BASE = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 172,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 301,
    "rms_norm_eps": 1e-5,
    "max_position_embeddings": 256,
    "hidden_act": "silu",
    "torch_dtype": "float32",
}

CASES = [
    ("llama-gqa-untied-f32", {**BASE, "architectures": ["LlamaForCausalLM"]}, torch.float32),
    (
        "llama3-rope-tied-bf16",
        {
            **BASE,
            "architectures": ["LlamaForCausalLM"],
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "tie_word_embeddings": True,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64,
            },
            "torch_dtype": "bfloat16",
        },
        torch.bfloat16,
    ),
    (
        "qwen2-bias-f16",
        {
            **BASE,
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "hidden_size": 48,
            "num_attention_heads": 6,
            "num_key_value_heads": 2,
            "rope_theta": 1000000.0,
            "rms_norm_eps": 1e-6,
            "torch_dtype": "float16",
        },
        torch.float16,
    ),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/hf-llama-oracle")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=37)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    # Inside the repository so that Node resolves the `webgpu` package from node_modules.
    runner = os.path.join(ROOT, "node_modules", ".cache", "sglp-dev", "hf_llama_ours.mjs")
    subprocess.run(
        [
            os.path.join(ROOT, "node_modules/.bin/esbuild"),
            os.path.join(ROOT, "scripts/dev/hf_llama_ours.ts"),
            "--bundle", "--platform=node", "--format=esm", "--packages=external",
            "--loader:.wgsl=text", "--log-level=warning", f"--outfile={runner}",
        ],
        check=True,
        cwd=ROOT,
    )
    worst = 0.0
    for i, (name, cfg, dtype) in enumerate(CASES):
        gen = torch.Generator().manual_seed(1234 + i)
        w = random_weights(cfg, gen)
        # The checkpoint stores `dtype`; both sides compute in f32 from the rounded values.
        w = {k: v.to(dtype).to(torch.float32) for k, v in w.items()}
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        write_safetensors(os.path.join(d, "model.safetensors"), w, dtype)
        ids = torch.randint(0, cfg["vocab_size"], (args.batch, args.seq), generator=gen)
        with torch.no_grad():
            logits, nll = hf_forward(cfg, w, ids)
            # Layer 1 dropped and the rest renumbered, as pruning writes it.
            keep = [j for j in range(cfg["num_hidden_layers"]) if j != 1]
            pcfg = {**cfg, "num_hidden_layers": len(keep)}
            pw = {k: v for k, v in w.items() if not k.startswith("model.layers.")}
            for new, old in enumerate(keep):
                pre = f"model.layers.{old}."
                pw.update({f"model.layers.{new}." + k[len(pre):]: v for k, v in w.items() if k.startswith(pre)})
            pruned_logits, _ = hf_forward(pcfg, pw, ids)
        with open(os.path.join(d, "oracle.json"), "w") as f:
            json.dump({"ids": ids.reshape(-1).tolist(), "B": args.batch, "T": args.seq, "remove": [1]}, f)
        subprocess.run(["node", runner, d], check=True, cwd=ROOT)
        with open(os.path.join(d, "ours.json")) as f:
            ours = json.load(f)
        got = torch.tensor(ours["logits"], dtype=torch.float64)
        want = logits.reshape(-1).to(torch.float64)
        rel = ((got - want).abs().max() / want.abs().max()).item()
        nll_rel = abs(ours["nll"] - nll.item()) / abs(nll.item())
        pw_want = pruned_logits.reshape(-1).to(torch.float64)
        pw_got = torch.tensor(ours["pruned"], dtype=torch.float64)
        prel = ((pw_got - pw_want).abs().max() / pw_want.abs().max()).item()
        worst = max(worst, rel, nll_rel, prel)
        print(
            f"{name:24s} {ours['name']}: logits max|diff|/max|torch| = {rel:.2e}, "
            f"NLL ours {ours['nll']:.6f} torch {nll.item():.6f} (rel {nll_rel:.1e}), "
            f"layer 1 pruned: logits {prel:.2e}, "
            f"{args.batch}x{args.seq} tokens"
        )
    ok = worst <= args.tol
    print(f"worst {worst:.2e} {'<=' if ok else '>'} tol {args.tol:.0e}: {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
