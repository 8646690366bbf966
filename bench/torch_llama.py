#!/usr/bin/env python3
"""PyTorch f32 peer for the LLaMA rows of `sglp bench`: the same decoder layers and attention, same GPU.

    python3 bench/torch_llama.py [OUT.json] [--quick] [--allow-cpu]

Rows (f32, TF32 off: the fair peer for WebGPU f32):
  - one decoder layer (RMSNorm, q/k/v/o with GQA, RoPE, causal softmax attention, RMSNorm, SwiGLU MLP) at
    the shapes of SmolLM2-135M and Llama-3.2-1B, batch 4 x 128 tokens (SGLP's text protocol batch):
    forward, and forward + backward (every weight's gradient), tokens/s;
  - scaled_dot_product_attention, causal, at B 1 Hq 8 Hkv 2 T 512 D 64 and B 1 Hq 32 Hkv 8 T 2048 D 128
    (K/V repeated to Hq heads, as the math kernel needs), forward and forward + backward.
CUDA-event medians. Writes JSON (default torch-llama.json); without torch/CUDA it writes why and exits 0.
An outside peer for the GPU machine only; the project never needs Python.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

LAYERS = [
    ("SmolLM2-135M", dict(hidden=576, heads=9, kv=3, inter=1536, B=4, T=128)),
    ("Llama-3.2-1B", dict(hidden=2048, heads=32, kv=8, inter=8192, B=4, T=128)),
]
ATTENTION = [(1, 8, 2, 512, 64), (1, 32, 8, 2048, 128)]


def write(path, doc):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def timed(torch, cuda, fn, target_ms, trials):
    """Warm up, then the median and min ms per call over `trials` runs of enough calls for target_ms."""
    def run(reps):
        if cuda:
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            for _ in range(reps):
                fn()
            e.record()
            e.synchronize()
            return s.elapsed_time(e) / reps
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t0) * 1e3 / reps
    fn()
    one = max(run(1), 1e-3)
    reps = int(min(max(target_ms / one, 2), 2000))
    times = [run(reps) for _ in range(trials)]
    return statistics.median(times), min(times), reps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default="torch-llama.json")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--allow-cpu", action="store_true", help="tiny sizes on the CPU, to test this script")
    args = ap.parse_args()
    doc = {"tool": "torch_llama.py", "python": platform.python_version()}
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:
        doc["skipped"] = f"torch not importable: {e!r}"
        print(f"torch_llama: {doc['skipped']}")
        write(args.out, doc)
        return 0
    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        doc["skipped"] = "torch.cuda.is_available() is False"
        print(f"torch_llama: {doc['skipped']}")
        write(args.out, doc)
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda" if cuda else "cpu")
    doc["torch"] = torch.__version__
    doc["device"] = torch.cuda.get_device_name(dev) if cuda else "cpu"
    target_ms, trials = (20.0, 3) if args.quick else (50.0, 5)
    layers = LAYERS if cuda else [("tiny", dict(hidden=64, heads=4, kv=2, inter=128, B=2, T=32))]
    attn = ATTENTION if cuda else [(1, 4, 2, 64, 32)]
    torch.manual_seed(0)
    rows = []

    def rope(x, T, D):
        inv = 1.0 / (10000 ** (torch.arange(0, D, 2, device=dev, dtype=torch.float32) / D))
        ang = torch.outer(torch.arange(T, device=dev, dtype=torch.float32), inv)
        cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        x1, x2 = x[..., : D // 2], x[..., D // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w

    for name, s in layers:
        h, Hq, Hkv, I, B, T = s["hidden"], s["heads"], s["kv"], s["inter"], s["B"], s["T"]
        D = h // Hq
        mk = lambda o, i: (torch.randn(o, i, device=dev) * (1 / math.sqrt(i))).requires_grad_()
        W = dict(q=mk(Hq * D, h), k=mk(Hkv * D, h), v=mk(Hkv * D, h), o=mk(h, Hq * D),
                 g=mk(I, h), u=mk(I, h), d=mk(h, I),
                 n1=torch.ones(h, device=dev, requires_grad=True), n2=torch.ones(h, device=dev, requires_grad=True))
        x = torch.randn(B, T, h, device=dev)
        dy = torch.randn(B, T, h, device=dev)

        def layer():
            a = rms(x, W["n1"])
            q = rope((a @ W["q"].T).view(B, T, Hq, D).transpose(1, 2), T, D)
            k = rope((a @ W["k"].T).view(B, T, Hkv, D).transpose(1, 2), T, D)
            v = (a @ W["v"].T).view(B, T, Hkv, D).transpose(1, 2)
            k, v = k.repeat_interleave(Hq // Hkv, 1), v.repeat_interleave(Hq // Hkv, 1)
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, Hq * D)
            x1 = x + o @ W["o"].T
            m = rms(x1, W["n2"])
            return x1 + (F.silu(m @ W["g"].T) * (m @ W["u"].T)) @ W["d"].T

        def fwd():
            with torch.no_grad():
                layer()

        def both():
            torch.autograd.backward(layer(), dy)
            for t in W.values():
                t.grad = None

        macs = h * (Hq * D) * 2 + h * (Hkv * D) * 2 + 3 * h * I
        flops = 2 * macs * B * T + 4 * B * Hq * D * T * (T + 1) / 2
        for pass_, fn, mult in [("fwd", fwd, 1), ("fwd+bwd", both, 3)]:
            med, best, reps = timed(torch, cuda, fn, target_ms, trials)
            r = {"op": "llama layer", "shape": name, "pass": pass_, "B": B, "T": T, "ms_median": med, "ms_min": best,
                 "reps": reps, "tokens_per_s": B * T / (med / 1e3), "gflops": mult * flops / (med * 1e6)}
            rows.append(r)
            print(f"  llama layer {name} B{B} T{T} {pass_:8s} {med:9.3f} ms  {r['tokens_per_s']:12.0f} tokens/s  {r['gflops']:9.1f} GFLOP/s")
        del W, x, dy

    for B, Hq, Hkv, T, D in attn:
        q = torch.randn(B, Hq, T, D, device=dev, requires_grad=True)
        k = torch.randn(B, Hkv, T, D, device=dev, requires_grad=True)
        v = torch.randn(B, Hkv, T, D, device=dev, requires_grad=True)
        do = torch.randn(B, Hq, T, D, device=dev)
        r_ = Hq // Hkv

        def afwd():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k.repeat_interleave(r_, 1), v.repeat_interleave(r_, 1), is_causal=True)

        def aboth():
            o = F.scaled_dot_product_attention(q, k.repeat_interleave(r_, 1), v.repeat_interleave(r_, 1), is_causal=True)
            torch.autograd.backward(o, do)
            q.grad = k.grad = v.grad = None

        flops = 4 * B * Hq * D * T * (T + 1) / 2
        for pass_, fn, mult in [("fwd", afwd, 1), ("fwd+bwd", aboth, 3.5)]:
            med, best, reps = timed(torch, cuda, fn, target_ms, trials)
            r = {"op": "sdpa", "B": B, "Hq": Hq, "Hkv": Hkv, "T": T, "D": D, "pass": pass_, "ms_median": med,
                 "ms_min": best, "reps": reps, "gflops": mult * flops / (med * 1e6)}
            rows.append(r)
            print(f"  sdpa B{B} Hq{Hq} Hkv{Hkv} T{T} D{D} {pass_:8s} {med:9.3f} ms  {r['gflops']:9.1f} GFLOP/s (useful, causal)")
    doc["results"] = rows
    doc["notes"] = "f32, TF32 off; fwd+bwd GFLOP/s counts 3x (layer) / 3.5x (attention) the forward's useful FLOPs"
    write(args.out, doc)
    print(f"torch_llama: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
