#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""make bench: speed figures of uxtables beside the kernel's iptables-legacy,
measured in the same run on the same machine.  docs/bench.md says what each
figure includes.

1. Command line (100k-rule table from ClassBench acl1_100k): iptables-restore
   of the whole ruleset, one -A and one -D against it, iptables -L -n and
   iptables-save of it; median wall time of whole commands.
2. Packet path, libuxt alone (bench/engine_bench.c): packets per second and
   ns per packet for the first 10, 1,000 and 10,000 rules of acl1_100k in
   FORWARD, fed the headers of acl1_100k's trace drawn from those rules.
3. uxt replay of a 1,000,000-packet capture made from that trace, end to end.
4. Packet path, kernel: the same rules (iptables-legacy) and the same
   datagrams, sent as Ethernet frames over veth into a forwarding namespace
   (bench/kernel_send.c); ns per packet with the ruleset and with a
   one-rule baseline giving every packet the same fate.
6. The classifier (docs/classifier.md): the engine alone as in 2. with
   UXT_CLASSIFIER=off and =on, for the first 10, 1,000, 10,000 and all
   100k rules of acl1_100k, and for the whole fw1_100k and ipc1_100k; its
   build time, memory and the latency from a restored ruleset to the first
   verdict; the deciding rule of every datagram compared between the two.

7. Connection tracking (bench/ct_bench.c beside the kernel as in 4.): new
   connections per second, the cost of a packet of an established
   connection, and 1,000,000 concurrent entries with the memory they take
   (uxtables: the process's resident memory; kernel: the nf_conntrack slab
   and all slabs).  Runs with --ct-bench; alone: --only ct.
8. The live path (bench/live_bench.py): packets per second forwarded by a
   router namespace under uxt daemon (NFQUEUE) and under iptables-legacy,
   the same N non-matching rules in FORWARD (10 to 100,000), the same
   traffic from bench/kernel_send, delivered packets counted at the sink.
   Alone: --only live (also python3 bench/live_bench.py).

ClassBench files are read from ../shared/classbench at run time.  Everything
made (namespaces, state directories, captures) is removed at the end, also
on failure or SIGINT/SIGTERM; namespaces a killed run left behind are
removed by the next run.
"""

import argparse
import os
import random
import re
import resource
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
CLASSBENCH = os.path.join(SHARED, "classbench", "rules")

NS_PREFIX = "uxtb-%d-" % os.getpid()
TMP_PREFIX = "uxt-bench-%d-" % os.getpid()

# The forwarding host of the packet-path figures, as the engine sees it
# (docs/host.md) and as the kernel's router namespace is set up.
HOST = """forwarding on
iface lo index 1 type loopback
    addr 127.0.0.1/8
iface eth0 index 2
    addr 192.0.2.1/30
iface eth1 index 3
    addr 203.0.113.1/30
iface eth2 index 4
    addr 198.51.100.1/30
route default via 203.0.113.2
"""

SIZES = (10, 1000, 10000)      # rules, the first N of acl1_100k
MAX_HEADERS = 8192             # datagrams per size (a seeded sample)
ENGINE_SECONDS = 0.2           # per timed run
KERNEL_SECONDS = 0.3
ROUNDS = 5                     # engine: timed runs of each kind, alternated
KERNEL_ROUNDS = 7
REPLAY_PACKETS = 1000000
REPLAY_RULES = (10, 1000)
CLS_SIZES = (10, 1000, 10000, 100000)   # 6.: the first N rules of acl1_100k
CLS_SETS = ("fw1_100k", "ipc1_100k")    # 6.: whole sets with their traces
CLS_ROUNDS = 3
# 2. and 4. compare the plain first-match walk with the kernel's
PLAIN_WALK = dict(os.environ, UXT_CLASSIFIER="off")


# ---------------------------------------------------------------- cleanup

class Cleanup:
    """Namespaces and directories made by this run, removed at the end."""

    def __init__(self):
        self.namespaces = []
        self.dirs = []

    def netns(self, tag):
        name = NS_PREFIX + tag
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.namespaces.append(name)
        return name

    def tmpdir(self, tag, shm=True):
        base = "/dev/shm" if shm and os.path.isdir("/dev/shm") else None
        d = tempfile.mkdtemp(prefix=TMP_PREFIX + tag + "-", dir=base)
        self.dirs.append(d)
        return d

    def run(self):
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces = []
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.dirs = []


CLEAN = Cleanup()


def on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def remove_stale():
    """Namespaces and directories of bench runs whose process is gone."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        m = re.match(r"(uxtb-(\d+)-\S+)", line)
        if m and not os.path.exists("/proc/" + m.group(2)):
            subprocess.run(["ip", "netns", "del", m.group(1)], capture_output=True)
    for base in ("/dev/shm", tempfile.gettempdir()):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for n in names:
            m = re.match(r"uxt-bench-(\d+)-", n)
            if m and not os.path.exists("/proc/" + m.group(1)):
                shutil.rmtree(os.path.join(base, n), ignore_errors=True)


def sh(*args, ns=None, **kw):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, **kw)
    if p.returncode != 0:
        err = p.stderr if isinstance(p.stderr, str) else p.stderr.decode(errors="replace")
        raise RuntimeError("%s: %s" % (" ".join(cmd)[:200], err.strip()[:300]))
    return p.stdout


# -------------------------------------------------------------- ClassBench

def classbench_lines(name):
    path = os.path.join(CLASSBENCH, name + ".xz")
    return subprocess.run(["xz", "-dc", path], check=True,
                          capture_output=True).stdout.decode().splitlines()


def parse_rules(name):
    """ClassBench rules, first rule first, as tuples
    (src, srclen, dst, dstlen, sport_lo, sport_hi, dport_lo, dport_hi,
     proto or None)."""
    rules = []
    for line in classbench_lines(name):
        f = line.lstrip("@").split()
        if len(f) < 9:
            continue
        s, sl = f[0].split("/")
        d, dl = f[1].split("/")
        proto, pmask = (int(x, 16) for x in f[8].split("/"))
        rules.append((ip2int(s), int(sl), ip2int(d), int(dl), int(f[2]),
                      int(f[4]), int(f[5]), int(f[7]), proto if pmask else None))
    return rules


def parse_trace(name):
    """Trace headers (src, dst, sport, dport, proto, rule id)."""
    out = []
    for line in classbench_lines(name + "_trace"):
        f = line.split()
        if len(f) >= 7:
            out.append((int(f[0]), int(f[1]), int(f[2]), int(f[3]), int(f[4]),
                        int(f[6])))
    return out


def ip2int(s):
    a, b, c, d = (int(x) for x in s.split("."))
    return a << 24 | b << 16 | c << 8 | d


