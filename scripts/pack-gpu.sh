#!/usr/bin/env bash
# Prepares .gpu/ (git-ignored): everything `bash .gpu/gpu.sh` needs to run the benchmark on a bare
# x86-64 Linux machine with an NVIDIA GPU + driver but no network, no Node and maybe no Vulkan loader.
#
#   bash scripts/pack-gpu.sh [ENTRY]        ENTRY defaults to bench/run.ts
#
# Contents of .gpu/ (all small enough to travel; the script refuses to finish over PACK_LIMIT_MIB):
#   node.xz                   this machine's x86-64 node binary, xz-compressed
#   webgpu/                   package.json + index.js of the `webgpu` package (dawn.node travels apart)
#   dawn.node.xz              node_modules/webgpu/dist/linux-x64/dawn.node, xz-compressed
#   lib/*.xz                  libstdc++.so.6 + libgcc_s.so.1 from here, used there only if theirs is too old
#   deb/*.deb                 Debian's libvulkan1 (Vulkan loader) and the libglvnd libraries the NVIDIA
#                             Vulkan ICD needs (libGLdispatch, libGLX, libEGL, ...; without libEGL & co. its
#                             vk_icdGetInstanceProcAddr returned no vkCreateInstance on an H200), unpacked
#                             there into /tmp only if missing
#   bench.mjs                 ENTRY bundled by esbuild (shaders inlined, `webgpu` left external)
#   cli.mjs, gen-shapes.mjs, stream-shapes.mjs, dispatch.mjs   the CLI and the full job's other scripts
#   torch_gemm.py, gpu.sh     copies of bench/torch_gemm.py and bench/gpu.sh
#   MANIFEST                  versions, sizes and sha256 of everything above (gpu.sh checks the sha256s)
#
# Re-running is cheap: compressed files are rebuilt only when their source changed, the .deb files are
# downloaded only once. Env: NODE_BIN (node binary to pack, must be x86-64), XZ_THREADS (default 2),
# PACK_LIMIT_MIB (default 60).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ENTRY=${1:-bench/run.ts}
DEST=.gpu
LIMIT_MIB=${PACK_LIMIT_MIB:-60}
XZ_THREADS=${XZ_THREADS:-2}
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
ESBUILD=node_modules/.bin/esbuild

die() { echo "pack-gpu: $*" >&2; exit 1; }
say() { echo "pack-gpu: $*"; }

[ -f "$ENTRY" ] || die "benchmark entry '$ENTRY' not found (pass another entry as the first argument)"
[ -f "$DAWN" ] || die "$DAWN missing: run 'npm install' first"
[ -x "$ESBUILD" ] || die "$ESBUILD missing: run 'npm install' first"
for t in xz sha256sum; do command -v "$t" >/dev/null || die "'$t' is needed here (apt-get install xz-utils coreutils)"; done
[ -f bench/gpu.sh ] || die "bench/gpu.sh missing"
[ -f bench/torch_gemm.py ] || die "bench/torch_gemm.py missing"

NODE_BIN=$(readlink -f "${NODE_BIN:-$(command -v node || true)}")
[ -x "$NODE_BIN" ] || die "no node binary found (set NODE_BIN)"

# ELF e_machine at offset 18 (little-endian): 0x3e = x86-64. The GPU machine is x86-64.
is_x86_64() { [ "$(od -An -tx1 -j18 -N2 "$1" | tr -d ' \n')" = "3e00" ]; }
is_x86_64 "$NODE_BIN" || die "$NODE_BIN is not an x86-64 binary; set NODE_BIN to an x86-64 node (>= 20.19)"
is_x86_64 "$DAWN" || die "$DAWN is not x86-64"
NODE_VERSION=$("$NODE_BIN" --version)
[ -L "$DEST" ] && die "$DEST is a symlink; it must be a real folder to travel"
mkdir -p "$DEST/webgpu" "$DEST/deb" "$DEST/lib"

