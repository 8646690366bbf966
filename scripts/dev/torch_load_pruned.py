#!/usr/bin/python3
"""Dev check (not CI): PyTorch loads a model directory that `sglp prune` wrote and gets sglp's accuracy.

  /usr/bin/python3 scripts/dev/torch_load_pruned.py DIR [--limit 1000] [--data /usr/share/datasets/fashion-mnist]

Builds the CIFAR ResNet in PyTorch (akamaster/pytorch_resnet_cifar10 layout and key names; option-A shortcut
= x[:, :, ::2, ::2] zero-padded with planes // 4 channels each side, option B = 1x1 conv + BN) with the
per-stage block counts of DIR/config.json (`blocks`, else from `depth`), or for `"architecture": "vgg"` the
CIFAR VGG-BN as nn.Sequential(make_layers(config.layers, batch_norm=True)) + classifier nn.Sequential(Linear),
so that `features.N` is numbered by PyTorch itself, loads DIR/model.safetensors with
load_state_dict(strict=True), evaluates the first --limit Fashion-MNIST test images (ToTensor + Normalize
with the config's mean/std) and compares with `node dist/cli.js eval DIR --data fashion-mnist --json`
(run `npm run build` first). Exit status 1 when the strict load fails or the two disagree by more than
--tolerance in accuracy (eval folds BN into the convs, so a borderline image may flip) or 1e-3 in loss.

Needs Debian's python3-torch (+ libopenblas0-pthread); the `safetensors` module is used when present,
otherwise the small reader below.
"""

import argparse
import gzip
import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read_safetensors(path):
    """name -> torch tensor, for F32/F16/BF16/I64 (all sglp writes)."""
    try:
        from safetensors.torch import load_file  # type: ignore

        return load_file(path)
    except ImportError:
        pass
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[base + start : base + end]
        shape = info["shape"]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dt == "I64":
            a = np.frombuffer(raw, dtype="<i8")
        else:
            raise ValueError(f"{path}: tensor {name} has dtype {dt}, which this reader does not handle")
        out[name] = torch.from_numpy(a.copy().reshape(shape))
    return out


class CifarVgg(nn.Module):
    """features = make_layers(cfg, batch_norm=True) as torchvision numbers it; classifier.0 = Linear."""

    def __init__(self, layers, in_channels, num_classes, input_size):
        super().__init__()
        mods = []
        c = in_channels
        for v in layers:
            if v == "M":
                mods.append(nn.MaxPool2d(2, 2))
            else:
                mods += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*mods)
        h, w = input_size[1] // 32, input_size[2] // 32
        self.classifier = nn.Sequential(nn.Linear(c * h * w, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x).view(x.size(0), -1))


class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride, option):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            if option == "A":
                pad = planes // 4
                self.shortcut = LambdaLayer(
                    lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad), "constant", 0)
                )
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
                )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, blocks, in_channels, num_classes, option):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, blocks[0], 1, option)
        self.layer2 = self._stage(32, blocks[1], 2, option)
        self.layer3 = self._stage(64, blocks[2], 2, option)
        self.linear = nn.Linear(64, num_classes)

    def _stage(self, planes, count, stride, option):
        # A pruned stage may keep no block at all (akamaster's _make_layer would still build one).
        layers = []
        for i in range(count):
            layers.append(BasicBlock(self.in_planes, planes, stride if i == 0 else 1, option))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3]).view(out.size(0), -1)
        return self.linear(out)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="model directory written by sglp prune (config.json + model.safetensors)")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--limit", type=int, default=None, help="first N test images (default: all)")
    ap.add_argument("--tolerance", type=float, default=0.002, help="largest accuracy difference accepted")
    ap.add_argument("--no-node", action="store_true", help="PyTorch only, no comparison with sglp eval")
    args = ap.parse_args()
    torch.set_num_threads(2)

    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    arch = cfg.get("architecture")
    if arch == "vgg":
        if "layers" not in cfg:
            sys.exit(f"{args.model}/config.json: a vgg config without `layers` (sglp writes them)")
        model = CifarVgg(cfg["layers"], cfg["in_channels"], cfg["num_classes"], cfg["input_size"])
        what = f"vgg layers {cfg['layers']}"
    elif arch == "cifar-resnet":
        depth = cfg["depth"]
        blocks = cfg.get("blocks") or [(depth - 2) // 6] * 3
        option = cfg.get("shortcut", "A")
        model = CifarResNet(blocks, cfg["in_channels"], cfg["num_classes"], option)
        what = f"blocks {blocks}, option {option}"
    else:
        sys.exit(f"{args.model}/config.json: architecture {arch!r}, expected cifar-resnet or vgg")
    state = read_safetensors(os.path.join(args.model, "model.safetensors"))
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    print(
        f"torch {torch.__version__}: {what}; state_dict {len(expected)} keys, "
        f"file {len(state)} tensors; missing {missing}, unexpected {unexpected}, mis-shaped {shapes}"
    )
    model.load_state_dict(state, strict=True)
    print("load_state_dict(strict=True): OK")
    model.eval()

    split = "t10k"
    x = read_idx(os.path.join(args.data, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(args.data, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    if args.limit is not None:
        x, y = x[: args.limit], y[: args.limit]
    mean = torch.tensor(cfg["normalize"]["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(cfg["normalize"]["std"], dtype=torch.float32).view(1, -1, 1, 1)
    xt = torch.from_numpy(x.astype(np.float32)).view(len(x), cfg["in_channels"], x.shape[1], x.shape[2])
    xt = (xt / 255 - mean) / std
    yt = torch.from_numpy(y)
    correct = 0
    loss_sum = 0.0
    with torch.no_grad():
        for i in range(0, len(xt), 500):
            logits = model(xt[i : i + 500])
            correct += int((logits.argmax(1) == yt[i : i + 500]).sum())
            loss_sum += float(F.cross_entropy(logits.double(), yt[i : i + 500], reduction="sum"))
    torch_m = {"accuracy": correct / len(xt), "loss": loss_sum / len(xt), "samples": len(xt)}
    print(f"pytorch: {json.dumps(torch_m)}")
    if args.no_node:
        return
    cmd = ["node", os.path.join(REPO, "dist", "cli.js"), "eval", args.model, "--data", f"fashion-mnist:{args.data}", "--json"]
    if args.limit is not None:
        cmd += ["--limit", str(args.limit)]
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    print(f"sglp:    {json.dumps(ours)}   ({' '.join(cmd[1:])})")
    d_acc = abs(ours["accuracy"] - torch_m["accuracy"])
    d_loss = abs(ours["loss"] - torch_m["loss"])
    ok = ours["samples"] == torch_m["samples"] and d_acc <= args.tolerance and d_loss <= 1e-3
    print(f"|accuracy difference| {d_acc:.4g}, |loss difference| {d_loss:.3g}: {'OK' if ok else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
