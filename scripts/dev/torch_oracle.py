#!/usr/bin/python3
"""Dev-only PyTorch oracle for sglp: trains a CIFAR-style ResNet in PyTorch, saves it in our model-directory
format, and checks that sglp gives PyTorch's logits, predictions, accuracy and loss on the same images.

Never needed by the tests, CI or set-up (they use the committed fixture this script writes with
--fixture). Needs Debian's python3-torch (and libopenblas0-pthread) and a built dist/ (`npm run build`).

  /usr/bin/python3 scripts/dev/torch_oracle.py resnet --depth 56 --out /tmp/torch-r56
      train briefly (a subset for one epoch), save, evaluate in PyTorch on the whole test set, then
      `node dist/cli.js eval DIR --data fashion-mnist --json` and scripts/dev/sglp_logits.mjs, and compare
  /usr/bin/python3 scripts/dev/torch_oracle.py resnet --depth 20 --fixture test/fixtures/torch-resnet20
      the CI fixture: the model plus PyTorch's logits of the first 64 test images and its predictions,
      accuracy and loss on the first 1000 (test/nn/torch-oracle.test.ts checks sglp against them)
  /usr/bin/python3 scripts/dev/torch_oracle.py random --arch resnet18|vgg16_bn --out DIR
      a randomly initialised torchvision ResNet-18 or CIFAR VGG-16-BN: logits of one batch in both engines

The network is the usual CIFAR ResNet (akamaster/pytorch_resnet_cifar10 layout and key names; option-A
shortcut = x[:, :, ::2, ::2] zero-padded with planes // 4 channels each side). The safetensors file is
written by hand (the `safetensors` module is not in Debian) with exactly state_dict()'s keys,
num_batches_tracked included, in the reference writer's order (dtype alignment, then name).
"""

import argparse
import gzip
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FMNIST = "/usr/share/datasets/fashion-mnist"
# The bundled model's normalisation, so the oracle runs exactly what our config format describes.
with open(os.path.join(REPO, "models", "fmnist-resnet56", "config.json")) as f:
    NORMALIZE = json.load(f)["normalize"]


def log(msg):
    print(f"[oracle {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(FMNIST, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FMNIST, f"{prefix}-labels-idx1-ubyte.gz"))
    return images, labels.astype(np.int64)


def normalise(images):
    """As torchvision's ToTensor + Normalize, in float32: (p / 255 - mean) / std."""
    x = torch.from_numpy(images.copy()).float().div(255).unsqueeze(1)
    mean = torch.tensor(NORMALIZE["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(NORMALIZE["std"], dtype=torch.float32).view(1, -1, 1, 1)
    return x.sub(mean).div(std)


# ---------------------------------------------------------------- model (akamaster layout)


class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            pad = planes // 4
            self.shortcut = LambdaLayer(
                lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad), "constant", 0)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth, in_channels=1, num_classes=10):
        super().__init__()
        if (depth - 2) % 6 != 0:
            raise ValueError(f"depth must be 6n + 2, got {depth}")
        n = (depth - 2) // 6
        self.in_planes = 16
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, n, 1)
        self.layer2 = self._stage(32, n, 2)
        self.layer3 = self._stage(64, n, 2)
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def _stage(self, planes, blocks, stride):
        layers = []
        for s in [stride] + [1] * (blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return self.linear(out.view(out.size(0), -1))


# ---------------------------------------------------------------- safetensors, written by hand

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64"}
# The reference writer's order: larger alignment first, then name.
RANK = {"I64": 2, "F32": 1, "F16": 0}


def save_safetensors(state, path):
    entries = []
    for key, t in state.items():
        if t.dtype not in DTYPES:
            raise ValueError(f"{key}: dtype {t.dtype} not handled")
        entries.append((key, DTYPES[t.dtype], t.detach().cpu().contiguous()))
    entries.sort(key=lambda e: (-RANK[e[1]], e[0]))
    header, blobs, offset = {}, [], 0
    for key, dtype, t in entries:
        blob = t.numpy().tobytes()  # little-endian on this machine
        header[key] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = {"format": "pt"}
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def write_json(obj, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def save_model(model, config, out):
    os.makedirs(out, exist_ok=True)
    save_safetensors(model.state_dict(), os.path.join(out, "model.safetensors"))
    write_json(config, os.path.join(out, "config.json"))


def cifar_config(depth):
    return {
        "architecture": "cifar-resnet",
        "depth": depth,
        "shortcut": "A",
        "in_channels": 1,
        "num_classes": 10,
        "input_size": [1, 28, 28],
        "normalize": NORMALIZE,
    }


# ---------------------------------------------------------------- train and evaluate in PyTorch


def train(model, samples, batch, lr, seed, budget_s, steps=None):
    """SGD with momentum, linear warm-up then cosine decay. The step count is cut to what fits `budget_s`
    once the first steps are timed, and the schedule is stretched over that count (so it still ends at 0).
    `steps` fixes the count instead (to repeat a run exactly: the report gives the count it used)."""
    images, labels = fashion_mnist("train")
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=g)[:samples].numpy()
    x_all, y_all = normalise(images[order]), torch.from_numpy(labels[order])
    total = steps or math.ceil(samples / batch)
    if total * batch > samples:
        raise ValueError(f"{total} steps of {batch} need {total * batch} train samples, got {samples}")
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    model.train()
    t0 = time.time()
    step = 0
    while step < total:
        if step == 3 and not steps:
            per = (time.time() - t0) / 3
            if per * total > budget_s:
                total = max(4, int(budget_s / per))
                log(f"{per:.1f} s per step: cut to {total} steps to fit {budget_s:.0f} s")
        warm = max(1, total // 10)
        f = (step + 1) / warm if step < warm else 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))
        for group in opt.param_groups:
            group["lr"] = lr * f
        xb = x_all[step * batch : (step + 1) * batch]
        yb = y_all[step * batch : (step + 1) * batch]
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 5 == 0 or step == total:
            log(f"train step {step}/{total} loss {loss.item():.4f} lr {lr * f:.4f} ({time.time() - t0:.0f} s)")
    return {"samples_seen": min(samples, step * batch), "steps": step, "seconds": time.time() - t0}


