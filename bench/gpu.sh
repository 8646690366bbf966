#!/usr/bin/env bash
# Runs the sglp WebGPU benchmark, plus a PyTorch GEMM peer, on a bare x86-64 Linux machine with an
# NVIDIA GPU and driver but no network, no Node and maybe no Vulkan loader. Everything it needs comes
# from .gpu/, prepared by `bash scripts/pack-gpu.sh` (which copies this file to .gpu/gpu.sh).
#
#   bash .gpu/gpu.sh [extra benchmark args, e.g. --quick]        (from the repo root)
#   SGLP_GPU_JOB=full bash .gpu/gpu.sh        the whole GPU job of issue 16 in one call (below)
#   SGLP_GPU_JOB=cli bash .gpu/gpu.sh ARGS    any sglp command
#
# Writes $OUT/sglp-bench.json, $OUT/torch-gemm.json and $OUT/gpu.log; OUT defaults to ./gpu-results.
# SGLP_GPU_JOB=full (default budget 570 s) runs, each step under its own time limit:
#   1. `sglp bench` (kernels, ResNet and LLaMA-layer rows, fraction of peak)     -> $OUT/sglp-bench.json
#      then the kernel families side by side, lavapipe-tuned (plain) vs workgroup-memory (tiled GEMM,
#      flash attention), f32 and f16 (bench.mjs --only gemm,attention --quick: 0.3 s of samples per row)
#                                                                                 -> $OUT/kernel-variants.json
#      and the dispatch overhead of a LLaMA layer step (dispatch.mjs)            -> $OUT/dispatch-overhead.json
#   2. `sglp prune` of models/fmnist-resnet56, default protocol, --remove 14 (stage times in the report's
#      timings; needs .gpu-data/fashion-mnist, which pack-gpu.sh fills)       -> $OUT/resnet56-prune.json
#   3. the Llama-3.2-1B-shaped model generated under $SGLP_GPU_TMP (gen-shapes.mjs, 2.5 GB BF16), then
#      streamed: CKA, loss and one GradNorm candidate (stream-shapes.mjs) under SGLP_GPU_MEMORY_CAP
#      (default 4e9 bytes)                                                       -> $OUT/stream-llama-3.2-1b.json
#      and `sglp cka` loaded vs --stream on it, compared                         -> $OUT/cka-1b-*.json
#   4. PyTorch f32 peers: torch_gemm.py and torch_llama.py (same layers, SDPA)  -> $OUT/torch-*.json
# SGLP_GPU_QUICK=1 shrinks every step (bench --quick, tiny shapes, a reduced prune) to try the job here.
# Exits non-zero when the WebGPU benchmark fails (the torch peer still runs). Never calls a system
# `node`, never writes outside $OUT and $SGLP_GPU_TMP, never installs into /.
# Whole run stays under SGLP_GPU_TOTAL_S seconds (default 330) plus a few seconds of kill grace.
#
# Env knobs: SGLP_GPU_TMP (scratch, default /tmp/sglp-gpu), SGLP_GPU_TOTAL_S, SGLP_GPU_FORCE_LOADER=1
# (use the packed Vulkan loader even if one is installed), SGLP_GPU_NO_XZ=1 (decompress with python3's
# lzma), SGLP_GPU_SKIP_TORCH=1.
set -uo pipefail

PACK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd) || { echo "gpu.sh: cannot create OUT=$OUT" >&2; exit 2; }
RT=${SGLP_GPU_TMP:-/tmp/sglp-gpu}
JOB=${SGLP_GPU_JOB:-bench}
if [ "$JOB" = full ]; then TOTAL_S=${SGLP_GPU_TOTAL_S:-570}; else TOTAL_S=${SGLP_GPU_TOTAL_S:-330}; fi
QUICK=${SGLP_GPU_QUICK:-}
REPO=$(cd "$PACK/.." && pwd)
TORCH_RESERVE_S=80 # kept free for the torch peer while the WebGPU benchmark runs
START=$SECONDS

