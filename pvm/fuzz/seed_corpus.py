#!/usr/bin/env python3
"""Seeds corpus/{run_blob,differential}/ with the public PVM vector programs and the
pvm-bench kernels (from ../../../shared). Differential seeds are 0xff ⌢ blob (raw mode
with a default set-up, see src/gen.rs). Usage: python3 seed_corpus.py [shared-dir]"""
import json, os, sys, glob
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared')
blobs = {}
for f in sorted(glob.glob(os.path.join(shared, 'pvm-test-vectors', 'programs', '*.json'))):
    blobs[os.path.basename(f)[:-5]] = bytes(json.load(open(f))['program'])
for f in sorted(glob.glob(os.path.join(shared, 'pvm-bench', '*.code.bin'))):
    blobs['bench_' + os.path.basename(f).split('.')[0]] = open(f, 'rb').read()
for target, prefix in (('run_blob', b''), ('differential', b'\xff')):
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', target)
    os.makedirs(d, exist_ok=True)
    for name, blob in blobs.items():
        open(os.path.join(d, 'seed_' + name), 'wb').write(prefix + blob)
print(f'{len(blobs)} seeds written')
