#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""make bench: speed figures of uxtables beside the kernel's iptables-legacy,
measured in the same run on the same machine.

Command-line figures (100k-rule table from ClassBench acl1_100k):
  iptables-restore of the whole ruleset, one -A and one -D against it,
  iptables -L -n and iptables-save of it.
Each figure is the median wall time of several runs of the whole command
(process start included, output to /dev/null), uxtables and iptables-legacy
each in a fresh network namespace; uxtables keeps its state on tmpfs
(/dev/shm), where a normal system's /run is.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))


def classbench_rules(name):
    """ClassBench rules as iptables-restore lines (first rule first)."""
    path = os.path.join(SHARED, "classbench", "rules", name + ".xz")
    text = subprocess.run(["xz", "-dc", path], check=True,
                          capture_output=True).stdout.decode()
    out = []
    for i, line in enumerate(text.splitlines()):
        f = line.lstrip("@").split()
        if len(f) < 9:
            continue
        src, dst = f[0], f[1]
        slo, shi, dlo, dhi = f[2], f[4], f[5], f[7]
        proto, pmask = (int(x, 16) for x in f[8].split("/"))
        target = "DROP" if i % 3 == 0 else "ACCEPT"
        r = "-A INPUT -s %s -d %s" % (src, dst)
        if pmask and proto in (6, 17):
            pname = "tcp" if proto == 6 else "udp"
            r += " -p %s -m %s" % (pname, pname)
            if (slo, shi) != ("0", "65535"):
                r += " --sport %s:%s" % (slo, shi) if slo != shi else " --sport %s" % slo
            if (dlo, dhi) != ("0", "65535"):
                r += " --dport %s:%s" % (dlo, dhi) if dlo != dhi else " --dport %s" % dlo
        elif pmask:
            r += " -p %d" % proto
        out.append(r + " -j " + target)
    return out


def restore_text(rules):
    return "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + \
        "\n".join(rules) + "\nCOMMIT\n"


class Side:
    def __init__(self, label, progs, env=None):
        self.label = label
        self.progs = progs
        self.env = env
        self.ns = "uxtbench-" + uuid.uuid4().hex[:8]
        subprocess.run(["ip", "netns", "add", self.ns], check=True)

    def cmd(self, prog, *args):
        return ["ip", "netns", "exec", self.ns, self.progs[prog]] + list(args)

    def time(self, prog, args, stdin=None, runs=5, setup=None):
        ts = []
        for _ in range(runs):
            if setup:
                setup()
            t0 = time.perf_counter()
            p = subprocess.run(self.cmd(prog, *args), input=stdin, env=self.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            ts.append(time.perf_counter() - t0)
            if p.returncode != 0:
                raise RuntimeError("%s %s failed: %s" % (self.label, args, p.stderr[:300]))
        return statistics.median(ts)

    def close(self):
        subprocess.run(["ip", "netns", "del", self.ns])


def netns_overhead(runs=9):
    """Time of 'ip netns exec NS true', subtracted from every figure."""
    ns = "uxtbench-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(["ip", "netns", "exec", ns, "true"])
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def cli_bench(bindir, runs):
    rules = classbench_rules("acl1_100k")
    text = restore_text(rules).encode()
    # the state lives on tmpfs, as /run does on a normal system
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    state = tempfile.mkdtemp(prefix="uxt-bench-", dir=shm)
    env = dict(os.environ, UXT_STATE=state)
    sides = [
        Side("iptables-legacy", {"iptables": "iptables-legacy",
                                 "iptables-save": "iptables-legacy-save",
                                 "iptables-restore": "iptables-legacy-restore"}),
        Side("uxtables", {n: os.path.join(os.path.abspath(bindir), n)
                          for n in ("iptables", "iptables-save", "iptables-restore")},
             env),
    ]
    over = netns_overhead()
    print("iptables command line, %d rules (ClassBench acl1_100k), median of %d runs"
          % (len(rules), runs))
    print("(times are whole commands minus %.1f ms of 'ip netns exec')" % (over * 1e3))
    rows = []
    try:
        for s in sides:
            r = {}
            r["iptables-restore"] = s.time("iptables-restore", [], stdin=text, runs=runs)
            extra = ["-s", "203.0.113.7", "-p", "tcp", "-m", "tcp", "--dport", "4242",
                     "-j", "DROP"]
            r["-A one rule"] = s.time("iptables", ["-A", "INPUT"] + extra, runs=1)
            r["-D one rule"] = s.time("iptables", ["-D", "INPUT"] + extra, runs=1)
            ta, td = [], []
            for _ in range(runs - 1):
                ta.append(s.time("iptables", ["-A", "INPUT"] + extra, runs=1))
                td.append(s.time("iptables", ["-D", "INPUT"] + extra, runs=1))
            r["-A one rule"] = statistics.median(ta + [r["-A one rule"]])
            r["-D one rule"] = statistics.median(td + [r["-D one rule"]])
            r["-L -n"] = s.time("iptables", ["-L", "-n"], runs=runs)
            r["iptables-save"] = s.time("iptables-save", [], runs=runs)
            rows.append(r)
    finally:
        for s in sides:
            s.close()
        shutil.rmtree(state, ignore_errors=True)
    print("%-18s %14s %12s %9s" % ("operation", "legacy ms", "uxtables ms", "speedup"))
    for op in rows[0]:
        a = max(rows[0][op] - over, 1e-6)
        b = max(rows[1][op] - over, 1e-6)
        print("%-18s %14.1f %12.1f %8.1fx" % (op, a * 1e3, b * 1e3, a / b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("iptables-legacy"):
        print("bench: needs root and iptables-legacy (the kernel is the baseline)")
        return 1
    cli_bench(a.bin, a.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
