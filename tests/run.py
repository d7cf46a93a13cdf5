#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Runs every test suite and ends with 'N passed, N failed, N skipped'.

  python3 tests/run.py --bin build-asan/bin [--suite NAME ...] [-v]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Results  # noqa: E402

SUITES = ["conformance", "differential", "restore_lines", "seed", "concurrency", "fuzz",
          "host_routing", "packet_units", "match_units", "classify_units", "log_units",
          "front_doors", "seed_packets", "kernel_diff", "real_traffic", "real_traffic_nat",
          "live",
          "live_seed", "conntrack_cli", "ct_units", "nat_units", "ct_diff"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build-asan/bin")
    ap.add_argument("--release-bin", default="build/bin",
                    help="optimized build, for the timing-sensitive suites")
    ap.add_argument("--suite", action="append")
    ap.add_argument("--file", action="append", help="conformance .t files")
    ap.add_argument("-j", "--jobs", type=int, default=4)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    res = Results(a.verbose)
    opts = {"bindir": a.bin, "release_bindir": a.release_bin,
            "files": a.file, "jobs": a.jobs}
    for name in a.suite or SUITES:
        mod = __import__(name)
        t0 = time.time()
        print("== %s" % name, flush=True)
        mod.run(res, opts)
        print("== %s done in %.1fs" % (name, time.time() - t0), flush=True)
    line = "%d passed, %d failed" % (res.passed, res.failed)
    if res.skipped:
        line += ", %d skipped" % res.skipped
    print(line)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
