#!/usr/bin/env bash
# Trains the selection benchmark's models (docs/selection-benchmark.md) with `sglp train` on this machine,
# each small enough to train in minutes on two CPU cores (the bundled fmnist-resnet56 and fortunes-llama12
# are the benchmark's other two). A model whose run already finished is kept.
# Usage: bash bench/selection/train-models.sh DIR
set -euo pipefail
out=${1:?usage: train-models.sh DIR}
cli="node $(dirname "$0")/../../dist/cli.js"
fortunes=/usr/share/games/fortunes
mkdir -p "$out"
train() { # NAME ARGS...
  local name=$1; shift
  local state="$out/$name/train-state.json"
  if [ -f "$state" ] && node -e 'const s = require(process.argv[1]); process.exit(s.completedEpochs === s.settings.epochs ? 0 : 1)' "$state"; then
    echo "have $name" >&2; return
  fi
  # A run cut short goes on from its last epoch.
  local resume=(); [ -f "$state" ] && resume=(--resume)
  echo "training $name: $*" >&2
  local t0=$SECONDS
  $cli train "$@" "${resume[@]}" --out "$out/$name" --json > "$out/$name.json"
  echo "$name: $((SECONDS - t0)) s" >&2
}
train fmnist-resnet20-s1 --arch cifar-resnet --depth 20 --data fashion-mnist --limit 6000 --epochs 3 --batch 128 --lr 0.1 --seed 1
train text-llama8-computers --arch llama --layers 8 --hidden 64 --heads 4 --kv-heads 2 --intermediate 172 \
  --data text:$fortunes/computers --seq-len 128 --batch 16 --epochs 4 --lr 2e-3 --warmup 30 --seed 1
train fmnist-resnet32b-s2 --arch cifar-resnet --depth 32 --shortcut B --data fashion-mnist --limit 12000 --epochs 2 --batch 128 --lr 0.1 --seed 2 --no-augment
train text-llama10-songs --arch llama --layers 10 --hidden 48 --heads 4 --kv-heads 2 --intermediate 128 \
  --data text:$fortunes/songs-poems --seq-len 128 --batch 16 --epochs 4 --lr 2e-3 --warmup 30 --seed 2
train text-llama6-definitions --arch llama --layers 6 --hidden 64 --heads 4 --kv-heads 4 --intermediate 172 \
  --data text:$fortunes/definitions --seq-len 128 --batch 16 --epochs 4 --lr 2e-3 --warmup 30 --seed 3
train fmnist-resnet20-s3 --arch cifar-resnet --depth 20 --data fashion-mnist --limit 15000 --epochs 2 --batch 128 --lr 0.1 --seed 3 --no-augment
