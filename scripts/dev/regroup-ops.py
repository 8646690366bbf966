#!/usr/bin/env python3
# One-off (issue 14): regroups src/ops/ and test/ops/ by domain with git mv, then rewrites every relative
# import in the tree that points at a moved file and every "src/ops/<file>.ts" path in comments and docs.
# Idempotent: run it again (python3 scripts/dev/regroup-ops.py) after merging a branch that still imports
# the old flat paths; delete it once no branch does.
import os, re, subprocess, sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else '.'
os.chdir(ROOT)

DOMAINS = {
    'conv': ['conv2d', 'conv2d-epilogue', 'conv2d-halo', 'conv2d-halo-wgsl', 'pool', 'shortcut'],
    'linalg': ['gemm', 'gemm-config', 'linear', 'gram', 'transpose'],
    'norm': ['batchnorm', 'rmsnorm', 'softmax', 'cross-entropy', 'centre'],
    'llm': ['attention', 'rope', 'embedding', 'swiglu', 'token-cross-entropy'],
    'reduce': ['reduce', 'fold', 'grad-norm'],
    'elementwise': ['elementwise', 'elementwise-grid', 'activation', 'dropout', 'optim'],
}
TESTS = {
    'conv': ['conv2d', 'pool', 'shortcut'],
    'linalg': ['gemm', 'gemm-config', 'gemm-f16', 'linear'],
    'norm': ['batchnorm', 'rmsnorm', 'softmax-transpose', 'cross-entropy'],
    'llm': ['attention', 'rope', 'embedding', 'swiglu', 'token-cross-entropy'],
    'reduce': ['reduce'],
    'elementwise': ['elementwise', 'dropout'],
}

moves = {}  # old path -> new path (repo-relative)
for d, names in DOMAINS.items():
    for n in names:
        moves[f'src/ops/{n}.ts'] = f'src/ops/{d}/{n}.ts'
for d, names in TESTS.items():
    for n in names:
        moves[f'test/ops/{n}.test.ts'] = f'test/ops/{d}/{n}.test.ts'

for old, new in moves.items():
    if os.path.exists(old):
        os.makedirs(os.path.dirname(new), exist_ok=True)
        subprocess.run(['git', 'mv', old, new], check=True)

inverse = {new: old for old, new in moves.items()}


def files():
    out = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard'], capture_output=True, text=True).stdout
    for f in out.split('\n'):
        if f and os.path.exists(f) and re.search(r'\.(ts|mjs|js|md|wgsl)$', f) and not f.startswith(('dist/', 'node_modules/', 'web/dist')):
            yield f


SPEC = re.compile(r"""((?:from|import)\s*\(?\s*['"])(\.{1,2}/[^'"]+)(['"])""")


def fix_imports(path, text):
    here = os.path.dirname(path)
    old_here = os.path.dirname(inverse.get(path, path))  # where the file's relative specs were written from

    def sub(m):
        spec = m.group(2)
        # Resolve against the file's old location if the spec still points where it used to.
        for base in (here, old_here):
            target = os.path.normpath(os.path.join(base, spec))
            ts = re.sub(r'\.js$', '.ts', target)
            cand = moves.get(ts, ts)
            if os.path.exists(cand) or os.path.exists(target):
                real = cand if os.path.exists(cand) else target
                rel = os.path.relpath(real, here)
                if not rel.startswith('.'):
                    rel = './' + rel
                if spec.endswith('.js') and rel.endswith('.ts'):
                    rel = rel[:-3] + '.js'
                return m.group(1) + rel + m.group(3)
        return m.group(0)

    return SPEC.sub(sub, text)


TEXT = {}
for old, new in moves.items():
    TEXT[old] = new
    # also "ops/x.ts" without the src/ or test/ prefix
TEXT_RE = re.compile(r'(?<![\w/.-])((?:src|test)/)?(ops/)([a-z0-9-]+(?:\.test)?\.ts)\b')


def fix_text(text):
    def sub(m):
        prefix = m.group(1) or ''
        name = m.group(3)
        for root in ([prefix] if prefix else ['src/', 'test/']):
            old = f'{root}ops/{name}'
            if old in moves:
                new = moves[old]
                return new if prefix else new[len(root):]
        return m.group(0)

    return TEXT_RE.sub(sub, text)


for f in files():
    with open(f) as fh:
        text = fh.read()
    new = text
    if f.endswith(('.ts', '.mjs', '.js')):
        new = fix_imports(f, new)
    new = fix_text(new)
    if new != text:
        with open(f, 'w') as fh:
            fh.write(new)
        print('updated', f)
