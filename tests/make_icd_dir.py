#!/usr/bin/env python3
"""Makes an OpenCL vendors directory with the system's ICDs plus Oclgrind.

Debian's oclgrind package installs no .icd file; the device tests point
OCL_ICD_VENDORS here to see PoCL and Oclgrind as two platforms.
usage: make_icd_dir.py DIR [STAMP]

Meson runs it on every build, not at configure time, so that Oclgrind
installed after the build directory was set up is seen. STAMP, if given, is
written last (the build's record that the folder is current).
"""
import glob
import os
import shutil
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for old in glob.glob(os.path.join(out, '*.icd')):
    os.remove(old)
for icd in glob.glob('/etc/OpenCL/vendors/*.icd'):
    shutil.copy(icd, out)
lib = '/usr/lib/oclgrind/liboclgrind-rt-icd.so'
if os.path.exists(lib):
    with open(os.path.join(out, 'oclgrind.icd'), 'w') as f:
        f.write(lib + '\n')
if len(sys.argv) > 2:
    with open(sys.argv[2], 'w') as f:
        f.write('\n'.join(sorted(os.listdir(out))) + '\n')
