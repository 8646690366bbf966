#!/usr/bin/env python3
"""PyTorch (cuBLAS) peer for the sglp GEMM benchmark: the same shapes, measured on the same GPU.

    python3 bench/torch_gemm.py [OUT.json] [--quick] [--allow-cpu]

Shapes (M x N x K): 1024^3, 4096x4096 with K=64, 64x64 with K=16384, 4096^3; dtypes f32 (strict
IEEE fp32: TF32 off, the fair peer for WebGPU f32), f32 with TF32 allowed (for reference only), and f16
(fp16 in/out, cuBLAS default accumulation). Also a 64 MB f32 sum and a 64 MB device-to-device copy.
Each case: warm-up, then repetitions timed with CUDA events, median of several trials; GFLOP/s counts
2*M*N*K. Writes JSON to OUT.json (default torch-gemm.json). Without torch or CUDA it writes a JSON
saying why and exits 0 (--allow-cpu runs small CPU sizes instead, to test this script without a GPU).
This is an outside peer for the GPU machine only; the project itself never needs Python.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

SHAPES = [(1024, 1024, 1024), (4096, 4096, 64), (64, 64, 16384), (4096, 4096, 4096)]
REDUCE_BYTES = 64 << 20


def write(path, doc):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


class Timer:
    """Times `fn` run `reps` times: CUDA events on a GPU, perf_counter on the CPU. Returns ms per run."""

    def __init__(self, torch, device):
        self.torch, self.cuda = torch, device.type == "cuda"

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def run(self, fn, reps):
        if self.cuda:
            start = self.torch.cuda.Event(enable_timing=True)
            end = self.torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(reps):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / reps
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t0) * 1e3 / reps


def measure(timer, fn, target_ms, trials):
    """Warm up, pick repetitions so one trial lasts about target_ms, return (median, min) ms per run."""
    fn()
    timer.sync()
    one = max(timer.run(fn, 1), 1e-3)
    one = max(min(one, timer.run(fn, 3)), 1e-3)  # the first run can include cuBLAS heuristics
    reps = int(min(max(target_ms / one, 3), 5000))
    fn()
    timer.sync()
    times = [timer.run(fn, reps) for _ in range(trials)]
    return statistics.median(times), min(times), reps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default="torch-gemm.json")
    ap.add_argument("--quick", action="store_true", help="shorter trials")
    ap.add_argument("--allow-cpu", action="store_true", help="run small sizes on the CPU without CUDA")
    args = ap.parse_args()
    doc = {"tool": "torch_gemm.py", "python": platform.python_version(), "host": platform.node()}

    try:
        import torch
    except Exception as e:  # ImportError, or a broken install
        doc["skipped"] = f"torch not importable: {e!r}"
        print(f"torch_gemm: {doc['skipped']}; writing {args.out}")
        write(args.out, doc)
        return 0
    doc["torch"] = torch.__version__
    doc["torch_cuda"] = torch.version.cuda
    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        doc["skipped"] = "torch.cuda.is_available() is False"
        print(f"torch_gemm: {doc['skipped']}; writing {args.out}")
        write(args.out, doc)
        return 0

    device = torch.device("cuda" if cuda else "cpu")
    shapes = SHAPES if cuda else [(128, 128, 128), (256, 256, 16), (16, 16, 2048)]
    reduce_bytes = REDUCE_BYTES if cuda else 4 << 20
    dtypes = [("f32", torch.float32, False), ("f32_tf32", torch.float32, True), ("f16", torch.float16, False)]
    if not cuda:
        dtypes = [d for d in dtypes if d[0] == "f32"]
    target_ms, trials = (20.0, 3) if args.quick else (60.0, 7)
    if cuda:
        p = torch.cuda.get_device_properties(device)
        doc["device"] = {
            "name": p.name,
            "capability": f"{p.major}.{p.minor}",
            "multiprocessors": p.multi_processor_count,
            "memory_gib": round(p.total_memory / 2**30, 1),
        }
        doc["fp16_reduced_precision_reduction"] = torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction
    else:
        doc["device"] = {"name": f"cpu ({platform.processor() or platform.machine()})", "threads": torch.get_num_threads()}
    print(f"torch_gemm: torch {torch.__version__} (CUDA {torch.version.cuda}) on {doc['device']['name']}")

    timer = Timer(torch, device)
    torch.manual_seed(0)
    results = []
    tf32_before = torch.backends.cuda.matmul.allow_tf32
    try:
        for m, n, k in shapes:
            for name, dt, tf32 in dtypes:
                torch.backends.cuda.matmul.allow_tf32 = tf32
                a = torch.randn(m, k, device=device, dtype=dt)
                b = torch.randn(k, n, device=device, dtype=dt)
                c = torch.empty(m, n, device=device, dtype=dt)
                med, best, reps = measure(timer, lambda: torch.mm(a, b, out=c), target_ms, trials)
                flop = 2.0 * m * n * k
                r = {"op": "gemm", "dtype": name, "m": m, "n": n, "k": k, "ms_median": med, "ms_min": best,
                     "reps": reps, "trials": trials, "gflops": flop / (med * 1e6), "gflops_best": flop / (best * 1e6)}
                results.append(r)
                print(f"  gemm {name:8s} {m:5d}x{n:5d}x{k:5d}: {r['gflops']:10.1f} GFLOP/s  ({med:.4f} ms, {reps} reps)")
                del a, b, c
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32_before

    x = torch.randn(reduce_bytes // 4, device=device, dtype=torch.float32)
    y = torch.empty_like(x)
    for op, fn, moved in [("sum", lambda: x.sum(), reduce_bytes),
                          ("copy", lambda: y.copy_(x), 2 * reduce_bytes)]:
        med, best, reps = measure(timer, fn, target_ms, trials)
        r = {"op": op, "dtype": "f32", "bytes": reduce_bytes, "bytes_moved": moved, "ms_median": med, "ms_min": best,
             "reps": reps, "trials": trials, "gbps": moved / (med * 1e6), "gbps_best": moved / (best * 1e6)}
        results.append(r)
        what = "bytes read" if op == "sum" else "bytes read + written"
        print(f"  {op:4s} f32 {reduce_bytes >> 20} MB: {r['gbps']:8.1f} GB/s ({what})  ({med:.4f} ms)")

    doc["results"] = results
    doc["notes"] = ("f32 = TF32 off; f32_tf32 = TF32 allowed (not comparable to WebGPU f32); "
                    "copy GB/s counts bytes read plus written; times are CUDA-event medians per call")
    write(args.out, doc)
    print(f"torch_gemm: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