section() { printf '\n=== %s  [t=%ds]\n' "$*" $((SECONDS - START)); }
left() { echo $((TOTAL_S - (SECONDS - START))); }
# budget CAP [RESERVE]: seconds a step may take, at most CAP, leaving RESERVE of the total; >= 5.
budget() {
  local t=$(($(left) - ${2:-0}))
  [ "$t" -gt "$1" ] && t=$1
  [ "$t" -lt 5 ] && t=5
  echo "$t"
}
have() { command -v "$1" >/dev/null 2>&1; }
LDCONFIG=$(command -v ldconfig || echo /sbin/ldconfig)
in_ldcache() { "$LDCONFIG" -p 2>/dev/null | grep -qF "$1"; }

# xz-decompress $1 to $2: xz if present, else python3's lzma.
unxz_to() {
  if [ -z "${SGLP_GPU_NO_XZ:-}" ] && have xz; then
    UNXZ_TOOL=xz
    timeout 120 xz -dc "$1" >"$2"
  elif have python3; then
    UNXZ_TOOL="python3 lzma"
    timeout 120 python3 -c 'import lzma, shutil, sys
with lzma.open(sys.argv[1]) as f, open(sys.argv[2], "wb") as g: shutil.copyfileobj(f, g, 1 << 20)' "$1" "$2"
  else
    echo "gpu.sh: neither xz nor python3 is available to decompress $1" >&2
    return 1
  fi
}

# Unpack $1.xz to $2 and check it against MANIFEST's sha256 for name $3.
unpack() {
  local src=$1 dst=$2 name=$3 want got
  mkdir -p "$(dirname "$dst")"
  unxz_to "$src" "$dst" || return 1
  want=$(awk -v n="$name" '$1 == "sha256" && $2 == n { print $3 }' "$PACK/MANIFEST")
  if [ -n "$want" ] && have sha256sum; then
    got=$(sha256sum "$dst" | cut -d' ' -f1)
    [ "$got" = "$want" ] || { echo "gpu.sh: $name: sha256 mismatch after unpacking" >&2; return 1; }
  fi
  echo "unpacked $name -> $dst ($(du -h "$dst" | cut -f1), with $UNXZ_TOOL)"
}

# Extract a .deb into $2 (dpkg-deb if present, else a small ar + tar reader in python3).
deb_extract() {
  mkdir -p "$2"
  if have dpkg-deb; then
    dpkg-deb -x "$1" "$2"
  else
    echo "(no dpkg-deb: extracting $(basename "$1") with python3)"
    python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"!<arch>\n", "not a .deb"
pos = 8
while pos < len(data):
    hdr = data[pos:pos + 60]
    name, size = hdr[:16].decode().strip().rstrip("/"), int(hdr[48:58])
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        tar = tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
        kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(sys.argv[2], **kw)
        break
else:
    sys.exit("no data.tar in " + sys.argv[1])
PY
  fi
}

# One step of the full job: step NAME CAP RESERVE CMD...: runs CMD under `budget CAP RESERVE`, logs its
# exit code and wall time, and never stops the job (the next steps still run). Sets STEP_RC.
step() {
  local name=$1 cap=$2 reserve=$3 t s
  shift 3
  t=$(budget "$cap" "$reserve")
  section "$name (limit ${t}s)"
  echo "+ $*"
  s=$SECONDS
  timeout -k 10 "$t" "$@"
  STEP_RC=$?
  [ "$STEP_RC" = 124 ] && echo "$name: TIMED OUT after ${t}s"
  echo "$name: exit code $STEP_RC, $((SECONDS - s)) s"
}

