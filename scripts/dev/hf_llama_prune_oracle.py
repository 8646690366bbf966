#!/usr/bin/python3
"""Dev-only check (not run by tests or CI): `sglp prune` on a LLaMA model writes a directory that Hugging
Face-style code loads, and whose perplexity agrees with `sglp eval` and the report.

Writes a random tiny LlamaForCausalLM (BF16 or F32, tied or not) and a UTF-8 text corpus (byte tokens),
runs `node dist/cli.js prune … --data text:CORPUS --out OUT` and `node dist/cli.js eval OUT`, then loads
OUT with the plain-torch HF Llama of hf_llama_oracle.py the way from_pretrained(strict) would: config.json
num_hidden_layers, exactly the expected state-dict keys (no lm_head.weight when tied), the kept layers'
tensors renumbered; and computes the test-split perplexity (last 5% of tokens, windows of --seq-len).

Usage: npm run build && /usr/bin/python3 scripts/dev/hf_llama_prune_oracle.py [--out DIR] [--tol 1e-4]
Needs python3-torch (Debian).
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_llama_oracle as hf  # noqa: E402

ROOT = hf.ROOT
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for key, h in header.items():
        a, b = h["data_offsets"]
        dt = DTYPES[h["dtype"]]
        raw = bytearray(data[a:b])
        if dt == torch.float32:
            t = torch.frombuffer(raw, dtype=torch.float32)
        else:
            t = torch.frombuffer(raw, dtype=torch.int16).view(dt).to(torch.float32)
        out[key] = t.reshape(h["shape"]).clone()
    return out


def expected_keys(cfg):
    keys = {"model.embed_tokens.weight", "model.norm.weight"}
    if not cfg.get("tie_word_embeddings"):
        keys.add("lm_head.weight")
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        keys |= {p + s for s in ("input_layernorm.weight", "post_attention_layernorm.weight")}
        keys |= {p + f"self_attn.{n}_proj.weight" for n in "qkvo"}
        keys |= {p + f"mlp.{n}_proj.weight" for n in ("gate", "up", "down")}
    return keys


def perplexity(cfg, w, ids, seq):
    cut = len(ids) * 95 // 100
    test = ids[cut:]
    windows = len(test) // seq
    x = torch.tensor(test[: windows * seq]).reshape(windows, seq)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, windows, 4):
            chunk = x[i : i + 4]
            _, nll = hf.hf_forward(cfg, w, chunk)
            n = chunk.shape[0] * (seq - 1)
            total += nll.item() * n
            count += n
    return math.exp(total / count), count


def sglp(*args):
    r = subprocess.run(["node", os.path.join(ROOT, "dist/cli.js"), *args], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit(f"sglp {args[0]} failed ({r.returncode})")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/hf-llama-prune-oracle")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--seq", type=int, default=32)
    args = ap.parse_args()
    text = (
        "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness, it was the epoch of belief, it was the epoch of incredulity. "
    ) * 40
    os.makedirs(args.out, exist_ok=True)
    corpus = os.path.join(args.out, "corpus.txt")
    with open(corpus, "w") as f:
        f.write(text)
    ids = list(text.encode("utf-8"))
    cases = [
        ("tied-bf16", True, torch.bfloat16, "sglp"),
        ("untied-f32", False, torch.float32, "block-influence"),
    ]
    worst = 0.0
    for i, (name, tied, dtype, method) in enumerate(cases):
        cfg = {
            **hf.BASE,
            "architectures": ["LlamaForCausalLM"],
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 6,
            "vocab_size": 256,
            "tie_word_embeddings": tied,
            "bos_token_id": 1,
            "torch_dtype": "bfloat16" if dtype == torch.bfloat16 else "float32",
        }
        gen = torch.Generator().manual_seed(77 + i)
        w = hf.random_weights(cfg, gen)
        if tied:  # the head is the embedding: unit-variance rows would give logits of size ~sqrt(hidden)
            w["model.embed_tokens.weight"] /= math.sqrt(cfg["hidden_size"])
        w = {k: v.to(dtype).to(torch.float32) for k, v in w.items()}
        d = os.path.join(args.out, name)
        out = d + "-pruned"
        subprocess.run(["rm", "-rf", d, out], check=True)
        os.makedirs(d)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        hf.write_safetensors(os.path.join(d, "model.safetensors"), w, dtype)
        report = sglp(
            "prune", d, "--data", f"text:{corpus}", "--remove", "2", "--seq-len", str(args.seq),
            "--samples", "8", "--batch", "4", "--gradnorm-batch-size", "2", "--segments", "2",
            "--method", method, "--out", out, "--json",
        )
        ev = sglp("eval", out, "--data", f"text:{corpus}", "--seq-len", str(args.seq), "--json")

        # Load OUT as from_pretrained(strict) would.
        with open(os.path.join(out, "config.json")) as f:
            pcfg = json.load(f)
        assert pcfg == {**cfg, "num_hidden_layers": 4}, f"{name}: config.json {pcfg}"
        pw = read_safetensors(os.path.join(out, "model.safetensors"))
        missing, unexpected = expected_keys(pcfg) - set(pw), set(pw) - expected_keys(pcfg)
        assert not missing and not unexpected, f"{name}: missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        kept = report["kept"]
        for new, old in enumerate(kept):
            for k, v in w.items():
                pre = f"model.layers.{old}."
                if k.startswith(pre):
                    assert torch.equal(pw[f"model.layers.{new}." + k[len(pre):]], v), f"{name}: {k} -> layer {new}"
        ppl_torch, tokens = perplexity(pcfg, pw, ids, args.seq)
        ppl_before, _ = perplexity(cfg, w, ids, args.seq)
        after = report["metrics"]["after"]
        before = report["metrics"]["before"]
        assert tokens == ev["tokens"] == after["tokens"], (tokens, ev["tokens"], after["tokens"])
        rel_eval = abs(ev["perplexity"] - ppl_torch) / ppl_torch
        rel_report = abs(after["perplexity"] - ppl_torch) / ppl_torch
        rel_before = abs(before["perplexity"] - ppl_before) / ppl_before
        worst = max(worst, rel_eval, rel_report, rel_before)
        print(
            f"{name:12s} {method:16s} removed {report['removed']}: perplexity torch {ppl_torch:.4f}, "
            f"sglp eval {ev['perplexity']:.4f} (rel {rel_eval:.1e}), report after {after['perplexity']:.4f} "
            f"(rel {rel_report:.1e}); before torch {ppl_before:.4f} report {before['perplexity']:.4f} "
            f"(rel {rel_before:.1e}); {tokens} tokens"
        )
    ok = worst <= args.tol
    print(f"worst {worst:.2e} {'<=' if ok else '>'} tol {args.tol:.0e}: {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
