#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Packets per second through the live path: uxt daemon against the kernel's
iptables-legacy, same ruleset, same traffic, same run.

  python3 bench/live_bench.py --bin BUILD/bin --kernel-send BUILD/bench/kernel_send
                              [--rules 10,1000,10000,100000] [--seconds 2]
                              [--rounds 3] [--queues 1] [--no-rps] [--json]

Three namespaces per side: gen -- dut (the router) -- sink, built the same
way for the kernel and for uxtables.  gen sends 60-byte UDP datagrams (64
flows: source ports 20000-20063) as Ethernet frames to dut's MAC with
bench/kernel_send (AF_PACKET, sendmmsg, pinned to CPU 0).  dut forwards them
to 10.11.0.9, which has a permanent neighbour entry with a MAC nobody has:
sink receives each frame as PACKET_OTHERHOST and drops it in ip_rcv, so
nothing comes back (no ICMP, no ARP).  dut's receive work is steered to
the last CPU (RPS on the veth), where uxt daemon is also pinned: each side
has that one CPU for all of the router's work, the generator the other
(--no-rps: the receive work stays in the sender's system call, on CPU 0).

dut's FORWARD chain holds N rules none of which matches the traffic
(distinct /32 sources, as a blocklist), then ACCEPT, so the kernel's walk
visits every rule.  The figure is delivered packets per second: sink's
receive counter over a window of the sender's steady state (after a
warm-up, before the sender stops), best of --rounds rounds, the kernel's
and uxtables' rounds alternated.  The check: dut's ACCEPT rule counted
every datagram sink received (iptables-legacy's counters, or uxtables'
live counters through the daemon), so each figure is of packets that went
through the rules and were forwarded (the datagrams dut's k0 could not
hand to sink because the receiving CPU's backlog was full, which veth
counts as tx_dropped, are accounted for and shown).