def int2ip(v):
    return "%d.%d.%d.%d" % (v >> 24, v >> 16 & 255, v >> 8 & 255, v & 255)


def rule_line(r, i, chain="INPUT", xs=0, xd=0):
    """iptables-restore line of rule r (index i): every third rule DROP,
    the others ACCEPT.  Addresses are XORed with xs/xd (see remap())."""
    src, sl, dst, dl, slo, shi, dlo, dhi, proto = r
    smask = (0xFFFFFFFF << (32 - sl)) & 0xFFFFFFFF if sl else 0
    dmask = (0xFFFFFFFF << (32 - dl)) & 0xFFFFFFFF if dl else 0
    line = "-A %s -s %s/%d -d %s/%d" % (chain, int2ip((src ^ xs) & smask), sl,
                                        int2ip((dst ^ xd) & dmask), dl)
    if proto in (6, 17):
        pname = "tcp" if proto == 6 else "udp"
        line += " -p %s -m %s" % (pname, pname)
        if (slo, shi) != (0, 65535):
            line += " --sport %d:%d" % (slo, shi) if slo != shi else " --sport %d" % slo
        if (dlo, dhi) != (0, 65535):
            line += " --dport %d:%d" % (dlo, dhi) if dlo != dhi else " --dport %d" % dlo
    elif proto is not None:
        line += " -p %d" % proto
    return line + " -j " + ("DROP" if i % 3 == 0 else "ACCEPT")


def restore_text(lines, extra=()):
    return ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n" + "".join(l + "\n" for l in lines) +
            "".join(l + "\n" for l in extra) + "COMMIT\n")


# ----------------------------------------------------- command-line figures