# Issue 16's GPU job (see the top of this file). Uses NODEENV, NODE, RT from main. Returns non-zero when
# the benchmark step failed; the other steps report in the log and their JSON.
full_job() {
  local rc=0 data=$REPO/.gpu-data/fashion-mnist text=$PACK/cookie.txt shape=llama-3.2-1b
  local cap=${SGLP_GPU_MEMORY_CAP:-4000000000}
  local -a benchq=() pruneq=() genq=() streamq=() ckaq=()
  if [ -n "$QUICK" ]; then
    benchq=(--quick --only gemm,sum,attention,llama)
    pruneq=(--samples 64 --batch 32 --gradnorm-batches 1 --gradnorm-batch-size 8 --max-exhaustive 4 --eval-limit 64)
    genq=(--tiny)
    streamq=(--windows 4 --batch 2 --gradnorm-batch-size 2)
    ckaq=(--samples 4 --batch 2)
  fi
  local -a node=("${NODEENV[@]}" "$NODE")
  step "sglp bench" 150 300 "${node[@]}" "$RT/cli.mjs" bench --out "$OUT/sglp-bench.json" "${benchq[@]}"
  rc=$STEP_RC
  step "kernel families: plain vs tiled GEMM, plain vs flash attention" 100 300 "${node[@]}" "$RT/bench.mjs" \
    --only gemm,attention --no-peer --quick --json "$OUT/kernel-variants.json"
  if [ -f "$RT/dispatch.mjs" ]; then
    step "dispatch overhead (LLaMA layer step)" 30 300 "${node[@]}" "$RT/dispatch.mjs" --json "$OUT/dispatch-overhead.json"
  fi
  if [ -f "$data/train-images-idx3-ubyte.gz" ] || [ -f "$data/train-images-idx3-ubyte" ]; then
    step "SGLP prune, ResNet-56 (stage times)" 120 200 "${node[@]}" "$RT/cli.mjs" prune "$REPO/models/fmnist-resnet56" \
      --data "fashion-mnist:$data" --remove 14 --out "$RT/resnet56-pruned" --json "${pruneq[@]}" >"$OUT/resnet56-prune.json"
  else
    section "SGLP prune, ResNet-56: skipped (no $data; run pack-gpu.sh where Fashion-MNIST is installed)"
  fi
  step "generate the $shape-shaped model" 90 150 "${node[@]}" "$RT/gen-shapes.mjs" --shape "$shape" \
    --out "$RT/$shape" --json "${genq[@]}"
  if [ "$STEP_RC" = 0 ]; then
    df -h "$RT" | tail -n 1
    step "streamed CKA, loss, one GradNorm candidate ($shape)" 150 120 "${node[@]}" "$RT/stream-shapes.mjs" \
      --model "$RT/$shape" --data "text:$text" --memory-cap "$cap" --host-states --head-rows 128 \
      --json "$OUT/stream-$shape.json" "${streamq[@]}"
    step "sglp cka, loaded ($shape)" 60 60 "${node[@]}" "$RT/cli.mjs" cka "$RT/$shape" --data "text:$text" \
      --out "$OUT/cka-1b-loaded.json" "${ckaq[@]}"
    step "sglp cka --stream --memory-cap $cap ($shape)" 60 60 "${node[@]}" "$RT/cli.mjs" cka "$RT/$shape" \
      --data "text:$text" --stream --memory-cap "$cap" --out "$OUT/cka-1b-stream.json" "${ckaq[@]}"
    "${node[@]}" -e 'const [a, b] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
      let d = 0; a.matrix.forEach((r, i) => r.forEach((v, j) => { d = Math.max(d, Math.abs(v - b.matrix[i][j])); }));
      console.log(`cka loaded vs streamed: max |difference| ${d}`);' "$OUT/cka-1b-loaded.json" "$OUT/cka-1b-stream.json" ||
      echo "cka comparison: not available (a step failed)"
    rm -rf "${RT:?}/$shape"
  fi
  return "$rc"
}

