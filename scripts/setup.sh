#!/usr/bin/env bash
# Fresh-machine set-up for sglp, run by npm before `npm run demo` and `npm test` (also: `npm run setup`).
#   a. system packages (Debian): Mesa lavapipe >= 24, Vulkan loader, Fashion-MNIST, Chromium, fortunes
#   b. npm dependencies (npm ci) when node_modules is missing or package-lock.json changed
#   c. build (scripts/build.mjs) when dist/ is missing or older than its sources
#   d. WebGPU adapter check, after a or b did something, or with SGLP_SETUP_CHECK=1
# Idempotent; prints nothing when everything is already in place. Progress goes to stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
die() {
  printf 'setup: error: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}

join_by() {
  local sep=$1 out=$2 s
  shift 2
  for s in "$@"; do out+="$sep$s"; done
  printf '%s' "$out"
}

LOG=''
STAMP_TMP=''
cleanup() { rm -f "$LOG" "$STAMP_TMP"; }
trap cleanup EXIT
# run_logged DESCRIPTION CMD...: one line on stderr; the command's output goes to a log shown only on failure.
run_logged() {
  local what=$1
  shift
  say "$what"
  [[ -n $LOG ]] || LOG=$(mktemp "${TMPDIR:-/tmp}/sglp-setup.XXXXXX")
  if ! "$@" >"$LOG" 2>&1 </dev/null; then
    cat "$LOG" >&2
    die "failed: $*"
  fi
}

changed=0     # set when step a or b changed something: then step d runs
npm_changed=0 # set when step b reinstalled node_modules: then step c rebuilds

# ---- a. system packages -------------------------------------------------------------------------------
MESA_MIN=24 # bookworm's Mesa 22.3 lavapipe lacks a Vulkan feature Dawn requires
BPO_PKGS=(mesa-vulkan-drivers)                               # from bookworm-backports on Debian 12
MAIN_PKGS=(libvulkan1 dataset-fashion-mnist chromium fortunes) # from the release itself
BPO_SOURCE=/etc/apt/sources.list.d/bookworm-backports.sources
BPO_STANZA='Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'

system_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "no dpkg: not a Debian system, skipping system packages (sglp needs a Vulkan driver: a GPU's, or Mesa >= $MESA_MIN; tests also use Chromium and the Fashion-MNIST IDX files)"
    return
  fi

  # One dpkg-query for all packages; missing ones only print to stderr.
  local -A have=()
  local name status version
  while read -r name status version; do
    [[ $status == installed ]] && have[$name]=$version
  done < <(dpkg-query -W -f='${Package} ${db:Status-Status} ${Version}\n' "${BPO_PKGS[@]}" "${MAIN_PKGS[@]}" 2>/dev/null || true)

  local -a need_bpo=() need_main=() why=()
  local mesa=${have[mesa-vulkan-drivers]:-}
  if [[ -z $mesa ]]; then
    need_bpo+=(mesa-vulkan-drivers)
    why+=("mesa-vulkan-drivers (>= $MESA_MIN)")
  elif ! dpkg --compare-versions "$mesa" ge "$MESA_MIN"; then
    need_bpo+=(mesa-vulkan-drivers)
    why+=("mesa-vulkan-drivers (>= $MESA_MIN; $mesa is installed)")
  fi
  for name in "${MAIN_PKGS[@]}"; do
    [[ -n ${have[$name]:-} ]] || { need_main+=("$name"); why+=("$name"); }
  done
  ((${#why[@]})) || return 0

  # Backports only on Debian 12; a newer release has a recent enough Mesa itself.
  local codename='' bpo=0
  # shellcheck disable=SC1091
  [[ -r /etc/os-release ]] && codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
  if [[ $codename == bookworm ]]; then
    bpo=1
  else
    need_main=("${need_bpo[@]}" "${need_main[@]}")
    need_bpo=()
  fi
  local have_bpo_source=0
  if ((bpo)) && grep -rqs --include='*.list' --include='*.sources' -e 'bookworm-backports' \
    /etc/apt/sources.list /etc/apt/sources.list.d/; then
    have_bpo_source=1
  fi

  local apt=(apt-get -y -q --no-install-recommends -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300)
  if ((EUID != 0)); then
    # Without root we cannot install; a working adapter still lets the GPU side run.
    if ((${#need_main[@]} == 0)) && node scripts/check-adapter.mjs >/dev/null 2>&1; then
      say "note: missing $(join_by ', ' "${why[@]}"), but Dawn finds a WebGPU adapter; continuing"
      return
    fi
    local -a cmds=()
    if ((bpo && !have_bpo_source)); then
      cmds+=("printf '$BPO_STANZA' > $BPO_SOURCE")
    fi
    cmds+=("apt-get update")
    ((${#need_bpo[@]})) && cmds+=("DEBIAN_FRONTEND=noninteractive apt-get install -y -t bookworm-backports ${need_bpo[*]}")
    ((${#need_main[@]})) && cmds+=("DEBIAN_FRONTEND=noninteractive apt-get install -y ${need_main[*]}")
    die "missing system packages: $(join_by ', ' "${why[@]}")" \
      "Run these as root (for example in \`sudo -i\`), then the same command again:" "${cmds[@]/#/  }"
  fi

  command -v apt-get >/dev/null 2>&1 || die "missing system packages ($(join_by ', ' "${why[@]}")) and no apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ((bpo && !have_bpo_source)); then
    say "adding bookworm-backports to apt sources ($BPO_SOURCE)"
    # shellcheck disable=SC2059 # the stanza is the format string on purpose
    printf "$BPO_STANZA" >"$BPO_SOURCE"
  fi
  run_logged "apt-get update" "${apt[@]}" update
  if ((${#need_bpo[@]})); then
    run_logged "installing ${need_bpo[*]} from bookworm-backports" "${apt[@]}" install -t bookworm-backports "${need_bpo[@]}"
  fi
  if ((${#need_main[@]})); then
    run_logged "installing ${need_main[*]}" "${apt[@]}" install "${need_main[@]}"
  fi
  mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  if [[ -z $mesa ]] || ! dpkg --compare-versions "$mesa" ge "$MESA_MIN"; then
    die "mesa-vulkan-drivers ${mesa:-(none)} is installed, Dawn needs >= $MESA_MIN"
  fi
  changed=1
}

# ---- b. npm dependencies ------------------------------------------------------------------------------
NPM_STAMP=node_modules/.sglp-setup-stamp

npm_dependencies() {
  [[ -f package-lock.json ]] || die "package-lock.json is missing (run from a complete checkout)"
  local lock_sum
  lock_sum=$(sha256sum package-lock.json)
  lock_sum=${lock_sum%% *}
  if [[ -f $NPM_STAMP && $(<"$NPM_STAMP") == "$lock_sum" ]]; then
    return
  fi
  # --ignore-scripts: the dependencies' install scripts are not needed here (webgpu's only acts on macOS;
  # esbuild's JS API finds its binary in @esbuild/<platform>; deno's bin.cjs links its binary on first
  # use), npm 11 would warn about each, and the root `prepare` build is step c.
  # An explicit loglevel: under `npm test --silent` the parent's loglevel would hide errors from the log.
  run_logged "installing npm dependencies (npm ci)" \
    npm ci --no-audit --no-fund --ignore-scripts --loglevel=warn
  # npm's warnings (an unsupported engine, a deprecation) are worth a look; the rest is noise.
  grep -E '^npm (warn|WARN)' "$LOG" >&2 || true
  printf '%s\n' "$lock_sum" >"$NPM_STAMP"
  changed=1
  npm_changed=1
}

# ---- c. build -----------------------------------------------------------------------------------------
BUILD_STAMP=dist/.build-stamp

build() {
  local -a inputs=()
  local p
  for p in src shaders scripts/build.mjs tsconfig.json; do
    [[ -e $p ]] && inputs+=("$p")
  done
  if ((!npm_changed)) && [[ -f $BUILD_STAMP ]] &&
    [[ -z $(find "${inputs[@]}" -newer "$BUILD_STAMP" -print -quit 2>/dev/null) ]]; then
    return
  fi
  # Stamp the time before building, so that an edit made during the build triggers the next one.
  STAMP_TMP=$(mktemp "${TMPDIR:-/tmp}/sglp-build-stamp.XXXXXX")
  run_logged "building dist/ (scripts/build.mjs)" node scripts/build.mjs
  # esbuild prints warnings only; show them.
  if [[ -s $LOG ]]; then cat "$LOG" >&2; fi
  mkdir -p dist
  chmod 644 "$STAMP_TMP"
  mv -f "$STAMP_TMP" "$BUILD_STAMP"
  STAMP_TMP=''
}

# ---- d. adapter check ---------------------------------------------------------------------------------
adapter_check() {
  ((changed)) || [[ ${SGLP_SETUP_CHECK:-0} == 1 ]] || return 0
  local out
  # Dawn prints notices on stderr (limits it clamps); keep them out unless the check fails.
  [[ -n $LOG ]] || LOG=$(mktemp "${TMPDIR:-/tmp}/sglp-setup.XXXXXX")
  if ! out=$(node scripts/check-adapter.mjs 2>"$LOG" </dev/null); then
    grep -v -E '^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced' "$LOG" >&2 || true
    exit 1
  fi
  say "$out"
}

system_packages
npm_dependencies
build
adapter_check