class Side:
    def __init__(self, label, progs, env, tag):
        self.label = label
        self.progs = progs
        self.env = env
        self.ns = CLEAN.netns(tag)

    def time(self, prog, args, stdin=None, runs=5):
        """Median wall time and median CPU time (user + system of the
        command, the kernel's work for it included) of runs runs."""
        ts, cs = [], []
        for _ in range(runs):
            c0 = children_cpu()
            t0 = time.perf_counter()
            p = subprocess.run(["ip", "netns", "exec", self.ns, self.progs[prog]] + args,
                               input=stdin, env=self.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            ts.append(time.perf_counter() - t0)
            cs.append(children_cpu() - c0)
            if p.returncode != 0:
                raise RuntimeError("%s %s failed: %s" % (self.label, args, p.stderr[:300]))
        return statistics.median(ts), statistics.median(cs)


def children_cpu():
    """CPU seconds used so far by the children this process waited for."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def netns_overhead(runs=9):
    """Wall and CPU time of 'ip netns exec NS true', subtracted from every
    figure."""
    ns = CLEAN.netns("over")
    ts, cs = [], []
    for _ in range(runs):
        c0 = children_cpu()
        t0 = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", ns, "true"])
        ts.append(time.perf_counter() - t0)
        cs.append(children_cpu() - c0)
    return statistics.median(ts), statistics.median(cs)


def cli_bench(bindir, runs, rules):
    text = restore_text([rule_line(r, i) for i, r in enumerate(rules)]).encode()
    # the state lives on tmpfs, as /run does on a normal system
    state = CLEAN.tmpdir("cli")
    env = dict(os.environ, UXT_STATE=state)
    sides = [
        Side("iptables-legacy", {"iptables": "iptables-legacy",
                                 "iptables-save": "iptables-legacy-save",
                                 "iptables-restore": "iptables-legacy-restore"},
             None, "cli-legacy"),
        Side("uxtables", {n: os.path.join(os.path.abspath(bindir), n)
                          for n in ("iptables", "iptables-save", "iptables-restore")},
             env, "cli-uxt"),
    ]
    over, over_cpu = netns_overhead()
    print("1. iptables command line, %d rules (ClassBench acl1_100k in INPUT),"
          " median of %d runs" % (len(rules), runs))
    print("   whole commands (process start included, output to /dev/null) minus"
          " %.1f ms of 'ip netns exec';" % (over * 1e3))
    print("   uxtables' state on tmpfs, as /run is.  CPU: user + system time of the"
          " command (minus")
    print("   %.1f ms for 'ip netns exec'), which other work on the machine does not"
          " lengthen" % (over_cpu * 1e3))
    rows = []
    extra = ["-s", "203.0.113.7", "-p", "tcp", "-m", "tcp", "--dport", "4242",
             "-j", "DROP"]
    for s in sides:
        r = {}
        r["iptables-restore"] = s.time("iptables-restore", [], stdin=text, runs=runs)
        ta, td = [], []
        for _ in range(runs):
            ta.append(s.time("iptables", ["-A", "INPUT"] + extra, runs=1))
            td.append(s.time("iptables", ["-D", "INPUT"] + extra, runs=1))
        r["-A one rule"] = tuple(statistics.median(x) for x in zip(*ta))
        r["-D one rule"] = tuple(statistics.median(x) for x in zip(*td))
        r["-L -n"] = s.time("iptables", ["-L", "-n"], runs=runs)
        r["iptables-save"] = s.time("iptables-save", [], runs=runs)
        rows.append(r)
    print()
    print("   %-18s %12s %12s %9s   %9s %9s %9s" % ("operation", "legacy ms", "uxtables ms",
                                                "speedup", "legacy", "uxtables", "speedup"))
    print("   %-18s %12s %12s %9s   %9s %9s %9s" % ("", "", "", "", "CPU ms", "CPU ms", "CPU"))
    for op in rows[0]:
        a = max(rows[0][op][0] - over, 1e-6)
        b = max(rows[1][op][0] - over, 1e-6)
        ac = max(rows[0][op][1] - over_cpu, 1e-6)
        bc = max(rows[1][op][1] - over_cpu, 1e-6)
        print("   %-18s %12.1f %12.1f %8.1fx   %9.1f %9.1f %8.1fx" %
              (op, a * 1e3, b * 1e3, a / b, ac * 1e3, bc * 1e3, ac / bc))
    print()


# ------------------------------------------------------ the packet workload

def bad_octet(o):
    # 0/8, 127/8, multicast, class E and limited broadcast: the kernel
    # never forwards such a source or destination
    return o in (0, 127) or o >= 224


def remap(trace):
    """XOR constants for the first octet of sources and destinations that
    make the most trace headers forwardable.  XOR with a constant keeps
    prefix matching (a & m == p & m  <=>  (a ^ c) & m == (p ^ c) & m), so
    rules and headers XORed alike match exactly as before."""
    best = []
    for k in (0, 1):
        counts = [0] * 256
        for h in trace:
            counts[h[k] >> 24] += 1
        best.append(min(range(256), key=lambda c: sum(
            n for o, n in enumerate(counts) if bad_octet(o ^ c))) << 24)
    return best[0], best[1]


RESERVED = [(ip2int(a), 24) for a in ("192.0.2.0", "198.51.100.0", "203.0.113.0")]


def forwardable(a):
    if bad_octet(a >> 24):
        return False
    return all((a >> (32 - l)) != (p >> (32 - l)) for p, l in RESERVED)


def ip_checksum(hdr):
    s = sum(struct.unpack("!10H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def datagram(src, dst, sport, dport, proto):
    """40 bytes: IPv4 header (TTL 64, id 1) and 20 bytes of transport:
    TCP with ACK set, UDP with its length, else zeros."""
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x10, 512, 0, 0)
    elif proto == 17:
        l4 = struct.pack("!HHHH", sport, dport, 20, 0) + bytes(12)
    else:
        l4 = bytes(20)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                      src.to_bytes(4, "big"), dst.to_bytes(4, "big"))
    return hdr[:10] + struct.pack("!H", ip_checksum(hdr)) + hdr[12:] + l4


def write_frames(path, dgrams, sels):
    with open(path, "wb") as f:
        for d, s in zip(dgrams, sels):
            f.write(bytes([s]) + len(d).to_bytes(2, "big") + d)


class Workload:
    """One ruleset size: its restore text, its datagrams, their fates."""

    def __init__(self, n, rules, trace, rng):
        self.n = n
        # the headers drawn from these rules (ids are 0-based): each
        # matches one of them, at its first match or earlier
        hs = [h for h in trace if h[5] < n]
        self.xs, self.xd = xs, xd = remap(hs)
        self.lines = [rule_line(r, i, "FORWARD", xs, xd)
                      for i, r in enumerate(rules[:n])]
        hs = [(h[0] ^ xs, h[1] ^ xd, h[2], h[3], h[4]) for h in hs]
        self.drawn = len(hs)
        hs = [h for h in hs if forwardable(h[0]) and forwardable(h[1])]
        self.forwardable = len(hs)
        if len(hs) > MAX_HEADERS:
            hs = [hs[i] for i in sorted(rng.sample(range(len(hs)), MAX_HEADERS))]
        self.headers = hs
        self.dgrams = [datagram(*h) for h in hs]
        self.fates = None       # from the engine: (fate, rulenum) per datagram

    def rules_text(self):
        return restore_text(self.lines)

    @staticmethod
    def baseline_text():
        # same fate as with the ruleset (the datagrams the ruleset drops
        # arrive on eth2), one rule
        return restore_text([], ["-A FORWARD -i eth2 -j DROP"])

    def sels(self):
        return [1 if f == "D" else 0 for f, _ in self.fates]

    def accepted(self):
        return sum(1 for f, _ in self.fates if f == "A")

    def mean_depth(self):
        return statistics.mean(r for _, r in self.fates)

    def histogram(self):
        h = [0] * (self.n + 2)
        for _, r in self.fates:
            h[r] += 1
        return h


# ---------------------------------------------------- engine (libuxt alone)

class Paired:
    """ns per packet of alternated runs with the ruleset and with the
    baseline.  Each figure is the best (lowest) run: other work on the
    machine only ever adds time, so the best run is the least disturbed.
    The ruleset's cost is best with rules - best baseline; the range of the
    paired differences (run i with rules - run i baseline) shows the noise."""

    def __init__(self):
        self.rules, self.base = [], []

    def add(self, with_rules, ns):
        (self.rules if with_rules else self.base).append(ns)

    def ns_rules(self):
        return min(self.rules)

    def ns_base(self):
        return min(self.base)

    def diffs(self):
        return [a - b for a, b in zip(self.rules, self.base)]

    def cost(self):
        return self.ns_rules() - self.ns_base()

    def clear(self):
        """The cost stands out of the noise: every paired difference is
        positive."""
        return min(self.diffs()) > 0

    def spread(self):
        d = self.diffs()
        return "%.0f..%.0f" % (min(d), max(d))


def uxt_restore(bindir, state, text):
    sh(os.path.join(bindir, "iptables-restore"), input=text.encode(),
       env=dict(os.environ, UXT_STATE=state))


def engine_bench(bindir, engine, work, tmp, hostfile):
    print("2. packet path, libuxt alone (bench/engine_bench, in-process, no I/O)")
    print("   each datagram received on eth0 (eth2 for those the rules drop), routed,")
    print("   FORWARD (the ruleset), POSTROUTING, counted as sent on eth1; the timed loop"
          " also")
    print("   copies each 40-byte datagram and fills in its struct uxt_pkt.  %d runs of"
          " >= %.1f s each," % (ROUNDS, ENGINE_SECONDS))
    print("   alternated with the baseline, the same datagrams through a FORWARD"
          " holding only")
    print("   '-i eth2 -j DROP' (every packet meets the same fate).  Best runs; 'rules ns'"
          " = best with")
    print("   rules - best baseline; 'range': of the paired differences (noise).  The plain"
          " walk,")
    print("   as the kernel's (UXT_CLASSIFIER=off); 6. has the classifier")
    print()
    print("   %6s %7s %5s %7s %10s %8s %8s %9s %12s" %
          ("rules", "packets", "drop", "depth", "packets/s", "ns/pkt", "base ns",
           "rules ns", "range"))
    res = {}
    for w in work:
        st_rules = os.path.join(tmp, "engine-rules-%d" % w.n)
        st_base = os.path.join(tmp, "engine-base-%d" % w.n)
        frames = os.path.join(tmp, "frames-%d" % w.n)
        uxt_restore(bindir, st_rules, w.rules_text())
        uxt_restore(bindir, st_base, w.baseline_text())
        # the fates, then the datagrams written with their interfaces
        write_frames(frames, w.dgrams, [0] * len(w.dgrams))
        out = sh(engine, st_rules, hostfile, frames, "verdicts", text=True, env=PLAIN_WALK)
        fates = [(l.split()[0], int(l.split()[2])) for l in out.splitlines()]
        keep = [i for i, (f, _) in enumerate(fates) if f in "AD"]
        if len(keep) != len(fates):
            print("   (%d datagrams dropped outside the tables left out)"
                  % (len(fates) - len(keep)))
        w.headers = [w.headers[i] for i in keep]
        w.dgrams = [w.dgrams[i] for i in keep]
        w.fates = [fates[i] for i in keep]
        w.frames = frames
        write_frames(frames, w.dgrams, w.sels())
        m = Paired()
        for _ in range(ROUNDS):
            for with_rules in (True, False):
                o = sh(engine, st_rules if with_rules else st_base, hostfile, frames,
                       "time", ENGINE_SECONDS, text=True, env=PLAIN_WALK).split()
                packets, accepted = int(o[0]), int(o[4])
                if accepted * len(w.dgrams) != packets * w.accepted():
                    raise RuntimeError("engine: %d of %d accepted, expected %d per %d"
                                       % (accepted, packets, w.accepted(), len(w.dgrams)))
                m.add(with_rules, float(o[3]))
        res[w.n] = m
        print("   %6d %7d %4.0f%% %7.1f %10.0f %8.1f %8.1f %9.1f %12s" %
              (w.n, len(w.dgrams), 100.0 * (len(w.dgrams) - w.accepted()) / len(w.dgrams),
               w.mean_depth(), 1e9 / m.ns_rules(), m.ns_rules(), m.ns_base(), m.cost(),
               m.spread()))
    print()
    return res


# -------------------------------------------------------------- uxt replay

def write_capture(path, dgrams, count):
    """Linux cooked v2 capture: every datagram received on ifindex 2 (eth0)
    as PACKET_HOST, 1 us apart, the list cycled to count records."""
    recs = []
    for d in dgrams:
        sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 0, 6,
                           bytes.fromhex("020000000001") + bytes(2))
        recs.append(struct.pack("<II", len(d) + 20, len(d) + 20) + sll2 + d)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 276))
        t = 1700000000 * 1000000
        n = len(recs)
        chunk = []
        for i in range(count):
            chunk.append(struct.pack("<II", t // 1000000, t % 1000000) + recs[i % n])
            t += 1
            if len(chunk) == 65536:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))


def replay_bench(bindir, rules, trace, tmp, hostfile):
    xs, xd = remap(trace)
    hs = [(h[0] ^ xs, h[1] ^ xd, h[2], h[3], h[4]) for h in trace]
    hs = [h for h in hs if forwardable(h[0]) and forwardable(h[1])]
    cap = os.path.join(tmp, "replay.pcap")
    t0 = time.perf_counter()
    write_capture(cap, [datagram(*h) for h in hs], REPLAY_PACKETS)
    made = time.perf_counter() - t0
    size = os.path.getsize(cap)
    print("3. uxt replay, end to end: a capture of %d records made from the %d"
          % (REPLAY_PACKETS, len(hs)))
    print("   forwardable headers of the acl1_100k trace (XOR 0x%02x/0x%02x as in 2.,"
          " cycled), Linux" % (xs >> 24, xd >> 24))
    print("   cooked v2, all received on eth0, %.0f MB on tmpfs, made in %.1f s (not timed);"
          % (size / 1e6, made))
    print("   'uxt replay -q FILE --host FILE' through the first N rules in FORWARD, its"
          " output to")
    print("   /dev/null; the wall time includes process start, loading the state and"
          " host, reading")
    print("   the capture, the packet path (no per-packet report: -q), and the commit"
          " of the counters")
    print()
    print("   %6s %10s %12s %10s %14s %14s" % ("rules", "records", "wall s", "packets/s",
                                              "decided by rule", "by policy"))
    res = {}
    for n in REPLAY_RULES:
        lines = [rule_line(r, i, "FORWARD", xs, xd) for i, r in enumerate(rules[:n])]
        state = os.path.join(tmp, "replay-state-%d" % n)
        uxt_restore(bindir, state, restore_text(lines))
        env = dict(os.environ, UXT_STATE=state)
        t0 = time.perf_counter()
        with open(os.devnull, "wb") as null:
            p = subprocess.run([os.path.join(bindir, "uxt"), "replay", "-q", cap,
                                "--host", hostfile], stdout=null,
                               stderr=subprocess.PIPE, env=env)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError("uxt replay failed: %s" % p.stderr.decode()[:300])
        # the counters it committed: every record passed FORWARD
        listing = sh(os.path.join(bindir, "iptables"), "-L", "FORWARD", "-v", "-x",
                     "-n", env=env, text=True).splitlines()
        policy = int(re.search(r"policy ACCEPT (\d+) packets", listing[0]).group(1))
        ruled = sum(int(l.split()[0]) for l in listing[2:] if l.strip())
        print("   %6d %10d %12.2f %10.0f %14d %14d" % (n, REPLAY_PACKETS, wall,
                                                    REPLAY_PACKETS / wall, ruled, policy))
        if policy + ruled != REPLAY_PACKETS:
            print("   WARNING: FORWARD counted %d packets, not %d"
                  % (policy + ruled, REPLAY_PACKETS))
        res[n] = wall
    print()
    os.unlink(cap)
    return res


# -------------------------------------------------------------- classifier

def engine_run(engine, state, hostfile, frames, mode, *args):
    env = dict(os.environ, UXT_CLASSIFIER=mode)
    return sh(engine, state, hostfile, frames, *args, env=env, text=True)


def classifier_row(bindir, engine, w, tmp, hostfile, label):
    """One ruleset of 6.: verdicts with the classifier off and on, then
    alternated timed runs off / on / baseline; the first-packet figures."""
    tag = label.replace(" ", "-")
    st_rules = os.path.join(tmp, "cls-rules-%s" % tag)
    st_base = os.path.join(tmp, "cls-base-%s" % tag)
    frames = os.path.join(tmp, "cls-frames-%s" % tag)
    t0 = time.perf_counter()
    uxt_restore(bindir, st_rules, w.rules_text())
    restore_s = time.perf_counter() - t0
    uxt_restore(bindir, st_base, w.baseline_text())
    write_frames(frames, w.dgrams, [0] * len(w.dgrams))
    out = {m: engine_run(engine, st_rules, hostfile, frames, m, "verdicts").splitlines()
           for m in ("off", "on")}
    same = out["off"] == out["on"]
    fates = [(l.split()[0], int(l.split()[2])) for l in out["off"]]
    keep = [i for i, (f, _) in enumerate(fates) if f in "AD"]
    w.dgrams = [w.dgrams[i] for i in keep]
    w.fates = [fates[i] for i in keep]
    write_frames(frames, w.dgrams, w.sels())
    runs = {"off": [], "on": [], "base": []}
    for _ in range(CLS_ROUNDS):
        for mode in ("off", "on", "base"):
            o = engine_run(engine, st_base if mode == "base" else st_rules, hostfile,
                           frames, "off" if mode == "base" else mode, "time",
                           ENGINE_SECONDS).split()
            packets, accepted = int(o[0]), int(o[4])
            if accepted * len(w.dgrams) != packets * w.accepted():
                raise RuntimeError("engine (%s): %d of %d accepted, expected %d per %d"
                                   % (mode, accepted, packets, w.accepted(),
                                      len(w.dgrams)))
            runs[mode].append(float(o[3]))
    first = [engine_run(engine, st_rules, hostfile, frames, "on", "first").split()
             for _ in range(3)]
    first.sort(key=lambda f: int(f[1]))
    f = first[0]
    off, on, base = min(runs["off"]), min(runs["on"]), min(runs["base"])
    nrules = int(f[6]) or w.n
    print("   %-12s %7d %7d %8.1f %10.1f %9.1f %9.1f %8.1fx %8.1f %8.0f %6.1f %8.1f %8.1f  %s"
          % (label, w.n, len(w.dgrams), w.mean_depth(), off, on, on - base,
             (off - base) / max(on - base, 1e-9) if on - base > 0 else float("inf"),
             int(f[2]) / 1e6, int(f[3]) / 1024, int(f[3]) / nrules if int(f[4]) else 0,
             restore_s * 1e3, (int(f[0]) + int(f[1])) / 1e6,
             "same rule decides each packet" if same else "MISMATCH"))
    if not same:
        diff = [i for i, (a, b) in enumerate(zip(out["off"], out["on"])) if a != b]
        print("          %d datagrams differ; first: #%d off '%s' on '%s'"
              % (len(diff), diff[0], out["off"][diff[0]], out["on"][diff[0]]))
    return same


def classifier_bench(bindir, engine, rules, trace, tmp, hostfile):
    print("6. the classifier (docs/classifier.md): the engine alone as in 2., each ruleset in")
    print("   FORWARD with UXT_CLASSIFIER=off (the plain walk) and =on; %d runs of each,"
          % CLS_ROUNDS)
    print("   alternated with the baseline of 2.; best runs.  'off'/'on': ns per packet;"
          " 'on rules':")
    print("   on minus the baseline (the cost of the rules with the classifier);"
          " 'speedup': of the")
    print("   rules' cost, off/on.  'build': the classifier's build time, 'KiB' and 'B/rule'"
          " its memory;")
    print("   'restore': uxt iptables-restore of the ruleset (wall); 'first': loading the"
          " committed")
    print("   state into the engine and the first datagram's verdict, which builds the"
          " classifier")
    print("   (engine_bench first, best of 3); 'check': the deciding rule of every datagram,"
          " off vs on")
    print()
    print("   %-12s %7s %7s %8s %10s %9s %9s %9s %8s %8s %6s %8s %8s  %s"
          % ("set", "rules", "packets", "depth", "off ns", "on ns", "on rules", "speedup",
             "build ms", "KiB", "B/rule", "restore", "first ms", "check"))
    ok = True
    rng = random.Random(6)
    for n in CLS_SIZES:
        w = Workload(n, rules, trace, rng)
        ok &= classifier_row(bindir, engine, w, tmp, hostfile, "acl1 %d" % n)
    for name in CLS_SETS:
        if not os.path.isfile(os.path.join(CLASSBENCH, name + ".xz")):
            continue
        r, t = parse_rules(name), parse_trace(name)
        w = Workload(len(r), r, t, rng)
        ok &= classifier_row(bindir, engine, w, tmp, hostfile, name.split("_")[0] +
                             " all")
    print()
    if not ok:
        raise RuntimeError("the classifier changed a deciding rule")


# ------------------------------------------------------------------ kernel

def kernel_setup(cpu, tag=""):
    snd, rtr, snk = (CLEAN.netns(tag + "send"), CLEAN.netns(tag + "router"),
                     CLEAN.netns(tag + "sink"))
    for ns in (snd, rtr, snk):
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
           "net.ipv6.conf.default.disable_ipv6=1", ns=ns)
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
       "net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.all.log_martians=0",
       ns=rtr)
    sh("ip", "link", "add", "s0", "netns", snd, "type", "veth", "peer", "name", "eth0",
       "netns", rtr)
    sh("ip", "link", "add", "s2", "netns", snd, "type", "veth", "peer", "name", "eth2",
       "netns", rtr)
    # eth1 leads to a sink namespace whose end receives the forwarded frames
    # as PACKET_OTHERHOST (addressed to a MAC nobody has) and drops them
    # first thing in ip_rcv
    sh("ip", "link", "add", "eth1", "netns", rtr, "type", "veth", "peer", "name", "k0",
       "netns", snk)
    sh("ip", "-n", snk, "link", "set", "k0", "up")
    for dev, addr in (("eth0", "192.0.2.1/30"), ("eth1", "203.0.113.1/30"),
                      ("eth2", "198.51.100.1/30")):
        sh("ip", "-n", rtr, "addr", "add", addr, "dev", dev)
        sh("ip", "-n", rtr, "link", "set", dev, "up")
        sh("sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=0" % dev, ns=rtr)
    sh("ip", "-n", rtr, "link", "set", "lo", "up")
    sh("ip", "-n", rtr, "route", "add", "default", "via", "203.0.113.2")
    sh("ip", "-n", rtr, "neigh", "add", "203.0.113.2", "lladdr", "02:00:00:00:00:fe",
       "dev", "eth1", "nud", "permanent")
    for dev in ("s0", "s2"):
        sh("ip", "-n", snd, "link", "set", dev, "up")
    macs = [sh("cat", "/sys/class/net/%s/address" % d, ns=rtr, text=True).strip()
            for d in ("eth0", "eth2")]
    return snd, rtr, macs


def counter(ns, dev, name):
    return int(sh("cat", "/sys/class/net/%s/statistics/%s" % (dev, name), ns=ns,
                  text=True))


def kernel_send(sender, snd, frames, cpu, macs, mode, arg):
    o = sh(sender, frames, cpu, "s0", macs[0], "s2", macs[1], mode, arg,
           ns=snd, text=True).split()
    return int(o[0]), float(o[1])


def legacy_restore(ns, text):
    sh("iptables-legacy-restore", input=text.encode(), ns=ns)


def kernel_check(rtr, snd, sender, cpu, macs, w):
    """One pass with zeroed counters: the kernel's per-rule counts against
    the deciding rules the engine reported for the same datagrams."""
    sh("iptables-legacy", "-Z", "FORWARD", ns=rtr)
    kernel_send(sender, snd, w.frames, cpu, macs, "count", len(w.dgrams))
    save = sh("iptables-legacy-save", "-c", "-t", "filter", ns=rtr, text=True)
    got = [0] * (w.n + 2)
    k = 0
    for line in save.splitlines():
        m = re.match(r":FORWARD ACCEPT \[(\d+):", line)
        if m:
            got[w.n + 1] = int(m.group(1))
        m = re.match(r"\[(\d+):\d+\] -A FORWARD ", line)
        if m:
            k += 1
            got[k] = int(m.group(1))
    want = w.histogram()
    if k != w.n:
        return "kernel holds %d rules, not %d" % (k, w.n)
    diff = [i for i in range(1, w.n + 2) if got[i] != want[i]]
    if diff:
        i = diff[0]
        return ("kernel and uxtables differ on %d rules; first: rule %d, kernel %d "
                "packets, uxtables %d" % (len(diff), i, got[i], want[i]))
    return None


def kernel_bench(sender, work):
    cpu = max(os.sched_getaffinity(0))
    snd, rtr, macs = kernel_setup(cpu)
    print("4. packet path, kernel %s, iptables-legacy: the same rules and datagrams"
          % os.uname().release)
    print("   Ethernet frames sent with AF_PACKET/sendmmsg (bench/kernel_send, pinned to"
          " CPU %d)" % cpu)
    print("   over veth into a forwarding namespace: eth0 (eth2 for those the rules drop)"
          " ->")
    print("   ip_rcv, routing, FORWARD, POSTROUTING -> veth eth1 -> a sink namespace that"
          " drops them")
    print("   (not for its MAC).  The receiving softirqs run inside the sender's sendmmsg,"
          " so wall")
    print("   time / packets is the kernel's whole cost per packet, AF_PACKET send and veth"
          " included;")
    print("   %d runs of >= %.1f s each, alternated with the baseline as in 2."
          % (KERNEL_ROUNDS, KERNEL_SECONDS))
    print("   (iptables-legacy-restore of the ruleset or the baseline before each run);"
          " best runs.")
    print("   'check': one more pass with zeroed counters; the packet count of each rule"
          " and the")
    print("   policy (iptables-legacy-save -c) against the deciding rule uxtables found"
          " for each")
    print("   datagram in 2.; every run's forwarded count (eth1 tx_packets) is checked too")
    print()
    print("   %6s %7s %8s %8s %9s %12s %8s  %s" % ("rules", "packets", "ns/pkt",
                                                 "base ns", "rules ns", "range",
                                                 "ns/rule", "check"))
    res = {}
    for w in work:
        m = Paired()
        problems = []
        for _ in range(KERNEL_ROUNDS):
            for with_rules in (True, False):
                legacy_restore(rtr, w.rules_text() if with_rules else w.baseline_text())
                tx0 = counter(rtr, "eth1", "tx_packets")
                packets, secs = kernel_send(sender, snd, w.frames, cpu, macs, "time",
                                            KERNEL_SECONDS)
                tx = counter(rtr, "eth1", "tx_packets") - tx0
                want = packets // len(w.dgrams) * w.accepted()
                if tx != want:
                    problems.append("%s: %d forwarded, %d expected" %
                                    ("rules" if with_rules else "baseline", tx, want))
                m.add(with_rules, secs * 1e9 / packets)
        legacy_restore(rtr, w.rules_text())
        why = kernel_check(rtr, snd, sender, cpu, macs, w)
        if why:
            problems.append(why)
        res[w.n] = m
        print("   %6d %7d %8.1f %8.1f %9.1f %12s %8.2f  %s" %
              (w.n, len(w.dgrams), m.ns_rules(), m.ns_base(), m.cost(), m.spread(),
               m.cost() / w.mean_depth(),
               "same rule decides each packet" if not problems else "MISMATCH"))
        for p in problems[:3]:
            print("          " + p)
    print()
    return res


# -------------------------------------------------- connection tracking (7.)

CT_NEW = 200000            # new connections per timed pass
CT_FLOWS = 16384           # established flows
CT_FILL = 1000000          # concurrent entries for the memory figure
CT_ROUNDS = 5
CT_SECONDS = 0.3
CT_RULES = ["-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A FORWARD -m conntrack --ctstate NEW -j ACCEPT"]
# the same fate for every datagram, without connection tracking
CT_BASE = ["-A FORWARD -p udp -j ACCEPT"]
CT_DST = 0xC6120001        # 198.18.0.1, behind eth1 (the default route)


def ct_flow(i):
    """The i-th UDP flow: (source address, source port); 50,000 ports per
    source address from 10.0.0.1 on."""
    return 0x0A000001 + i // 50000, 1024 + i % 50000


def ct_frames(path, first, count, replies=False):
    """count UDP flows from the first: their first datagrams, received on
    eth0 (selector 0), and with replies also each flow's answer, received
    on eth2 (selector 1: any interface will do for conntrack, and eth2's
    answers are forwarded out of eth1 too)."""
    out = []
    for i in range(first, first + count):
        src, sport = ct_flow(i)
        d = datagram(src, CT_DST, sport, 53, 17)
        out.append(b"\x00" + len(d).to_bytes(2, "big") + d)
        if replies:
            r = datagram(CT_DST, src, 53, sport, 17)
            out.append(b"\x01" + len(r).to_bytes(2, "big") + r)
    with open(path, "wb") as f:
        f.write(b"".join(out))


def slab_bytes(cache):
    """Memory of a slab cache (/proc/slabinfo: slabs x pages per slab) and
    the size of its objects."""
    with open("/proc/slabinfo") as f:
        for line in f:
            p = line.split()
            if p and p[0] == cache:
                return int(p[14]) * int(p[5]) * os.sysconf("SC_PAGE_SIZE"), int(p[3])
    raise RuntimeError("no %s cache in /proc/slabinfo" % cache)


def meminfo_slab():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1]) * 1024
    return 0


def ct_uxt(bindir, ctb, tmp, hostfile, frames):
    st_ct, st_base = os.path.join(tmp, "ct-rules"), os.path.join(tmp, "ct-base")
    uxt_restore(bindir, st_ct, restore_text(CT_RULES))
    uxt_restore(bindir, st_base, restore_text(CT_BASE))

    def run(state, *args):
        o = sh(ctb, state, hostfile, *args, text=True, env=PLAIN_WALK).split()
        return float(o[2]), int(o[0]), int(o[3]), int(o[4]), int(o[5])

    res = {"new": Paired(), "est": Paired()}
    for _ in range(CT_ROUNDS):
        for with_ct in (True, False):
            ns, n, acc, ent, _ = run(st_ct if with_ct else st_base, frames["new"], "once")
            if acc != n or ent != (CT_NEW if with_ct else 0):
                raise RuntimeError("ct_bench new: %d of %d forwarded, %d entries"
                                   % (acc, n, ent))
            res["new"].add(with_ct, ns)
            ns, n, acc, ent, _ = run(st_ct if with_ct else st_base, frames["est"], "time",
                                     CT_SECONDS, frames["prep"])
            if acc != n or ent != (CT_FLOWS if with_ct else 0):
                raise RuntimeError("ct_bench established: %d of %d forwarded, %d entries"
                                   % (acc, n, ent))
            res["est"].add(with_ct, ns)
    ns, n, acc, ent, rss = run(st_ct, frames["fill"], "once")
    res["fill"] = (ns, ent, rss)
    return res


def ct_kernel(sender, frames):
    cpu = max(os.sched_getaffinity(0))
    snd, rtr, macs = kernel_setup(cpu, "ct")
    # read once nf_conntrack is loaded (the first conntrack ruleset loads it)
    ctmax, old_max = "/proc/sys/net/netfilter/nf_conntrack_max", None

    def count():
        return int(sh("cat", "/proc/sys/net/netfilter/nf_conntrack_count", ns=rtr,
                      text=True))

    def flush():
        sh("conntrack", "-F", ns=rtr)

    res = {"new": Paired(), "est": Paired()}
    try:
        for _ in range(CT_ROUNDS):
            for with_ct in (True, False):
                flush()
                legacy_restore(rtr, restore_text(CT_RULES if with_ct else CT_BASE))
                tx0 = counter(rtr, "eth1", "tx_packets")
                n, secs = kernel_send(sender, snd, frames["new"], cpu, macs, "count", CT_NEW)
                tx, ent = counter(rtr, "eth1", "tx_packets") - tx0, count()
                if tx != n or ent != (CT_NEW if with_ct else 0):
                    raise RuntimeError("kernel new: %d of %d forwarded, %d entries"
                                       % (tx, n, ent))
                res["new"].add(with_ct, secs * 1e9 / n)
                flush()
                if with_ct:
                    kernel_send(sender, snd, frames["prep"], cpu, macs, "count",
                                2 * CT_FLOWS)
                tx0 = counter(rtr, "eth1", "tx_packets")
                n, secs = kernel_send(sender, snd, frames["est"], cpu, macs, "time",
                                      CT_SECONDS)
                tx = counter(rtr, "eth1", "tx_packets") - tx0
                if tx != n:
                    raise RuntimeError("kernel established: %d of %d forwarded" % (tx, n))
                if with_ct:
                    seen = sh("conntrack", "-L", "-u", "SEEN_REPLY", ns=rtr,
                              text=True).count("\n")
                    if seen != CT_FLOWS:
                        raise RuntimeError("kernel established: %d of %d flows answered"
                                           % (seen, CT_FLOWS))
                res["est"].add(with_ct, secs * 1e9 / n)
        # 1M entries: the limit raised for the run (the kernel's is global)
        with open(ctmax) as f:
            old_max = f.read().strip()
        with open(ctmax, "w") as f:
            f.write(str(CT_FILL + CT_FILL // 4))
        flush()
        legacy_restore(rtr, restore_text(CT_RULES))
        time.sleep(1)
        slab0, meminfo0 = slab_bytes("nf_conntrack")[0], meminfo_slab()
        n, secs = kernel_send(sender, snd, frames["fill"], cpu, macs, "count", CT_FILL)
        ent = count()
        slab1, objsize = slab_bytes("nf_conntrack")
        meminfo1 = meminfo_slab()
        res["fill"] = (secs * 1e9 / n, ent, slab1 - slab0, meminfo1 - meminfo0, objsize)
        flush()
    finally:
        if old_max is not None:
            with open(ctmax, "w") as f:
                f.write(old_max)
    return res


def ct_section(bindir, ctb, sender, tmp, hostfile):
    """7.: new connections per second, the cost of an established packet,
    1M concurrent entries and their memory; uxtables and the kernel."""
    frames = {k: os.path.join(tmp, "ct-%s" % k) for k in ("new", "prep", "est", "fill")}
    t0 = time.perf_counter()
    ct_frames(frames["new"], 0, CT_NEW)
    ct_frames(frames["prep"], CT_NEW, CT_FLOWS, replies=True)
    ct_frames(frames["est"], CT_NEW, CT_FLOWS)
    ct_frames(frames["fill"], CT_NEW + CT_FLOWS, CT_FILL)
    made = time.perf_counter() - t0
    print("7. connection tracking: UDP datagrams forwarded eth0 -> eth1, FORWARD:")
    for r in CT_RULES:
        print("      " + r)
    print("   against the baseline '%s' (no rule needs conntrack: it does not run)."
          % CT_BASE[0])
    print("   uxtables: bench/ct_bench (libuxt in-process, as 2.); kernel: frames over"
          " veth as in 4.")
    print("   'new': %d datagrams of distinct flows, one timed pass on an empty table"
          " (flushed" % CT_NEW)
    print("   before each kernel run): each makes an entry.  'established': %d flows,"
          " first packet" % CT_FLOWS)
    print("   and reply sent untimed, then their first datagrams again for >= %.1f s:"
          " every packet" % CT_SECONDS)
    print("   finds its ESTABLISHED entry.  %d runs of each, alternated with the baseline;"
          " best runs;" % CT_ROUNDS)
    print("   'ct ns' = best with conntrack - best baseline, 'range' of the paired"
          " differences.")
    print("   Datagrams made in %.1f s (not timed)." % made)
    print()
    u = ct_uxt(bindir, ctb, tmp, hostfile, frames)
    k = ct_kernel(sender, frames)
    print("   %-12s %-9s %8s %8s %8s %12s %14s" % ("", "", "ns/pkt", "base ns", "ct ns",
                                               "range", "per second"))
    for key, label in (("new", "new conns"), ("est", "established")):
        for who, m in (("uxtables", u[key]), ("kernel", k[key])):
            print("   %-12s %-9s %8.1f %8.1f %8.1f %12s %14.0f" %
                  (label, who, m.ns_rules(), m.ns_base(), m.cost(), m.spread(),
                   1e9 / m.ns_rules()))
            label = ""
    print("   ('per second': packets per second with conntrack, whole path; for 'new'"
          " that is new")
    print("   connections per second)")
    print()
    uns, uent, urss = u["fill"]
    kns, kent, kslab, kmeminfo, kobj = k["fill"]
    print("   %d concurrent entries (nf_conntrack_max raised to %d for the run, the"
          " kernel's" % (CT_FILL, CT_FILL + CT_FILL // 4))
    print("   restored after; 262144 hash buckets on both sides): one pass of %d new"
          " flows" % CT_FILL)
    print()
    print("   %-9s %8s %10s %12s %10s  %s" % ("", "ns/pkt", "entries", "memory MiB",
                                             "B/entry", "memory measured as"))
    print("   %-9s %8.1f %10d %12.1f %10.0f  %s" % (
        "uxtables", uns, uent, urss / 2**20, urss / max(uent, 1),
        "resident memory growth of ct_bench (/proc/self/statm)"))
    print("   %-9s %8.1f %10d %12.1f %10.0f  %s" % (
        "kernel", kns, kent, kslab / 2**20, kslab / max(kent, 1),
        "nf_conntrack slab growth (/proc/slabinfo, %s-byte objects)" % kobj))
    print("   %-9s %8s %10s %12.1f %10.0f  %s" % (
        "", "", "", kmeminfo / 2**20, kmeminfo / max(kent, 1),
        "all slab growth (/proc/meminfo Slab: extensions too; others' noise)"))
    print()
    for p in frames.values():
        os.unlink(p)


# -------------------------------------------------------------------- live (8.)

LIVE_SIZES = (10, 1000, 10000, 100000)
LIVE_SECONDS = 2.0
LIVE_ROUNDS = 3


def live_section(bindir, kernel_send):
    import live_bench      # bench/, beside this file
    print("8. the live path: packets per second forwarded through uxt daemon (NFQUEUE) and"
          " through")
    print("   the kernel's iptables-legacy, the same ruleset and traffic"
          " (bench/live_bench.py)")
    live_bench.print_header(LIVE_SECONDS, LIVE_ROUNDS, 1)
    live_bench.run(bindir, kernel_send, LIVE_SIZES, LIVE_SECONDS, LIVE_ROUNDS, 1)
    print()


# -------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--engine-bench", help="bench/engine_bench (all sections but cli)")
    ap.add_argument("--kernel-send", help="bench/kernel_send (kernel, live)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ct-bench", help="bench/ct_bench (7.; left out without it)")
    ap.add_argument("--only", choices=["cli", "engine", "replay", "kernel", "classifier",
                                       "ct", "live"],
                    action="append")
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("iptables-legacy"):
        print("bench: needs root and iptables-legacy (the kernel is the baseline)")
        return 1
    for name in ("acl1_100k.xz", "acl1_100k_trace.xz"):
        if not os.path.isfile(os.path.join(CLASSBENCH, name)):
            print("bench: %s not found (ClassBench files are read from %s)"
                  % (name, CLASSBENCH))
            return 1
    only = set(a.only or ["cli", "engine", "replay", "kernel", "classifier", "ct",
                          "live"])
    if "kernel" in only:
        only.add("engine")      # the kernel figures use the engine's fates
    # 'python3 bench/run.py --only cli' needs neither helper program
    for opt, sections in (("engine_bench", {"engine", "replay", "kernel", "classifier"}),
                          ("kernel_send", {"kernel", "live"} |
                           ({"ct"} if a.ct_bench else set()))):
        if only & sections and not getattr(a, opt):
            print("bench: --%s is needed for %s" % (opt.replace("_", "-"),
                                                   ", ".join(sorted(only & sections))))
            return 1
    bindir = os.path.abspath(a.bin)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    remove_stale()
    t_start = time.perf_counter()
    try:
        rules = parse_rules("acl1_100k")
        trace = parse_trace("acl1_100k")
        print("uxtables bench, %s, %d CPUs, load average %.2f; ClassBench acl1_100k:"
              " %d rules," % (time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(),
                             os.getloadavg()[0], len(rules)))
        print("%d trace headers.  Other work on the machine shows as wide ranges in 2."
              " and 4." % len(trace))
        print()
        if "cli" in only:
            cli_bench(bindir, a.runs, rules)
        tmp = CLEAN.tmpdir("pkt")
        hostfile = os.path.join(tmp, "host")
        with open(hostfile, "w") as f:
            f.write(HOST)
        if only & {"engine", "kernel"}:
            rng = random.Random(1)
            work = [Workload(n, rules, trace, rng) for n in SIZES]
            print("packet-path workload (2., 4.)")
            print("   rulesets: the first N rules of acl1_100k in FORWARD, every third DROP,"
                  " the others ACCEPT;")
            print("   datagrams: the trace headers drawn from those N rules, the first octet"
                  " of every source")
            print("   and destination XORed with a constant, in rules and headers alike"
                  " (prefix matching is")
            print("   kept), so that most can be forwarded; those that still cannot be are"
                  " left out; at most")
            print("   %d (a seeded sample).  'depth': mean number of the deciding rule;"
                  " 'drop': share the" % MAX_HEADERS)
            print("   rules drop.")
            for w in work:
                print("   N=%-6d XOR 0x%02x/0x%02x: %6d headers drawn, %6d forwardable,"
                      " %5d used" % (w.n, w.xs >> 24, w.xd >> 24, w.drawn, w.forwardable,
                                     len(w.headers)))
            print()
            eng = engine_bench(bindir, a.engine_bench, work, tmp, hostfile)
        if "replay" in only:
            replay_bench(bindir, rules, trace, tmp, hostfile)
        if "kernel" in only:
            kern = kernel_bench(a.kernel_send, work)
            print("5. summary: the ruleset's cost per packet (with rules - baseline), the same"
                  " datagrams,")
            print("   in ns; per rule: divided by the mean depth")
            print()
            print("   %6s %7s %12s %12s %12s %12s %8s" % ("rules", "depth", "uxtables",
                                                       "kernel", "uxt/rule",
                                                       "kernel/rule", "ratio"))
            for w in work:
                u, k = eng[w.n].cost(), kern[w.n].cost()
                d = w.mean_depth()
                ratio = ("%7.2fx" % (k / u) if eng[w.n].clear() and kern[w.n].clear()
                         else "  noise")
                print("   %6d %7.1f %12.1f %12.1f %12.2f %12.2f %8s" %
                      (w.n, d, u, k, u / d, k / d, ratio))
            print("   (ratio: kernel / uxtables; above 1, uxtables walks the rules faster."
                  "  'noise': a")
            print("   paired difference in 2. or 4. was not positive, the cost is not clear of"
                  " the noise)")
            print()
        if "classifier" in only:
            classifier_bench(bindir, a.engine_bench, rules, trace, tmp, hostfile)
        if "ct" in only and a.ct_bench:
            ct_section(bindir, a.ct_bench, a.kernel_send, tmp, hostfile)
        elif "ct" in only:
            print("7. connection tracking: left out (no --ct-bench)")
        if "live" in only:
            live_section(bindir, a.kernel_send)
    except KeyboardInterrupt as e:
        print("bench: interrupted (%s), cleaning up" % (e or "SIGINT"), file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
        print("bench: %s" % e, file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        CLEAN.run()
    print("bench: %.0f s in all, load average %.2f at the end"
          % (time.perf_counter() - t_start, os.getloadavg()[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