main() {
  local bench_rc=1 torch_rc=0
  section "sglp GPU benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  [ -f "$PACK/node.xz" ] && [ -f "$PACK/MANIFEST" ] ||
    { echo "gpu.sh: $PACK lacks node.xz/MANIFEST: run 'bash scripts/pack-gpu.sh' first and carry .gpu"; return 2; }
  echo "host: $(uname -srm); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"); $(nproc) cpus;" \
    "$(getconf GNU_LIBC_VERSION 2>/dev/null)"
  echo "OUT=$OUT  scratch=$RT  budget=${TOTAL_S}s"
  sed 's/^/pack: /' "$PACK/MANIFEST"
  if have nvidia-smi; then
    timeout 30 nvidia-smi -L
    timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  else
    echo "nvidia-smi: not found (no NVIDIA driver tools on PATH)"
  fi

  section "unpack node + dawn.node"
  if [ -e "$RT" ] && [ ! -e "$RT/.sglp-gpu" ]; then RT=$(mktemp -d /tmp/sglp-gpu.XXXXXX); fi
  rm -rf "$RT" && mkdir -p "$RT" && touch "$RT/.sglp-gpu"
  local NODE=$RT/bin/node DAWN=$RT/node_modules/webgpu/dist/linux-x64/dawn.node LDP=""
  if ! { unpack "$PACK/node.xz" "$NODE" node && unpack "$PACK/dawn.node.xz" "$DAWN" dawn.node; }; then
    echo "FATAL: could not unpack node/dawn.node"
    bench_rc=2
  else
    chmod +x "$NODE"
    cp "$PACK/webgpu/package.json" "$PACK/webgpu/index.js" "$RT/node_modules/webgpu/"
    # The bundle goes next to node_modules/ so that `import 'webgpu'` resolves to the copy above.
    cp "$PACK/bench.mjs" "$RT/bench.mjs"
    for f in cli.mjs gen-shapes.mjs stream-shapes.mjs dispatch.mjs; do [ -f "$PACK/$f" ] && cp "$PACK/$f" "$RT/$f"; done

    # node needs GLIBCXX_3.4.21, dawn.node GLIBCXX_3.4.30 and glibc >= 2.34. If the machine's
    # libstdc++ is too old, use the packed one (glibc cannot be replaced this way).
    if ! "$NODE" -e 'process.dlopen({ exports: {} }, process.argv[1])' "$DAWN" 2>"$RT/dlopen.err"; then
      echo "node/dawn.node do not load with the system C++ runtime:"
      sed 's/^/  /' "$RT/dlopen.err" | head -n 5
      echo "retrying with the packed libstdc++.so.6 / libgcc_s.so.1"
      unpack "$PACK/lib/libstdc++.so.6.xz" "$RT/lib/libstdc++.so.6" libstdc++.so.6
      unpack "$PACK/lib/libgcc_s.so.1.xz" "$RT/lib/libgcc_s.so.1" libgcc_s.so.1
      LDP=$RT/lib
      LD_LIBRARY_PATH=$LDP "$NODE" -e 'process.dlopen({ exports: {} }, process.argv[1])' "$DAWN" ||
        { echo "FATAL: dawn.node still does not load (glibc $(getconf GNU_LIBC_VERSION 2>/dev/null); needs >= 2.34)"; bench_rc=2; }
    fi
    echo "node $(LD_LIBRARY_PATH=$LDP "$NODE" --version)"
  fi

  if [ "$bench_rc" != 2 ]; then
    section "Vulkan loader and NVIDIA ICD"
    # Loader: the machine's if it has one, else Debian's libvulkan1 unpacked under $RT (never into /).
    local deb pkg lib dir
    for pkg in libvulkan1:libvulkan.so.1 libglvnd0:libGLdispatch.so.0 libglx0:libGLX.so.0 libegl1:libEGL.so.1 \
      libopengl0:libOpenGL.so.0 libgl1:libGL.so.1 libgles2:libGLESv2.so.2; do
      lib=${pkg#*:} pkg=${pkg%%:*}
      if in_ldcache "$lib" && { [ "$pkg" != libvulkan1 ] || [ -z "${SGLP_GPU_FORCE_LOADER:-}" ]; }; then
        echo "$lib: system copy ($("$LDCONFIG" -p | grep -F "$lib" | head -n 1 | sed 's/.*=> //'))"
        continue
      fi
      deb=$(ls "$PACK"/deb/"${pkg}"_*_amd64.deb 2>/dev/null | head -n 1)
      if [ -z "$deb" ]; then echo "$lib: missing and no $pkg .deb packed"; continue; fi
      deb_extract "$deb" "$RT/vk/$pkg"
      dir=$RT/vk/$pkg/usr/lib/x86_64-linux-gnu
      if [ -e "$dir/$lib" ]; then
        LDP=$dir${LDP:+:$LDP}
        echo "$lib: not in the ld cache; using $(basename "$deb") unpacked in $dir"
      else
        echo "$lib: unpacking $(basename "$deb") did not give $dir/$lib"
      fi
    done

    # ICD: the NVIDIA driver's JSON manifest; the loader is pointed at it explicitly.
    local icd="" f
    if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
      icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    else
      for f in /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json \
        /usr/local/share/vulkan/icd.d/nvidia_icd*.json /usr/local/nvidia/etc/vulkan/icd.d/nvidia_icd*.json; do
        [ -f "$f" ] && { icd=$f; break; }
      done
      [ -z "$icd" ] && icd=$(timeout 20 find /usr/local/nvidia /usr/share /etc /opt /usr/lib -maxdepth 6 \
        -name 'nvidia_icd*.json' 2>/dev/null | head -n 1)
    fi
    local -a VKENV=()
    if [ -n "$icd" ]; then
      VKENV=(VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd")
      echo "NVIDIA ICD: $icd"
      sed 's/^/  /' "$icd"
      # The manifest names the driver library, usually bare (libGLX_nvidia.so.0): make sure it resolves.
      lib=$(sed -n 's/.*"library_path"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$icd" | head -n 1)
      if [ -n "$lib" ] && [ "${lib#/}" = "$lib" ] && ! in_ldcache "$lib"; then
        dir=""
        for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu \
          /usr/lib64 /usr/lib /usr/local/lib; do
          [ -e "$d/$lib" ] && { dir=$d; break; }
        done
        [ -z "$dir" ] && dir=$(timeout 20 find /usr/local/nvidia /usr/lib /usr/lib64 /opt -maxdepth 5 -name "$lib" \
          2>/dev/null | head -n 1 | xargs -r dirname)
        if [ -n "$dir" ]; then
          LDP=$LDP${LDP:+:}$dir
          echo "ICD library $lib is not in the ld cache; found it in $dir (added to LD_LIBRARY_PATH)"
        else
          echo "WARNING: ICD library $lib not found anywhere; Vulkan will probably see no NVIDIA GPU"
        fi
      elif [ -n "$lib" ] && [ "${lib#/}" != "$lib" ]; then
        [ -e "$lib" ] && echo "ICD library $lib: present" || echo "WARNING: ICD library $lib does not exist"
      elif [ -n "$lib" ]; then
        echo "ICD library $lib: in the ld cache"
      fi
    else
      echo "no NVIDIA Vulkan ICD (nvidia_icd*.json) found: leaving the loader to its default ICDs:"
      ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d 2>/dev/null | sed 's/^/  /'
    fi
    local xdg=${XDG_RUNTIME_DIR:-}
    [ -z "$xdg" ] && { xdg=$RT/xdg && mkdir -m 700 "$xdg"; }
    local -a NODEENV=(env "LD_LIBRARY_PATH=$LDP${LD_LIBRARY_PATH:+${LDP:+:}$LD_LIBRARY_PATH}" "XDG_RUNTIME_DIR=$xdg" "${VKENV[@]}")
    echo "node runs with: ${NODEENV[*]:1}"

    section "WebGPU probe"
    cat >"$RT/probe.mjs" <<'JS'
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
// Keep the object from create() referenced: if GC collects it, Dawn's instance dies under the live
// adapter/device and the process aborts, hangs or gets SIGFPE (seen with lavapipe).
const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) { console.log('probe: NO WebGPU ADAPTER'); process.exit(3); }
const i = adapter.info;
console.log(`probe: adapter vendor=${i.vendor} architecture=${i.architecture} device=${i.device} description="${i.description}"`);
if (!/nvidia/i.test(`${i.vendor} ${i.description}`)) console.log('probe: WARNING: this adapter is not an NVIDIA GPU');
console.log(`probe: features ${[...adapter.features].sort().join(' ')}`);
const L = adapter.limits;
console.log(`probe: limits ${['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage'].map((k) => `${k}=${L[k]}`).join(' ')}`);
const device = await adapter.requestDevice();
const n = 4096;
const buf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
new Float32Array(buf.getMappedRange()).forEach((_, k, a) => { a[k] = k; });
buf.unmap();
const code = `@group(0) @binding(0) var<storage, read_write> d: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { d[g.x] = d[g.x] * 2.0 + 1.0; }`;
const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
const rb = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const enc = device.createCommandEncoder();
const pass = enc.beginComputePass();
pass.setPipeline(pipeline);
pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }] }));
pass.dispatchWorkgroups(n / 64);
pass.end();
enc.copyBufferToBuffer(buf, 0, rb, 0, n * 4);
device.queue.submit([enc.finish()]);
await rb.mapAsync(GPUMapMode.READ);
const out = new Float32Array(rb.getMappedRange());
const bad = out.filter((v, k) => v !== 2 * k + 1).length;
console.log(`probe: compute check ${bad ? `FAILED (${bad} wrong)` : 'ok'}`);
device.destroy();
process.exit(bad ? 4 : 0);
JS
    local probe_rc
    timeout -k 5 "$(budget 45)" "${NODEENV[@]}" "$NODE" "$RT/probe.mjs"
    probe_rc=$?
    if [ "$probe_rc" != 0 ]; then
      echo "probe failed (rc=$probe_rc); Vulkan loader diagnostics (VK_LOADER_DEBUG=error,warn,driver):"
      timeout -k 5 "$(budget 30)" "${NODEENV[@]}" VK_LOADER_DEBUG=error,warn,driver "$NODE" "$RT/probe.mjs" 2>&1 |
        head -n 150
    fi

    if [ "$JOB" = full ]; then
      full_job
      bench_rc=$?
    elif [ "$JOB" = cli ]; then
      # Any sglp command on this GPU (e.g. `train ... --out $OUT/model`); the arguments are the command's.
      section "sglp $*"
      local t
      t=$(budget 600)
      echo "time limit ${t}s"
      timeout -k 10 "$t" "${NODEENV[@]}" "$NODE" "$RT/cli.mjs" "$@"
      bench_rc=$?
      echo "sglp exit code $bench_rc"
    else
      section "sglp WebGPU benchmark: node bench.mjs --json $OUT/sglp-bench.json $*"
      local t
      t=$(budget 600 "$TORCH_RESERVE_S")
      echo "time limit ${t}s"
      timeout -k 10 "$t" "${NODEENV[@]}" "$NODE" --expose-gc "$RT/bench.mjs" --json "$OUT/sglp-bench.json" "$@"
      bench_rc=$?
      [ "$bench_rc" = 124 ] && echo "benchmark TIMED OUT after ${t}s"
      echo "benchmark exit code $bench_rc"
    fi
  fi

  section "PyTorch GEMM peer"
  if [ -n "${SGLP_GPU_SKIP_TORCH:-}" ] || [ "$JOB" = cli ]; then
    echo "skipped (SGLP_GPU_SKIP_TORCH)"
  elif ! have python3; then
    echo "skipped: no python3"
  else
    # Plain environment (no packed libraries): torch must use the machine's own runtime.
    PYTHONUNBUFFERED=1 timeout -k 5 "$(budget 120)" python3 "$PACK/torch_gemm.py" "$OUT/torch-gemm.json" ${QUICK:+--quick}
    torch_rc=$?
    [ "$torch_rc" = 0 ] || echo "torch peer exit code $torch_rc"
    [ "$torch_rc" = 0 ] && grep -q '"skipped"' "$OUT/torch-gemm.json" 2>/dev/null && torch_rc=skipped
    if [ "$JOB" = full ] && [ -f "$PACK/torch_llama.py" ]; then
      section "PyTorch LLaMA layer + SDPA peer (f32)"
      PYTHONUNBUFFERED=1 timeout -k 5 "$(budget 120)" python3 "$PACK/torch_llama.py" "$OUT/torch-llama.json" ${QUICK:+--quick} ||
        echo "torch_llama exit code $?"
    fi
  fi

  section "done"
  ls -l "$OUT"
  echo "RESULT: sglp WebGPU benchmark $([ "$bench_rc" = 0 ] && echo ok || echo "FAILED (rc=$bench_rc)");" \
    "torch peer $(case $torch_rc in 0) echo ok ;; skipped) echo "skipped (see torch-gemm.json)" ;; *) echo "FAILED (rc=$torch_rc)" ;; esac)"
  [ "$bench_rc" = 0 ] || return 1
}

main "$@" 2>&1 | tee "$OUT/gpu.log"
exit "${PIPESTATUS[0]}"