bench/run.py calls run() (--only live); alone it prints the same table.
Namespaces are named uxtb-PID-..., state directories uxt-bench-PID-... (as
run.py's, whose next run removes what a killed run left); everything is
removed at the end, also on failure.
"""

import argparse
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

FLOWS = 64
SINK_ADDR = "10.11.0.9"
SINK_MAC = "02:00:00:00:00:09"     # nobody's: sink drops as OTHERHOST
WARMUP = 0.5                       # seconds of sending before the window

READER = r"""
import sys, time
path = "/sys/class/net/eth0/statistics/rx_packets"
def rd():
    with open(path) as f:
        return int(f.read())
time.sleep(float(sys.argv[1]))
a, t0 = rd(), time.monotonic()
time.sleep(float(sys.argv[2]))
b, t1 = rd(), time.monotonic()
print(b - a, t1 - t0)
"""


def sh(argv, check=True, **kw):
    p = subprocess.run(argv, capture_output=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(str(a) for a in argv[:8]),
                                       p.stderr.decode(errors="replace").strip()))
    return p.stdout.decode(errors="replace")


def ip_checksum(hdr):
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def write_frames(path):
    """kernel_send's format: interface byte, length, datagram; one UDP
    datagram (32 bytes of payload, no checksum) per flow."""
    src = bytes([10, 10, 0, 2])
    dst = bytes(int(x) for x in SINK_ADDR.split("."))
    with open(path, "wb") as f:
        for i in range(FLOWS):
            udp = struct.pack("!HHHH", 20000 + i, 9, 8 + 32, 0) + b"x" * 32
            hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i + 1, 0,
                              64, 17, 0, src, dst)
            d = hdr[:10] + struct.pack("!H", ip_checksum(hdr)) + hdr[12:] + udp
            f.write(bytes([0]) + len(d).to_bytes(2, "big") + d)


class Topo:
    """gen -- dut -- sink, as the module's docstring says."""

    def __init__(self, tag, router_cpu, rps=True):
        pre = "uxtb-%d-live%s-" % (os.getpid(), tag)
        self.ns = {n: pre + n for n in ("gen", "dut", "sink")}
        self.made = []
        try:
            for n in self.ns.values():
                sh(["ip", "netns", "add", n])
                self.made.append(n)
                self.x_ns(n, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
                self.x_ns(n, ["sysctl", "-qw",
                              "net.ipv6.conf.default.disable_ipv6=1"])
                sh(["ip", "-n", n, "link", "set", "lo", "up"])
            g, d, k = self.ns["gen"], self.ns["dut"], self.ns["sink"]
            sh(["ip", "link", "add", "g0", "netns", d, "type", "veth", "peer",
                "name", "eth0", "netns", g])
            sh(["ip", "link", "add", "k0", "netns", d, "type", "veth", "peer",
                "name", "eth0", "netns", k])
            for ns, dev, a in ((d, "g0", "10.10.0.1/24"), (d, "k0", "10.11.0.1/24"),
                               (g, "eth0", "10.10.0.2/24"),
                               (k, "eth0", "10.11.0.2/24")):
                sh(["ip", "-n", ns, "addr", "add", a, "dev", dev])
                sh(["ip", "-n", ns, "link", "set", dev, "up"])
            for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                        "net.ipv4.conf.g0.rp_filter=0"):
                self.x("dut", ["sysctl", "-qw", key])
            sh(["ip", "-n", d, "neigh", "replace", SINK_ADDR, "lladdr", SINK_MAC,
                "nud", "permanent", "dev", "k0"])
            # the router's receive work on router_cpu, for both sides
            if rps:
                mask = "%x" % (1 << router_cpu)
                self.x("dut", ["sh", "-c", "echo %s > /sys/class/net/g0/queues/rx-0/rps_cpus"
                               % mask])
            self.dut_mac = self.x("dut", ["cat", "/sys/class/net/g0/address"]).strip()
        except Exception:
            self.close()
            raise

    def x_ns(self, ns, argv, **kw):
        return sh(["ip", "netns", "exec", ns] + list(argv), **kw)

    def x(self, who, argv, **kw):
        return self.x_ns(self.ns[who], argv, **kw)

    def sink_rx(self):
        return int(self.x("sink", ["cat", "/sys/class/net/eth0/statistics/rx_packets"]))

    def wait_quiet(self, limit=60.0):
        """Until nothing has reached sink for 0.3 s (what is queued is
        through), at most limit seconds."""
        deadline = time.time() + limit
        last = self.sink_rx()
        while time.time() < deadline:
            time.sleep(0.3)
            now = self.sink_rx()
            if now == last:
                return
            last = now

    def k0_dropped(self):
        """Frames dut's k0 could not hand to sink (veth counts them as
        tx_dropped: the receiving CPU's backlog was full)."""
        return int(self.x("dut", ["cat", "/sys/class/net/k0/statistics/tx_dropped"]))

    def send(self, sender, frames, mode, arg):
        out = self.x("gen", [sender, frames, "0", "eth0", self.dut_mac, "eth0",
                             self.dut_mac, mode, str(arg)]).split()
        return int(out[0]), float(out[1])

    def measure(self, sender, frames, seconds, rate=None):
        """Delivered packets/s in a window of the sender's steady state, and
        the rate it offered (at most rate per second, if given)."""
        pace = ["rate", "%.0f" % rate] if rate else []
        gen = subprocess.Popen(["ip", "netns", "exec", self.ns["gen"], sender, frames,
                                "0", "eth0", self.dut_mac, "eth0", self.dut_mac,
                                "time", str(seconds + 2 * WARMUP)] + pace,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out = self.x("sink", ["python3", "-c", READER, str(WARMUP),
                                  str(seconds)], timeout=seconds + 60).split()
            sent, secs = gen.communicate(timeout=seconds + 60)[0].split()
        finally:
            if gen.poll() is None:
                gen.kill()
                gen.wait()
        if gen.returncode != 0:
            raise RuntimeError("kernel_send: exit %s" % gen.returncode)
        return int(out[0]) / float(out[1]), int(sent) / float(secs)

    def close(self):
        for n in reversed(self.made):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        self.made = []


def best_rate(topo, sender, frames, seconds):
    """The most packets/s the router delivers, and the rate offered then.

    Offered more than it can take, a router may deliver less than at its
    limit: the receive softirq of a CPU the daemon shares keeps queueing
    packets that the full queue then drops, taking the CPU from the daemon
    (receive livelock).  So after the sender's full speed, the offered rate
    is halved for as long as halving delivers more (by 10%), and then the
    rate just above the best delivered is tried; the best of all counts.
    Where the router simply runs at its limit (the kernel), halving does
    not deliver more and one more measurement ends it."""
    best, offered = topo.measure(sender, frames, seconds)
    tried = [(best, offered)]
    rate = offered / 2
    while rate >= 1000 and len(tried) < 12:
        pps, off = topo.measure(sender, frames, seconds, rate)
        tried.append((pps, off))
        if pps <= best * 1.1:
            break
        best = pps
        rate /= 2
    top = max(tried)
    if top[1] > 0 and top[0] >= 0.95 * top[1]:
        # delivered all it was offered: there may be room above
        tried.append(topo.measure(sender, frames, seconds, top[0] * 1.3))
    return max(tried)


def rules_text(n):
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
             ":OUTPUT ACCEPT [0:0]"]
    for i in range(n):
        lines.append("-A FORWARD -s 172.%d.%d.%d/32 -p udp --dport %d -j DROP" %
                     (16 + (i >> 16) % 16, (i >> 8) & 255, i & 255, 1000 + i % 50000))
    lines.append("-A FORWARD -j ACCEPT")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def accept_count(listing):
    """The packet count of FORWARD's last rule (the ACCEPT) in
    'iptables -L FORWARD -v -x -n' output."""
    rows = [l.split() for l in listing.splitlines()[2:] if l.strip()]
    return int(rows[-1][0]) if rows else -1


class Side:
    """One router: the kernel's iptables-legacy or uxt daemon."""

    def __init__(self, kind, n, bindir, router_cpu, queues, rps):
        self.kind = kind
        self.topo = Topo("k" if kind == "kernel" else "u", router_cpu, rps)
        self.daemon = None
        self.state = None
        self.env = None
        self.best = 0.0
        self.offered = 0.0
        self.status = ""
        text = rules_text(n).encode()
        uxt = os.path.join(bindir, "uxt")
        try:
            if kind == "kernel":
                self.topo.x("dut", ["iptables-legacy-restore"], input=text, timeout=900)
                self.ipt = ["iptables-legacy"]
                return
            base = "/dev/shm" if os.path.isdir("/dev/shm") else None
            self.state = tempfile.mkdtemp(prefix="uxt-bench-%d-live-" % os.getpid(),
                                          dir=base)
            self.env = dict(os.environ, UXT_STATE=self.state)
            self.ipt = [os.path.join(bindir, "iptables")]
            self.topo.x("dut", [os.path.join(bindir, "iptables-restore")], input=text,
                        env=self.env, timeout=900)
            cpus = ",".join(str(c) for c in
                            range(max(0, router_cpu + 1 - queues), router_cpu + 1))
            # its messages to a file: a pipe nobody reads could fill up
            errpath = os.path.join(self.state, "stderr")
            with open(errpath, "wb") as errf:
                self.daemon = subprocess.Popen(
                    ["ip", "netns", "exec", self.topo.ns["dut"], "taskset", "-c", cpus,
                     uxt, "daemon", "--foreground", "--queues", str(queues),
                     "--log", os.path.join(self.state, "log")],
                    env=self.env, stdout=subprocess.DEVNULL, stderr=errf)
            self.uxt = uxt
            deadline = time.time() + 120
            while True:
                if self.daemon.poll() is not None:
                    with open(errpath, "rb") as f:
                        raise RuntimeError("uxt daemon: " +
                                           f.read().decode(errors="replace"))
                p = subprocess.run(["ip", "netns", "exec", self.topo.ns["dut"], uxt,
                                    "daemon", "--status"], env=self.env,
                                   capture_output=True)
                if p.returncode == 0:
                    break
                if time.time() > deadline:
                    raise RuntimeError("uxt daemon: not serving after 120 s")
                time.sleep(0.1)
        except Exception:
            self.close()
            raise

    def forwarded(self):
        return accept_count(self.topo.x("dut", self.ipt + ["-L", "FORWARD", "-v", "-x",
                                                            "-n"], env=self.env))

    def read_status(self):
        if self.daemon:
            self.status = self.topo.x("dut", [self.uxt, "daemon", "--status"],
                                      env=self.env)

    def close(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(60)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.daemon = None
        self.topo.close()
        if self.state:
            shutil.rmtree(self.state, ignore_errors=True)
            self.state = None


def status_field(text, name):
    m = re.search(r"^%s (\d+)$" % name, text, re.M)
    return int(m.group(1)) if m else -1


def run(bindir, kernel_send, rule_counts=(10, 1000, 10000, 100000), seconds=2.0,
        rounds=3, queues=1, rps=True, log=print):
    """Returns [{"rules": N, "kernel_pps": x, "uxt_pps": y, ...}, ...]."""
    bindir = os.path.abspath(bindir)
    kernel_send = os.path.abspath(kernel_send)
    ncpu = os.cpu_count() or 1
    router_cpu = ncpu - 1
    tmp = tempfile.mkdtemp(prefix="uxt-bench-%d-live-" % os.getpid(),
                           dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    frames = os.path.join(tmp, "frames")
    rows = []
    try:
        write_frames(frames)
        for n in rule_counts:
            sides = []
            try:
                sides.append(Side("kernel", n, bindir, router_cpu, queues, rps))
                sides.append(Side("uxt", n, bindir, router_cpu, queues, rps))
                for s in sides:
                    # builds what is built on first use (the classifier)
                    s.topo.send(kernel_send, frames, "count", 2000)
                    s.topo.wait_quiet()
                    s.topo.x("dut", s.ipt + ["-Z", "FORWARD"], env=s.env)
                    s.rx0 = s.topo.sink_rx()
                    s.drop0 = s.topo.k0_dropped()
                for _ in range(rounds):
                    for s in sides:
                        pps, offered = best_rate(s.topo, kernel_send, frames, seconds)
                        if pps > s.best:
                            s.best, s.offered = pps, offered
                row = {"rules": n}
                checks = []
                for s in sides:
                    s.topo.wait_quiet()
                for s in sides:
                    got = s.topo.sink_rx() - s.rx0
                    lost = s.topo.k0_dropped() - s.drop0
                    fwd = s.forwarded()
                    s.read_status()
                    row[s.kind + "_pps"] = s.best
                    row[s.kind + "_offered"] = s.offered
                    row[s.kind + "_sink"] = got
                    row[s.kind + "_accepted"] = fwd
                    row[s.kind + "_tx_dropped"] = lost
                    if fwd != got + lost:
                        checks.append("%s: ACCEPT counted %d, sink received %d"
                                      " (%d dropped on the way)"
                                      % (s.kind, fwd, got, lost))
                    elif lost:
                        checks.append("%s: ok, %d accepted dropped by veth (full"
                                      " backlog)" % (s.kind, lost))
                row["uxt_lost"] = status_field(sides[1].status, "lost")
                row["uxt_overruns"] = status_field(sides[1].status, "overruns")
                row["check"] = "; ".join(checks) if checks else "ok"
            finally:
                for s in sides:
                    s.close()
            rows.append(row)
            log("   %7d %12.0f %12.0f %12.0f %7.2fx  %s" %
                (n, row["kernel_pps"], row["uxt_pps"], row["uxt_offered"],
                 row["uxt_pps"] / row["kernel_pps"] if row["kernel_pps"] else 0,
                 row["check"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def print_header(seconds, rounds, queues, rps=True, log=print):
    cpu = (os.cpu_count() or 1) - 1
    log("   gen -> dut (the router) -> sink, three namespaces per side, built alike;"
        " %d UDP flows," % FLOWS)
    log("   60-byte datagrams, sent as frames by bench/kernel_send (AF_PACKET) on CPU 0;"
        " uxt daemon")
    if rps:
        log("   (%d queue%s) on CPU %d, where dut's receive work is steered (RPS) on"
            " both sides." % (queues, "" if queues == 1 else "s", cpu))
    else:
        log("   (%d queue%s) on CPU %d; dut's receive work where veth puts it (in the"
            " sender, CPU 0)." % (queues, "" if queues == 1 else "s", cpu))
    log("   FORWARD: N rules that match nothing (/32 sources), then ACCEPT.  Delivered"
        " packets/s:")
    log("   sink's receive counter over %.1f s of the sender's steady state, best of %d"
        " rounds," % (seconds, rounds))
    log("   each round at full speed, then at halved offered rates while that delivers"
        " more")
    log("   (an overloaded daemon CPU livelocks: see bench/live_bench.py best_rate);"
        " the sides")
    log("   alternated; 'offered': the uxtables sender's rate at its best;"
        " 'check':")
    log("   dut's ACCEPT rule counted every datagram sink received (or k0 dropped:"
        " full backlog)")
    log("")
    log("   %7s %12s %12s %12s %8s  %s" % ("rules", "kernel pps", "uxt pps",
                                           "offered", "uxt/kern", "check"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--kernel-send", default=None,
                    help="bench/kernel_send (default: BIN/../bench/kernel_send)")
    ap.add_argument("--rules", default="10,1000,10000,100000")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--queues", type=int, default=1)
    ap.add_argument("--no-rps", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("iptables-legacy-restore"):
        print("live bench: skipped (needs root and iptables-legacy)")
        return 0
    sender = a.kernel_send or os.path.join(os.path.dirname(os.path.abspath(a.bin)),
                                           "bench", "kernel_send")
    if not os.access(sender, os.X_OK):
        print("live bench: %s not found (make %s)" % (sender, sender))
        return 1
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(130))
    quiet = (lambda s: None) if a.json else print
    quiet("live path, load average %.2f" % os.getloadavg()[0])
    print_header(a.seconds, a.rounds, a.queues, not a.no_rps, quiet)
    rows = run(a.bin, sender, [int(x) for x in a.rules.split(",")], a.seconds,
               a.rounds, a.queues, not a.no_rps, log=quiet)
    quiet("   load average %.2f at the end" % os.getloadavg()[0])
    if a.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
