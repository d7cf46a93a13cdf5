#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Kernel differential suite of connection tracking and NAT: generated
rulesets and scripted flows through a real kernel router and through
uxtables, compared.

The kernel side is kdiff's three namespaces (client - dut - server, joined
by veth pairs), dut being the router and also an end: flows are forwarded
client <-> server (NATed or not), go to dut's own addresses, come from
dut (a raw socket in dut), or go from dut to itself over lo.  Each flow is
a script of crafted packets (TCP handshakes, data, both close orders,
RSTs, out-of-window segments, retransmissions, reopening in TIME_WAIT,
mid-stream pickup; UDP request/reply and streams past 2 s; ICMP echo,
timestamp and mask queries; ICMP errors quoting a flow's packet, from its
end or from a router beside it), sent as Ethernet frames or from the raw
socket.  The ends answer what they saw: after NAT a reply is addressed to
the translated tuple, as it left dut.  The ruleset (raw, mangle, nat,
filter, security) counts packets per ctstate in every chain and holds each
flow's NAT (SNAT, DNAT, MASQUERADE, REDIRECT, in every chain that takes
them), NOTRACK, zones, CONNMARK/MARK and filtering.

The uxt side is the same ruleset in a private UXT_STATE and the frames the
kernel got, at the times it got them, replayed inside dut with one `uxt
replay` (Linux cooked v2 capture: every direction in one file), with
uxtables' `conntrack -E` following and `conntrack -L` after it.

Compared, per flow: what left dut for each packet, byte for byte, per
device (after NAT); the counters its packets moved (when the batch's
iptables-save -c differs); its conntrack -E lines, in order; its
conntrack -L entries.  Per batch: iptables-save -c whole, the order of all
events, and the lines no flow owns.  Timeouts agree within a second;
the IP ID of ICMP errors dut makes is the only packet field normalised;
every NAT choice is forced by the generator (see tests/ctdiff/gen.py).
Details in tests/ctdiff/.

A run is deterministic from its seed (printed first).  Reproduce one
difference with the command printed beside it:

    python3 tests/ct_diff.py --bin build/bin --seed S --batch B --flow F -v

(-v prints the ruleset and each flow's packets with what both sides sent
out; --keep DIR keeps the batch's files and namespaces and prints the uxt
commands to redo it by hand).  --self-check compares the kernel with
itself: a second test bed runs each batch too, live (its own answers,
which must be the very frames the first sent: a seed reproduces a run), or
with --self-check replay fed the first kernel's frames at the same
relative times, as uxt replay is; the harness must report no difference.
--no-nat makes rulesets without any NAT rule (for conntrack work before
NAT exists; other batches than with NAT, from the same seed).

As a suite (tests/run.py --suite ct_diff): seed from CTDIFF_SEED (default:
random), CTDIFF_BATCHES (default 24) batches of CTDIFF_FLOWS (default 22)
flows (CTDIFF_NAT=0: --no-nat).  Skipped when not root, when network
namespaces do not work, or
when conntrack-tools or nft are missing.
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Results, kernel_bed_unavailable  # noqa: E402
from ctdiff.suite import Runner  # noqa: E402

DEFAULT_BATCHES = 24
DEFAULT_FLOWS = 22


def unavailable(bindir=None):
    return kernel_bed_unavailable(bindir, ("iptables-legacy-restore", "iptables-legacy-save",
                 "iptables-nft", "nft", "conntrack"))


def run(res, opts):
    why = unavailable(opts["bindir"])
    if why:
        res.skip("ct_diff", why)
        return
    seed = os.environ.get("CTDIFF_SEED") or str(random.randrange(10 ** 9))
    batches = int(os.environ.get("CTDIFF_BATCHES", DEFAULT_BATCHES))
    flows = int(os.environ.get("CTDIFF_FLOWS", DEFAULT_FLOWS))
    nat = os.environ.get("CTDIFF_NAT", "1") != "0"
    Runner(res, opts["bindir"], seed, batches, flows, nat=nat).run()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--seed", default=None)
    ap.add_argument("--batches", type=int, default=DEFAULT_BATCHES)
    ap.add_argument("--flows", type=int, default=DEFAULT_FLOWS,
                    help="flows per batch")
    ap.add_argument("--batch", type=int, default=None,
                    help="only this batch")
    ap.add_argument("--flow", type=int, default=None,
                    help="only report this flow of --batch")
    ap.add_argument("--keep", metavar="DIR", default=None,
                    help="keep rulesets, captures and uxt outputs in DIR")
    ap.add_argument("--self-check", nargs="?", const="live",
                    choices=["live", "replay"],
                    help="compare the kernel with itself (harness check): "
                    "a second test bed runs the batch live (default; its "
                    "frames must be the first's) or is fed the first's "
                    "recorded frames at the same times (replay)")
    ap.add_argument("--max-detailed", type=int, default=40,
                    help="differences reported with details (default 40)")
    ap.add_argument("--no-nat", action="store_true",
                    help="rulesets without any NAT rule (other batches: "
                    "for conntrack work before NAT exists)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if a.flow is not None and a.batch is None:
        ap.error("--flow needs --batch")
    if a.flows < 1 or a.batches < 1:
        ap.error("--flows and --batches must be at least 1")
    res = Results(verbose=a.verbose and a.batch is not None)
    why = unavailable(None if a.self_check else a.bin)
    if why:
        res.skip("ct_diff", why)
    else:
        seed = a.seed if a.seed is not None else str(random.randrange(10 ** 9))
        try:
            Runner(res, a.bin, seed, a.batches, a.flows, only_batch=a.batch,
                   only_flow=a.flow, verbose=a.verbose, keep=a.keep,
                   self_check=a.self_check,
                   max_detailed=a.max_detailed, nat=not a.no_nat).run()
        except KeyboardInterrupt:
            print("ct_diff: interrupted (namespaces removed)")
            return 130
    line = "%d passed, %d failed" % (res.passed, res.failed)
    if res.skipped:
        line += ", %d skipped" % res.skipped
    print(line)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
