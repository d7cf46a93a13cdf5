#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Packets per second through the live path: uxt daemon against the kernel's
iptables-legacy, same ruleset, same traffic, same run.

  python3 bench/live_bench.py --bin build/bin [--rules 10,1000,10000,100000]
                              [--seconds 3] [--queues 1] [--json]

Three throw-away namespaces: gen -- dut (router) -- sink.  gen floods UDP
datagrams (64 flows, 60-byte datagrams) through dut to sink as fast as one
CPU can send them; dut's FORWARD chain holds N rules none of which matches
the traffic (distinct sources, as a blocklist), then ACCEPT, so every
datagram walks every rule.  The figure is what reaches sink per second
(sink's receive counter over the measured window), first with the rules in
the kernel's iptables-legacy, then with the same rules in uxtables served
by uxt daemon (--queues, by default 1, pinned to the last CPU; the
generator and the kernel's own path run on CPU 0).

bench/run.py calls it (run(bindir, ...) returns the rows); alone it prints
a table.  Everything is removed at the end, also on failure.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

GEN_CODE = r"""
import os, socket, sys, time
os.sched_setaffinity(0, {0})
dst, secs = sys.argv[1], float(sys.argv[2])
socks = []
for i in range(64):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", 20000 + i))
    s.setblocking(False)
    socks.append(s)
payload = b"x" * 32
end = time.time() + secs
sent = 0
while time.time() < end:
    for s in socks:
        for _ in range(16):
            try:
                s.sendto(payload, (dst, 9))
                sent += 1
            except (BlockingIOError, OSError):
                pass
print(sent)
"""


def sh(argv, check=True, **kw):
    p = subprocess.run(argv, capture_output=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv[:6]),
                                       p.stderr.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


class Topo:
    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.ns = {n: "uxb%s-%s" % (tag, n) for n in ("gen", "dut", "sink")}
        try:
            for n in self.ns.values():
                sh(["ip", "netns", "add", n])
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
            sh(["ip", "-n", g, "route", "add", "default", "via", "10.10.0.1"])
            sh(["ip", "-n", k, "route", "add", "default", "via", "10.11.0.1"])
            self.x("dut", ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            # the sink drops the datagrams quietly (no port unreachable)
            self.x("sink", ["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"])
            self.x("gen", ["ping", "-c", "1", "-W", "2", "10.11.0.2"], check=False)
        except Exception:
            self.close()
            raise

    def x(self, who, argv, **kw):
        return sh(["ip", "netns", "exec", self.ns[who]] + list(argv), **kw)

    def rx_packets(self):
        return int(self.x("sink", ["cat", "/sys/class/net/eth0/statistics/rx_packets"]))

    def close(self):
        for n in self.ns.values():
            subprocess.run(["ip", "netns", "del", n], capture_output=True)


def rules_text(n):
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
             ":OUTPUT ACCEPT [0:0]"]
    for i in range(n):
        lines.append("-A FORWARD -s 172.%d.%d.%d/32 -p udp --dport %d -j DROP" %
                     (16 + (i >> 16) % 16, (i >> 8) & 255, i & 255, 1000 + i % 50000))
    lines.append("-A FORWARD -j ACCEPT")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def measure(topo, seconds):
    before = topo.rx_packets()
    t0 = time.time()
    sent = int(topo.x("gen", ["python3", "-c", GEN_CODE, "10.11.0.2",
                              str(seconds)]).strip() or 0)
    time.sleep(0.2)
    got = topo.rx_packets() - before
    return got / (time.time() - t0 - 0.2), sent


def run(bindir, rule_counts=(10, 1000, 10000, 100000), seconds=3.0, queues=1,
        log=print):
    """Returns [{"rules": N, "kernel_pps": x, "uxt_pps": y}, ...]."""
    uxt = os.path.join(os.path.abspath(bindir), "uxt")
    ncpu = os.cpu_count() or 1
    rows = []
    for n in rule_counts:
        text = rules_text(n).encode()
        row = {"rules": n}
        # the kernel
        topo = Topo()
        try:
            topo.x("dut", ["iptables-legacy-restore"], input=text, timeout=900)
            row["kernel_pps"], row["kernel_sent"] = measure(topo, seconds)
        finally:
            topo.close()
        # uxtables, live
        topo = Topo()
        state = tempfile.mkdtemp(prefix="uxt-bench-")
        env = dict(os.environ, UXT_STATE=state)
        daemon = None
        try:
            topo.x("dut", [os.path.join(bindir, "iptables-restore")], input=text,
                   env=env, timeout=900)
            cpus = ",".join(str(c) for c in range(max(1, ncpu - queues), ncpu))
            daemon = subprocess.Popen(
                ["ip", "netns", "exec", topo.ns["dut"], "taskset", "-c", cpus,
                 uxt, "daemon", "--foreground", "--queues", str(queues),
                 "--log", os.path.join(state, "log")],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.time() + 60
            while time.time() < deadline:
                if daemon.poll() is not None:
                    raise RuntimeError("uxt daemon: " +
                                       daemon.stderr.read().decode(errors="replace"))
                p = subprocess.run(["ip", "netns", "exec", topo.ns["dut"], uxt,
                                    "daemon", "--status"], env=env,
                                   capture_output=True)
                if p.returncode == 0:
                    break
                time.sleep(0.1)
            row["uxt_pps"], row["uxt_sent"] = measure(topo, seconds)
        finally:
            if daemon and daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(60)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
            topo.close()
            shutil.rmtree(state, ignore_errors=True)
        rows.append(row)
        log("live  %6d rules  kernel iptables %10.0f pps   uxtables live %10.0f pps"
            % (n, row["kernel_pps"], row["uxt_pps"]))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--rules", default="10,1000,10000,100000")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--queues", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("iptables-legacy-restore"):
        print("live bench: skipped (needs root and iptables-legacy)")
        return 0
    print("live path: UDP forwarded by the router namespace, packets per second "
          "reaching the sink (%d flows, %.0f s per figure)" % (64, a.seconds))
    rows = run(a.bin, [int(x) for x in a.rules.split(",")], a.seconds, a.queues,
               log=(lambda s: None) if a.json else print)
    if a.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