# xz-compress $1 to $2 unless $2 already holds the same source (recorded by sha256 in $2.src).
pack_xz() {
  local src=$1 dst=$2 sum
  sum=$(sha256sum "$src" | cut -d' ' -f1)
  if [ -f "$dst" ] && [ "$(cat "$dst.src" 2>/dev/null)" = "$sum" ]; then
    say "up to date: $dst"
    return
  fi
  say "compressing $src -> $dst (xz -9; about a minute for node)"
  xz -T"$XZ_THREADS" -9 -c "$src" >"$dst.tmp"
  mv "$dst.tmp" "$dst"
  echo "$sum" >"$dst.src"
}

pack_xz "$NODE_BIN" "$DEST/node.xz"
pack_xz "$DAWN" "$DEST/dawn.node.xz"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$DEST/webgpu/"

# Fallback C++ runtime: dawn.node needs GLIBCXX_3.4.30 (GCC 12+). gpu.sh uses these only when the
# machine's own libstdc++ cannot load dawn.node. glibc itself cannot travel (dawn.node needs >= 2.34).
for lib in libstdc++.so.6 libgcc_s.so.1; do
  path=$(ldd "$DAWN" | awk -v l="$lib" '$1 == l { print $3 }')
  [ -n "$path" ] && [ -f "$path" ] || die "cannot find $lib in 'ldd $DAWN'"
  pack_xz "$(readlink -f "$path")" "$DEST/lib/$lib.xz"
done

# Debian's Vulkan loader and libglvnd (amd64), downloaded once.
need_debs=()
for pkg in libvulkan1 libglvnd0 libglx0 libegl1 libopengl0 libgl1 libgles2; do
  compgen -G "$DEST/deb/${pkg}_*_amd64.deb" >/dev/null || need_debs+=("$pkg")
