#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Kernel differential suite of the packet path: generated rulesets and
generated packets through a real kernel and through uxtables, compared.

The kernel side is three network namespaces, client - dut - server, joined
by veth pairs (MTUs may differ between the two links); the ruleset is
loaded into dut with iptables-legacy-restore and the packets are sent as
raw Ethernet frames from client or server (dut's PREROUTING, INPUT or
FORWARD path) or from a raw socket inside dut (OUTPUT).  What left dut is
captured on both links and on dut's lo, LOG/TRACE lines are read from
/dev/kmsg, NFLOG messages from nfnetlink_log, counters with
iptables-legacy-save -c after each case.

The uxt side is the same ruleset in a private UXT_STATE, and the frames the
kernel sent (with their times) replayed inside dut with `uxt replay ... -w
--log --json --trace --nflog-dir`, so that uxt's host model is dut itself.

Compared per case: the datagrams that left, byte for byte, per device; the
log lines; which rules and policies counted the case.  Per batch: the whole
iptables-save -c (rules, policies, packet and byte counters) and the NFLOG
messages.  Normalised: only the IP ID (and header checksum) of ICMP errors
dut creates, where the kernel picks the ID, and timestamps (NFLOG's, and
the clock times an IP timestamp option records, within a tolerance; see
compare.py).  dut's accept_source_route is set per batch.  Details in
tests/kdiff/ (netns.py the test bed, gen.py the generators, kernel.py and
uxt.py the two sides, compare.py the comparison, suite.py the run).

A run is deterministic from its seed (printed first).  Reproduce one
failure with the command printed beside it:

    python3 tests/kernel_diff.py --bin build/bin --seed S --batch B --case C -v

(-v prints the ruleset and everything both sides did with the case;
--keep DIR keeps the batch's ruleset, pcaps and uxt outputs and prints the
uxt commands to redo it by hand).  --self-check compares the kernel with
itself (two test beds) instead: the harness must report no difference.

As a suite (tests/run.py --suite kernel_diff): seed from KDIFF_SEED
(default: random), KDIFF_BATCHES (default 110) batches of KDIFF_CASES
(default 20) cases.  Skipped when not root or when network namespaces do
not work.
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Results, kernel_bed_unavailable  # noqa: E402
from kdiff.suite import Runner  # noqa: E402

DEFAULT_BATCHES = 110
DEFAULT_CASES = 20


def unavailable(bindir=None):
    return kernel_bed_unavailable(bindir, ("iptables-legacy-restore", "iptables-legacy-save",
                 "iptables-nft"))


def run(res, opts):
    why = unavailable(opts["bindir"])
    if why:
        res.skip("kernel_diff", why)
        return
    seed = os.environ.get("KDIFF_SEED") or str(random.randrange(10 ** 9))
    batches = int(os.environ.get("KDIFF_BATCHES", DEFAULT_BATCHES))
    cases = int(os.environ.get("KDIFF_CASES", DEFAULT_CASES))
    Runner(res, opts["bindir"], seed, batches, cases).run()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--seed", default=None)
    ap.add_argument("--batches", type=int, default=DEFAULT_BATCHES)
    ap.add_argument("--cases", type=int, default=DEFAULT_CASES,
                    help="cases per batch")
    ap.add_argument("--batch", type=int, default=None,
                    help="only this batch")
    ap.add_argument("--case", type=int, default=None,
                    help="only report this case of --batch")
    ap.add_argument("--keep", metavar="DIR", default=None,
                    help="keep rulesets, pcaps and uxt outputs in DIR")
    ap.add_argument("--self-check", action="store_true",
                    help="compare the kernel with itself (harness check)")
    ap.add_argument("--max-detailed", type=int, default=40,
                    help="failures reported with details (default 40)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if a.case is not None and a.batch is None:
        ap.error("--case needs --batch")
    res = Results(verbose=a.verbose and a.batch is not None)
    why = unavailable(None if a.self_check else a.bin)
    if why:
        res.skip("kernel_diff", why)
    else:
        seed = a.seed if a.seed is not None else str(random.randrange(10 ** 9))
        try:
            Runner(res, a.bin, seed, a.batches, a.cases, only_batch=a.batch,
                   only_case=a.case, verbose=a.verbose, keep=a.keep,
                   self_check=a.self_check, max_detailed=a.max_detailed).run()
        except KeyboardInterrupt:
            print("kernel_diff: interrupted (namespaces removed)")
            return 130
    line = "%d passed, %d failed" % (res.passed, res.failed)
    if res.skipped:
        line += ", %d skipped" % res.skipped
    print(line)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