@torch.no_grad()
def logits_of(model, x, batch=500):
    model.eval()
    return torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])


def metrics(logits, labels):
    """Accuracy (first maximum wins) and mean cross-entropy, the sums in float64 as sglp's evaluator does."""
    per = F.cross_entropy(logits, labels, reduction="none").double()
    preds = logits.argmax(1)
    return {
        "accuracy": (preds == labels).double().mean().item(),
        "loss": per.sum().item() / len(labels),
        "samples": len(labels),
    }, preds


def top2_gap(logits):
    top = logits.topk(2, dim=1).values
    return (top[:, 0] - top[:, 1]).min().item()


# ---------------------------------------------------------------- sglp side


def sglp_eval(model_dir, limit=None):
    cmd = ["node", "dist/cli.js", "eval", model_dir, "--data", "fashion-mnist", "--json"]
    if limit:
        cmd += ["--limit", str(limit)]
    log(" ".join(cmd))
    t0 = time.time()
    out = subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.PIPE, text=True).stdout
    log(f"sglp eval took {time.time() - t0:.0f} s")
    return json.loads(out)


def sglp_logits(model_dir, limit, inputs=None):
    """Logits from scripts/dev/sglp_logits.mjs (the eval path: BN folded), [limit, classes] float32."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "logits.f32")
        cmd = ["node", "scripts/dev/sglp_logits.mjs", model_dir, "--out", out]
        if inputs is not None:
            path = os.path.join(tmp, "inputs.f32")
            inputs.numpy().astype("<f4").tofile(path)
            cmd += ["--inputs", path, "--n", str(len(inputs))]
        else:
            cmd += ["--limit", str(limit)]
        log(" ".join(cmd))
        subprocess.run(cmd, cwd=REPO, check=True)
        return torch.from_numpy(np.fromfile(out, dtype="<f4").copy())


def compare_logits(ours, ref):
    """Max |ours - ref| over the largest |ref| of each row (row-relative), and elementwise with a 1e-3 floor."""
    diff = (ours - ref).abs()
    row_scale = ref.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
    return {
        "max_abs": diff.max().item(),
        "max_rel_to_row_max": (diff / row_scale).max().item(),
        "max_rel_elementwise": (diff / ref.abs().clamp_min(1e-3)).max().item(),
    }


# ---------------------------------------------------------------- commands


def cmd_resnet(args):
    torch.manual_seed(args.seed)
    model = CifarResNet(args.depth)
    info = train(model, args.train_samples, args.batch, args.lr, args.seed, args.budget, args.steps)
    config = cifar_config(args.depth)
    out = args.fixture or args.out
    save_model(model, config, out)
    log(f"saved {out} ({os.path.getsize(os.path.join(out, 'model.safetensors'))} bytes)")
    images, labels = fashion_mnist("test")
    x, y = normalise(images), torch.from_numpy(labels)
    limit = 1000 if args.fixture else len(y)
    t0 = time.time()
    ref_logits = logits_of(model, x[:limit])
    ref, ref_preds = metrics(ref_logits, y[:limit])
    log(f"PyTorch eval of {limit} test images: {ref} ({time.time() - t0:.1f} s)")
    trained = (
        f"PyTorch {torch.__version__}, {info['steps']} SGD steps of batch {args.batch} "
        f"({info['samples_seen']} random train images, seed {args.seed}, warm-up + cosine, peak lr {args.lr}, "
        f"{info['seconds']:.0f} s on {args.threads} shared CPU threads)"
    )
    if args.fixture:
        write_json(
            {
                "madeBy": f"/usr/bin/python3 scripts/dev/torch_oracle.py resnet --depth {args.depth} "
                f"--fixture {args.fixture} --train-samples {args.train_samples} --batch {args.batch} "
                f"--lr {args.lr} --seed {args.seed} --steps {info['steps']}",
                "trained": trained,
                "data": "fashion-mnist test split (t10k), file order",
                "first1000": ref,
                "predictionsFirst1000": ref_preds.tolist(),
                "minTop2GapFirst1000": top2_gap(ref_logits),
                "logitsFirst64": [[float(v) for v in row] for row in ref_logits[:64]],
            },
            os.path.join(out, "torch-reference.json"),
        )
        log("wrote the fixture; format it: npx biome format --write " + out)
        return
    ours = sglp_eval(out)
    our_logits = sglp_logits(out, limit).view(limit, -1)
    _, our_preds = metrics(our_logits, y)
    mismatch = (our_preds != ref_preds).nonzero().flatten().tolist()
    report = {
        "model": out,
        "trained": trained,
        "pytorch": ref,
        "sglp_eval_cli": ours,
        "accuracy_equal": ours["accuracy"] == ref["accuracy"],
        "loss_abs_diff": abs(ours["loss"] - ref["loss"]),
        "prediction_mismatches": len(mismatch),
        "mismatched_images": mismatch[:20],
        "min_top2_gap_pytorch": top2_gap(ref_logits),
        "logits_all": compare_logits(our_logits, ref_logits),
        "logits_first_batch_64": compare_logits(our_logits[:64], ref_logits[:64]),
    }
    print(json.dumps(report, indent=2))


def cmd_random(args):
    """Random-init torchvision ResNet-18 / CIFAR VGG-16-BN, eval-mode logits of one batch in both engines."""
    import torchvision

    torch.manual_seed(args.seed)
    if args.arch == "resnet18":
        model = torchvision.models.resnet18(num_classes=args.classes)
        size = args.size or 64
        config = {"architecture": "resnet", "depth": 18, "in_channels": 3, "num_classes": args.classes}
    else:
        from torchvision.models.vgg import cfgs, make_layers

        class CifarVgg(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = make_layers(cfgs["D"], batch_norm=True)
                # nn.Sequential: keys classifier.0.*, our config's default VGG classifier.
                self.classifier = nn.Sequential(nn.Linear(512, args.classes))

            def forward(self, x):
                return self.classifier(torch.flatten(self.features(x), 1))

        model = CifarVgg()
        size = args.size or 32
        config = {"architecture": "vgg", "depth": 16, "batch_norm": True, "in_channels": 3,
                  "num_classes": args.classes}
    config["input_size"] = [3, size, size]
    config["normalize"] = {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    # Non-trivial BN statistics, so eval mode is not the identity.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    save_model(model, config, args.out)
    x = torch.randn(args.n, 3, size, size)
    ref = logits_of(model, x)
    ours = sglp_logits(args.out, None, inputs=x).view(args.n, -1)
    print(json.dumps({"arch": args.arch, "input": [args.n, 3, size, size], **compare_logits(ours, ref),
                      "predictions_equal": bool((ours.argmax(1) == ref.argmax(1)).all())}, indent=2))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("resnet", help="train a CIFAR ResNet on Fashion-MNIST and compare")
    r.add_argument("--depth", type=int, default=56)
    where = r.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="model directory to write, then compare on the whole test set")
    where.add_argument("--fixture", help="write the CI fixture (model + PyTorch's reference numbers)")
    r.add_argument("--train-samples", type=int, default=12800)
    r.add_argument("--batch", type=int, default=128)
    r.add_argument("--lr", type=float, default=0.1)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--budget", type=float, default=300, help="fit training into about this many seconds")
    r.add_argument("--steps", type=int, help="exactly this many SGD steps (no time budget)")
    r.add_argument("--threads", type=int, default=1, help="more than 1 crawls when the cores are shared")
    q = sub.add_parser("random", help="random-init torchvision ResNet-18 or CIFAR VGG-16-BN, logits")
    q.add_argument("--arch", choices=["resnet18", "vgg16_bn"], required=True)
    q.add_argument("--out", required=True)
    q.add_argument("--n", type=int, default=8)
    q.add_argument("--size", type=int)
    q.add_argument("--classes", type=int, default=10)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    {"resnet": cmd_resnet, "random": cmd_random}[args.cmd](args)


if __name__ == "__main__":
    main()