done
if [ ${#need_debs[@]} -gt 0 ]; then
  tmp=$(mktemp -d)
  o=()
  [ "$(id -u)" = 0 ] && o+=(-oAPT::Sandbox::User=root) # root: no _apt sandbox warning about $tmp
  if [ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ]; then
    (cd "$tmp" && apt-get "${o[@]}" download "${need_debs[@]}")
  else
    # Non-amd64 host: fetch the amd64 packages through a private package list (device README recipe).
    mkdir -p "$tmp/lists/partial"
    o+=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$tmp/lists")
    apt-get "${o[@]}" update >/dev/null
    (cd "$tmp" && apt-get "${o[@]}" download "${need_debs[@]}")
  fi || die "apt-get download ${need_debs[*]} failed (network?)"
  mv "$tmp"/*.deb "$DEST/deb/"
  rm -rf "$tmp"
fi

# The bundles: the benchmark, and the CLI (`SGLP_GPU_JOB=cli` runs it there, e.g. to train). The banner
# gives bundled CommonJS code a real `require` for Node built-ins.
bundle() {
  local entry=$1 outfile=$2 meta
  say "bundling $entry -> $outfile"
  meta=$(mktemp)
  "$ESBUILD" "$entry" --bundle --platform=node --format=esm --target=node20 --loader:.wgsl=text \
    --external:webgpu --log-level=warning --metafile="$meta" --outfile="$outfile" \
    "--banner:js=import { createRequire as __sglpCreateRequire } from 'node:module'; const require = __sglpCreateRequire(import.meta.url);"
  # Anything external other than Node built-ins and webgpu would be missing on the GPU machine, except
  # node-fetch's optional require('encoding') (inside try/catch, reached by tfjs-core's Node platform).
  "$NODE_BIN" -e '
    const { builtinModules } = require("node:module");
    const meta = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const bad = new Set();
    for (const out of Object.values(meta.outputs))
      for (const imp of out.imports ?? [])
        if (imp.external && !["webgpu", "encoding"].includes(imp.path) && !imp.path.startsWith("node:") && !builtinModules.includes(imp.path))
          bad.add(imp.path);
    if (bad.size) { console.error("pack-gpu: bundle imports packages that will not exist there: " + [...bad].join(", ")); process.exit(1); }
  ' "$meta"
  rm -f "$meta"
}
bundle "$ENTRY" "$DEST/bench.mjs"
bundle src/cli/main.ts "$DEST/cli.mjs"
# SGLP_GPU_JOB=full: the real-shape generator and the streamed-stage timer (issue 16).
bundle bench/gen-shapes.ts "$DEST/gen-shapes.mjs"
bundle bench/stream-shapes.ts "$DEST/stream-shapes.mjs"
# Issue 16 item 3: dispatches, submits and JS time per LLaMA-layer step.
bundle bench/dispatch-overhead.ts "$DEST/dispatch.mjs"

cp bench/torch_gemm.py bench/torch_llama.py bench/gpu.sh "$DEST/"
# Its data: a small English corpus for the language-model steps and Fashion-MNIST for the ResNet-56 prune
# (.gpu-data/ is git-ignored and carried next to .gpu/).
CORPUS=${CORPUS:-/usr/share/games/fortunes/cookie}
[ -f "$CORPUS" ] && cp "$CORPUS" "$DEST/cookie.txt" || say "no $CORPUS: the full job's LLM steps need $DEST/cookie.txt"
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
if [ -d "$FMNIST" ]; then
  # The test split whole; the train split cut to its first 8,192 images (the default protocol reads the
  # first 2,500), so that the carried tree stays under the device's 64 MiB (the whole set is 30 MiB).
  mkdir -p .gpu-data/fashion-mnist
  cp -u "$FMNIST"/t10k-*-ubyte* .gpu-data/fashion-mnist/
  "$NODE_BIN" -e '
    const fs = require("node:fs"), zlib = require("node:zlib"), [src, dst, n] = process.argv.slice(1);
    for (const [f, item] of [["train-images-idx3-ubyte", 784], ["train-labels-idx1-ubyte", 1]]) {
      const raw = zlib.gunzipSync(fs.readFileSync(`${src}/${f}.gz`));
      const head = raw[3] === 3 ? 16 : 8;
      const out = Buffer.from(raw.subarray(0, head + Number(n) * item));
      out.writeUInt32BE(Number(n), 4);
      fs.writeFileSync(`${dst}/${f}.gz`, zlib.gzipSync(out, { level: 9 }));
    }' "$FMNIST" .gpu-data/fashion-mnist 8192
  du -sh .gpu-data
else
  say "no $FMNIST: the full job skips the ResNet-56 prune"
fi
chmod +x "$DEST/gpu.sh"

# Manifest: what was packed, and sha256 of the uncompressed payloads for gpu.sh to verify.
{
  echo "packed: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
  echo "entry: $ENTRY"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo none)$(git diff --quiet HEAD 2>/dev/null || echo ' (uncommitted changes)')"
  echo "node: $NODE_VERSION ($NODE_BIN)"
  echo "webgpu: $("$NODE_BIN" -p 'require("./node_modules/webgpu/package.json").version')"
  for f in "$DEST"/deb/*.deb; do echo "deb: $(basename "$f")"; done
  echo "sha256 node $(cat "$DEST/node.xz.src")"
  echo "sha256 dawn.node $(cat "$DEST/dawn.node.xz.src")"
  for lib in libstdc++.so.6 libgcc_s.so.1; do echo "sha256 $lib $(cat "$DEST/lib/$lib.xz.src")"; done
} >"$DEST/MANIFEST"

# Drop leftovers of earlier layouts, then report sizes.
find "$DEST" -name '*.tmp' -delete
echo
du -ab "$DEST" | sort -k2 | awk '{ printf "%10.2f MiB  %s\n", $1 / 1048576, $2 }'
total=$(du -sb "$DEST" | cut -f1)
tree_bytes=$(git ls-files -z -co --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
awk -v d="$DEST" -v a="$total" -v b="${tree_bytes:-0}" 'BEGIN {
  printf "pack-gpu: %s is %.1f MiB; with the rest of the working tree that travels, about %.1f MiB (limit 64)\n",
    d, a / 1048576, (a + b) / 1048576 }'
[ "$total" -le $((LIMIT_MIB * 1048576)) ] || die "$DEST is over $LIMIT_MIB MiB"
say "ready: on the GPU machine run 'bash .gpu/gpu.sh' (or 'SGLP_GPU_JOB=full bash .gpu/gpu.sh') from the repo root, with .gpu and .gpu-data carried"
