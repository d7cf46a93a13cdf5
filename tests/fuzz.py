# SPDX-License-Identifier: BSD-2-Clause
"""Replays the fuzz corpora (fuzz/corpus/*) through the libFuzzer targets,
built with clang under AddressSanitizer and UBSan: no input may crash."""

import os
import shutil
import subprocess

from common import ROOT

TARGETS = ["args", "restore", "state", "packet", "ct", "ctpkt"]


def run(res, opts):
    if not shutil.which("clang"):
        res.skip("fuzz replay", "clang is not installed")
        return
    p = subprocess.run(["make", "-s", "-j2", "-f", "fuzz/Makefile", "all"], cwd=ROOT,
                       capture_output=True, text=True)
    if p.returncode != 0:
        res.fail("fuzz build", p.stdout[-2000:] + p.stderr[-2000:])
        return
    for t in TARGETS:
        corpus = os.path.join(ROOT, "fuzz", "corpus", t)
        n = len(os.listdir(corpus)) if os.path.isdir(corpus) else 0
        p = subprocess.run([os.path.join(ROOT, "build-fuzz", "fuzz_" + t), "-runs=0",
                            corpus], cwd=ROOT, capture_output=True, text=True)
        res.check("fuzz replay %s (%d inputs)" % (t, n), p.returncode == 0 and n > 0,
                  (p.stderr or "")[-3000:])
