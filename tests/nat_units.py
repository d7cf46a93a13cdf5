# SPDX-License-Identifier: BSD-2-Clause
"""NAT against the kernel.

Every case runs twice: on the kernel, in the test bed of
tests/packet_units.py and tests/ct_units.py (client -- dut -- server
namespaces, two veth links), its rules loaded into dut by
iptables-legacy-restore and its datagrams sent as Ethernet frames from the
client or the server (or by a raw socket in dut, for locally sent ones);
and through uxtables, with tests/unit/nat_run.c, a libuxt namespace with
the same host, driven with the kernel's send times.

Compared, per datagram: the datagrams that left dut on each link, byte for
byte (the IP ID of the ICMP errors dut makes aside: the kernel's is
random), the rules whose counters moved (every case counts the nat
chains: a flow is seen once per manip), and what dut's UDP socket on port
7000 received (source and payload: REDIRECT); per case: the conntrack -E
events and conntrack -L at the end (the translated reply tuples).  Cases
whose outcome the kernel draws at random are not here: every port choice
is forced (the original port free, a range of one port, DNAT's offset),
and addresses in a range are chosen by jhash of the addresses, which both
compute.

Then, end to end, some cases again through `uxt replay` of their
datagrams as a capture, and the text of uxtables' `conntrack -L` against
the kernel's (timeouts within a second).  And the seed's section 12.5
offline: REDIRECT 10000 -> 20000 on a host like the seed's server.

    dut eth0 (rc) 10.77.1.1/24 -- client 10.77.1.2 (and .3-.30)
    dut eth1 (rs) 10.77.2.1/24 -- server 10.77.2.2 (and .3-.9)

Namespaces, sockets and processes are removed at the end, also on
failure.  UXT_NAT_CASES=a,b runs the cases whose names contain a or b.
"""

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

from common import ROOT, Uxt, have_root_netns
from conntrack_cli import same_lines, write_sll2
from ct_units import (C, MSS1460, RS, S, SYSCTLS, Flow, I, Kernel, T, U,
                      base_rules, canon_kernel, canon_ours, compare,
                      restore_text)
from packet_units import MAC, csum, fragments, ip

R = "10.77.1.1"
C2 = "10.77.1.3"
UDP_PORT = 7000      # dut's quiet socket (ct_units.Kernel)


def kdev(rule):
    """A rule as the kernel bed names the devices."""
    rule = re.sub(r"\beth0\b", "rc", rule)
    return re.sub(r"\beth1\b", "rs", rule)


def normalize(dgram):
    """Zeroes the IP ID of an ICMP error dut made itself (TTL 64: the
    forwarded ones have 63), and mends the header checksum."""
    if len(dgram) >= 28 and dgram[9] == 1 and dgram[8] == 64 and \
            dgram[(dgram[0] & 15) * 4] in (3, 4, 5, 11, 12):
        h = bytearray(dgram[:20])
        h[4:6] = b"\0\0"
        h[10:12] = b"\0\0"
        h[10:12] = struct.pack("!H", csum(bytes(h)))
        return bytes(h) + dgram[20:]
    return dgram


def describe(d):
    if len(d) < 20:
        return d.hex()
    hl = (d[0] & 15) * 4
    s = "%s > %s p%d len %d" % (socket.inet_ntoa(d[12:16]),
                                socket.inet_ntoa(d[16:20]), d[9], len(d))
    if d[9] in (6, 17) and len(d) >= hl + 4:
        s += " %d>%d" % struct.unpack("!HH", d[hl:hl + 4])
    elif d[9] == 1 and len(d) >= hl + 8:
        s += " icmp %d/%d id %d" % (d[hl], d[hl + 1],
                                    struct.unpack("!H", d[hl + 4:hl + 6])[0])
    return s


def udp_delivery(d):
    """(source, source port, payload) of a UDP datagram for port 7000."""
    hl = (d[0] & 15) * 4
    if len(d) < hl + 8 or d[9] != 17:
        return None
    sp, dp, ln = struct.unpack("!HHH", d[hl:hl + 6])
    if dp != UDP_PORT:
        return None
    return (socket.inet_ntoa(d[12:16]), sp, d[hl + 8:hl + ln])


# The kernel

class NatKernel(Kernel):
    """ct_units' kernel bed, with NAT's steps: host changes (ip addr, ip
    link) and what dut's UDP socket receives."""

    def __init__(self):
        Kernel.__init__(self)
        try:
            b = self.bed
            for i in range(3, 10):
                b.sh(b.r, "ip neigh replace 10.77.2.%d lladdr %s nud permanent "
                          "dev rs" % (i, MAC["s0"]))
        except BaseException:
            self.close()
            raise

    def restore_bed(self):
        """Puts rs and rc back as the bed made them."""
        b = self.bed
        b.sh(b.r, "ip link set rs up; ip addr add 10.77.2.1/24 brd + dev rs "
                  "2>/dev/null; ip addr flush dev rc; "
                  "ip addr add 10.77.1.1/24 brd + dev rc", check=False)
        b.sh(b.r, "ip route replace 10.77.3.0/24 via 10.77.2.2", check=False)
        for i in range(2, 10):
            b.sh(b.r, "ip neigh replace 10.77.2.%d lladdr %s nud permanent "
                      "dev rs" % (i, MAC["s0"]), check=False)
        for i in range(2, 31):
            b.sh(b.r, "ip neigh replace 10.77.1.%d lladdr %s nud permanent "
                      "dev rc" % (i, MAC["c0"]), check=False)

    def received(self):
        got = []
        for _ in range(1000):
            try:
                data, addr = self.udp.recvfrom(70000)
            except BlockingIOError:
                break
            got.append((addr[0], addr[1], data))
        return got

    def run(self, case):
        b = self.bed
        sysctls = dict(SYSCTLS)
        sysctls.update(case.get("sysctl", {}))
        self.sh(" ".join("echo %s > /proc/sys/net/netfilter/%s;" % (v, k)
                         for k, v in sysctls.items()))
        for cmd in case.get("ksetup", []):
            self.sh(cmd)
        rules = [kdev(r) for r in case["rules"] + base_rules()]
        p = subprocess.run(["ip", "netns", "exec", b.r, "iptables-legacy-restore"],
                           input=restore_text(rules).encode(), capture_output=True,
                           timeout=30)
        if p.returncode != 0:
            raise RuntimeError("restore: " + p.stderr.decode())
        self.sh("conntrack -F 2>/dev/null || true")
        time.sleep(0.15)
        self.events()
        b.drain()
        self.received()
        t0 = time.monotonic()
        wall = []
        steps = []
        before = self.counters()
        try:
            for step in case["steps"]:
                if step[0] == "wait":
                    time.sleep(step[1])
                    continue
                t = time.monotonic() - t0
                wall.append(time.time())
                if step[0] == "host":
                    self.sh(step[1])
                    # the MASQUERADE notifiers work from a workqueue
                    time.sleep(0.3)
                elif step[0] == "l":
                    self.raw.sendto(step[1], (socket.inet_ntoa(step[1][16:20]), 0))
                else:
                    b.send("eth0" if step[0] == "c" else "eth1", step[1])
                out = b.collect(0.02)
                after = self.counters()
                delta = {}
                for k, v in after.items():
                    if v - before.get(k, 0) > 0:
                        delta[k] = v - before.get(k, 0)
                before = after
                steps.append({"t": t, "out": out, "delta": delta,
                              "got": self.received()})
            t_end = time.monotonic() - t0
            listing = self.sh("conntrack -L 2>/dev/null")
            listed_at = time.time()
        finally:
            if case.get("restore"):
                self.restore_bed()
        self.sh("conntrack -F 2>/dev/null || true")
        time.sleep(0.15)
        evs = [canon_kernel(line) for line in self.events()]
        table = [canon_kernel(line) for line in listing.splitlines()]
        return {"steps": steps, "t_end": t_end, "logs": [], "wall": wall,
                "listing": listing, "listed_at": listed_at,
                "table": [x for x in table if x],
                "events": [x for x in evs if x]}


# uxtables

def build_driver(opts):
    """Compiles tests/unit/nat_run.c against the build's library."""
    bindir = os.path.abspath(opts["bindir"])
    build = os.path.dirname(bindir)
    lib = os.path.join(build, "libuxt.a")
    clidir = os.path.join(build, "obj", "src", "cli")
    if not os.path.exists(lib) or not os.path.isdir(clidir):
        return None, "no %s or %s" % (lib, clidir)
    objs = sorted(os.path.join(clidir, f) for f in os.listdir(clidir)
                  if f.endswith(".o") and f != "main.o")
    out = os.path.join(build, "nat_run")
    sanit = []
    with open(lib, "rb") as f:
        if b"__asan_" in f.read():
            sanit = ["-fsanitize=address,undefined",
                     "-fno-sanitize-recover=undefined"]
    cmd = ["cc", "-std=gnu11", "-D_GNU_SOURCE", "-g", "-O1", "-Wall", "-Wextra",
           "-Werror", "-I", os.path.join(ROOT, "src/lib"),
           "-I", os.path.join(ROOT, "src/lib/ct"),
           "-I", os.path.join(ROOT, "src/io"), "-I", os.path.join(ROOT, "src/cli"),
           os.path.join(ROOT, "tests/unit/nat_run.c"),
           os.path.join(ROOT, "tests/unit/driver_common.c")] + objs + \
        [lib, "-lpcap", "-lmnl", "-o", out] + sanit
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        return None, "cannot build the driver: " + p.stderr.decode()[-2000:]
    return out, None


def run_uxt(driver, case, kern):
    rules = ["-t raw -P PREROUTING ACCEPT", "-t mangle -P PREROUTING ACCEPT",
             "-t nat -P PREROUTING ACCEPT", "-P INPUT ACCEPT"] + \
        case["rules"] + base_rules()
    lines = ["rule " + r for r in rules]
    sysctls = dict(SYSCTLS)
    sysctls.update(case.get("sysctl", {}))
    lines += ["sysctl %s %s" % kv for kv in sysctls.items()]
    lines += case.get("usetup", [])
    lines.append("go")
    i = 0
    for step in case["steps"]:
        if step[0] == "wait":
            continue
        lines.append("time %.6f" % (100.0 + kern["steps"][i]["t"]))
        if step[0] == "host":
            lines += step[2] + ["echo end"]
        elif step[0] == "l":
            lines.append("send " + step[1].hex())
        else:
            lines.append("recv %s %s" % ("eth0" if step[0] == "c" else "eth1",
                                         step[1].hex()))
        i += 1
    lines.append("time %.6f" % (100.0 + kern["t_end"]))
    lines += ["dump", "flush"]
    p = subprocess.run([driver], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, timeout=60)
    res = {"steps": [], "table": [], "events": [], "rc": p.returncode,
           "stderr": p.stderr, "logs": []}
    cur = None
    for line in p.stdout.splitlines():
        w = line.split(" ", 2)
        if line.startswith("event "):
            kind, rest = line[6:].split(" ", 1)
            txt, t = canon_ours(rest)
            res["events"].append((kind, txt, t))
            continue
        if line.startswith("ct "):
            txt, t = canon_ours(line[3:])
            res["table"].append((None, txt, t))
            continue
        if cur is None and w[0] in ("match", "nested", "xmit", "deliver", "drop",
                                    "log"):
            cur = {"out": {"eth0": [], "eth1": []}, "delta": {}, "got": []}
        if w[0] == "nested":
            w = line.split(" ", 3)[1:]
        if w[0] == "match":
            t, c, n = line.split()[-3:]
            key = (t, c, int(n))
            cur["delta"][key] = cur["delta"].get(key, 0) + 1
        elif w[0] == "xmit":
            cur["out"].setdefault(w[1], []).append(bytes.fromhex(w[2]))
        elif w[0] == "deliver" and len(w) > 1:
            got = udp_delivery(bytes.fromhex(w[1]))
            if got:
                cur["got"].append(got)
        elif w[0] == "end":
            res["steps"].append(cur or {"out": {"eth0": [], "eth1": []},
                                        "delta": {}, "got": []})
            cur = None
    return res


def compare_nat(case, kern, ours):
    # the datagrams out are compared here, normalized; the rest by
    # ct_units' compare
    diffs = []
    for i in range(min(len(kern["steps"]), len(ours["steps"]))):
        k, o = kern["steps"][i], ours["steps"][i]
        for dev in ("eth0", "eth1"):
            kk = [normalize(d) for d in k["out"].get(dev, [])]
            oo = [normalize(d) for d in o["out"].get(dev, [])]
            if kk != oo:
                diffs.append("packet %d out %s: kernel %s; uxtables %s" % (
                    i + 1, dev, [describe(d) for d in kk], [describe(d) for d in oo]))
                for j in range(min(len(kk), len(oo))):
                    if kk[j] != oo[j]:
                        diffs.append("   kernel   %s" % kk[j][:96].hex())
                        diffs.append("   uxtables %s" % oo[j][:96].hex())
        if k["got"] != o["got"]:
            diffs.append("packet %d, dut's socket on %d got: kernel %s; uxtables %s"
                         % (i + 1, UDP_PORT, k["got"], o["got"]))
        # the datagrams out: done above
        k["out"], o["out"] = {}, {}
    return diffs + compare(case, kern, ours)


# The cases

def cases():
    out = []

    def case(name, steps, rules=(), **kw):
        d = {"name": name, "steps": steps, "rules": list(rules)}
        d.update(kw)
        out.append(d)

    # counting rules in every nat chain: the chains see the first packet
    # of each manip only
    count = ["-t nat -A PREROUTING", "-t nat -A INPUT", "-t nat -A OUTPUT",
             "-t nat -A POSTROUTING"]
    # mangle POSTROUTING comes before nat POSTROUTING: it sees the source
    # not yet translated; FORWARD sees the destination translated
    seen = ["-t mangle -A POSTROUTING -s %s" % C, "-t mangle -A POSTROUTING -s %s" % RS,
            "-t mangle -A FORWARD -d %s" % S, "-t mangle -A PREROUTING -d %s" % R]

    # SNAT
    f = Flow(46001, src=C)
    nat = "10.77.2.1"
    sv = lambda fl, seq, ack, data=b"": ("s", T(S, nat, 80, 30000, seq=seq,
                                                ack=ack, flags=fl, data=data))
    case("snat-tcp-one-port", [
        f.c("S", opts=MSS1460), sv("SA", 5000, 1001),
        f.c("A", seq=1001, ack=5001), f.c("PA", b"hello", seq=1001, ack=5001),
        sv("A", 5001, 1006), sv("PA", 5001, 1006, b"world"),
        f.c("A", seq=1006, ack=5006), f.c("FA", seq=1006, ack=5006),
        sv("FA", 5006, 1007), f.c("A", seq=1007, ack=5007)],
         count + seen + ["-t nat -A POSTROUTING -o eth1 -p tcp -j SNAT "
                         "--to-source 10.77.2.1:30000"])
    case("snat-udp-keeps-port", [
        ("c", U(C, S, 46002, 53, b"query")), ("s", U(S, RS, 53, 46002, b"answer")),
        ("c", U(C, S, 46002, 53, b"again"))],
         count + seen + ["-t nat -A POSTROUTING -o eth1 -j SNAT --to-source 10.77.2.1"])
    case("snat-udp-zero-checksum", [
        ("c", U(C, S, 46003, 53, b"nocsum", check="zero")),
        ("s", U(S, RS, 53, 46003, b"none", check="zero"))],
         count + ["-t nat -A POSTROUTING -o eth1 -j SNAT --to-source 10.77.2.1"])
    case("snat-icmp-echo", [
        ("c", I(C, S, 8, ident=0x3344, seq=1)), ("s", I(S, RS, 0, ident=0x3344, seq=1)),
        ("c", I(C, S, 8, ident=0x3344, seq=2))],
         count + ["-t nat -A POSTROUTING -o eth1 -j SNAT --to-source 10.77.2.1"])
    q = U(RS, S, 46004, 53, b"query")
    case("snat-icmp-error-from-far-side", [
        ("c", U(C, S, 46004, 53, b"query")),
        ("s", I(S, RS, 3, 3, ident=0, seq=0, data=q[:28]))],
         count + ["-t nat -A POSTROUTING -o eth1 -j SNAT --to-source 10.77.2.1"])
    qt = T(RS, S, 30000, 80, seq=1000, flags="S", opts=MSS1460)
    case("snat-icmp-error-quoting-tcp", [
        ("c", T(C, S, 46005, 80, seq=1000, flags="S", opts=MSS1460)),
        ("s", I(S, RS, 3, 1, ident=0, seq=0, data=qt))],
         count + ["-t nat -A POSTROUTING -o eth1 -p tcp -j SNAT "
                  "--to-source 10.77.2.1:30000"])
    case("snat-address-range", [
        ("c", U(C, S, 46006, 53)), ("c", U(C2, S, 46006, 53)),
        ("c", U("10.77.1.4", S, 46006, 53)), ("c", U(C, "10.77.2.3", 46006, 53))],
         count + ["-t nat -A POSTROUTING -o eth1 -j SNAT "
                  "--to-source 10.77.2.100-10.77.2.120"])
    case("snat-address-range-persistent", [
        ("c", U(C, S, 46007, 53)), ("c", U(C2, S, 46007, 53)),
        ("c", U(C, "10.77.2.3", 46007, 53)), ("c", U(C, "10.77.2.4", 46007, 53))],
         count + ["-t nat -A POSTROUTING -o eth1 -j SNAT "
                  "--to-source 10.77.2.100-10.77.2.199 --persistent"])
    # two clients, one port to share: the second's first packet loses at
    # confirm (the tuple is taken), TCP and UDP alike
    case("snat-clash-one-port-tcp", [
        ("c", T(C, S, 46008, 80, seq=1000, flags="S", opts=MSS1460)),
        ("c", T(C2, S, 46008, 80, seq=7000, flags="S", opts=MSS1460))],
         count + ["-t nat -A POSTROUTING -o eth1 -p tcp -j SNAT "
                  "--to-source 10.77.2.1:30000"])
    case("snat-clash-one-port-udp", [
        ("c", U(C, S, 46009, 53)), ("c", U(C2, S, 46009, 53))],
         count + ["-t nat -A POSTROUTING -o eth1 -p udp -j SNAT "
                  "--to-source 10.77.2.1:30001"])
    # the last tries for a TCP port evict a connection in TIME_WAIT whose
    # sequence numbers the new SYN has passed
    f = Flow(46010, src=C)
    case("snat-evicts-time-wait", [
        f.c("S", opts=MSS1460), ("s", T(S, nat, 80, 30002, seq=5000, ack=1001, flags="SA")),
        f.c("A", seq=1001, ack=5001), f.c("FA", seq=1001, ack=5001),
        ("s", T(S, nat, 80, 30002, seq=5001, ack=1002, flags="FA")),
        f.c("A", seq=1002, ack=5002),
        ("c", T(C2, S, 46010, 80, seq=90000, flags="S", opts=MSS1460)),
        ("s", T(S, nat, 80, 30002, seq=8000, ack=90001, flags="SA"))],
         count + ["-t nat -A POSTROUTING -o eth1 -p tcp -j SNAT "
                  "--to-source 10.77.2.1:30002"])
    case("snat-random-one-port", [
        ("c", U(C, S, 46011, 53)), ("s", U(S, RS, 53, 30003)),
        ("c", U(C, S, 46012, 5353))],
         count + ["-t nat -A POSTROUTING -o eth1 -p udp --dport 53 -j SNAT "
                  "--to-source 10.77.2.1:30003 --random",
                  "-t nat -A POSTROUTING -o eth1 -p udp -j SNAT "
                  "--to-source 10.77.2.1:30004 --random-fully"])
    case("snat-keeps-port-in-range", [
        ("c", U(C, S, 30005, 53)), ("s", U(S, RS, 53, 30005))],
         count + ["-t nat -A POSTROUTING -o eth1 -p udp -j SNAT "
                  "--to-source 10.77.2.1:30000-30010"])

    # DNAT
    f = Flow(46020, dport=80, dst=R)
    back = lambda fl, seq, ack, data=b"": ("s", T(S, C, 8080, 46020, seq=seq,
                                                  ack=ack, flags=fl, data=data))
    case("dnat-tcp-port", [
        f.c("S", opts=MSS1460), back("SA", 5000, 1001), f.c("A", seq=1001, ack=5001),
        f.c("PA", b"GET /", seq=1001, ack=5001), back("A", 5001, 1006),
        back("FA", 5001, 1006), f.c("FA", seq=1006, ack=5002), back("A", 5002, 1007)],
         count + seen + ["-t nat -A PREROUTING -d 10.77.1.1 -p tcp --dport 80 "
                         "-j DNAT --to-destination 10.77.2.2:8080"])
    case("dnat-and-masquerade", [
        ("c", T(C, R, 46021, 80, seq=1000, flags="S", opts=MSS1460)),
        ("s", T(S, RS, 8080, 46021, seq=5000, ack=1001, flags="SA", opts=MSS1460)),
        ("c", T(C, R, 46021, 80, seq=1001, ack=5001, flags="A"))],
         count + seen + ["-t nat -A PREROUTING -d 10.77.1.1 -p tcp --dport 80 "
                         "-j DNAT --to-destination 10.77.2.2:8080",
                         "-t nat -A POSTROUTING -o eth1 -j MASQUERADE"])
    case("dnat-keeps-port", [
        ("c", U(C, R, 46022, 5000)), ("s", U(S, C, 5000, 46022))],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p udp -j DNAT "
                  "--to-destination 10.77.2.2"])
    case("dnat-port-range", [
        ("c", U(C, R, 46023, 53)), ("c", U(C, R, 46024, 53)),
        ("s", U(S, C, 8080, 46023))],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p udp -j DNAT "
                  "--to-destination 10.77.2.2:8080-8089"])
    case("dnat-port-offset", [
        ("c", U(C, R, 46025, 85)), ("c", U(C, R, 46026, 80)),
        ("s", U(S, C, 8005, 46025))],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p udp --dport 80:90 -j DNAT "
                  "--to-destination 10.77.2.2:8000-8099/80"])
    case("dnat-address-range", [
        ("c", U(C, R, 46027, 53)), ("c", U(C2, R, 46027, 53)),
        ("c", U("10.77.1.4", R, 46027, 53)), ("c", U("10.77.1.5", R, 46027, 53))],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p udp -j DNAT "
                  "--to-destination 10.77.2.2-10.77.2.9"])
    case("dnat-address-range-persistent", [
        ("c", U(C, R, 46028, 53)), ("c", U(C2, R, 46028, 53)),
        ("c", U(C, R, 46029, 54))],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p udp -j DNAT "
                  "--to-destination 10.77.2.2-10.77.2.9 --persistent"])
    case("dnat-icmp-echo", [
        ("c", I(C, R, 8, ident=0x4455)), ("s", I(S, C, 0, ident=0x4455))],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p icmp -j DNAT "
                  "--to-destination 10.77.2.2"])
    # ICMP errors dut makes itself about a translated datagram
    case("dnat-ttl-exceeded", [
        ("c", U(C, R, 46030, 53, ttl=1))],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p udp -j DNAT "
                  "--to-destination 10.77.2.2:5353"])
    case("dnat-reject-port-unreachable", [
        ("c", U(C, R, 46031, 53))],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p udp -j DNAT "
                  "--to-destination 10.77.2.2:5353",
                  "-A FORWARD -p udp -j REJECT"])
    case("dnat-reject-tcp-reset", [
        ("c", T(C, R, 46032, 80, seq=1000, flags="S", opts=MSS1460))],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p tcp -j DNAT "
                  "--to-destination 10.77.2.2:8080",
                  "-A FORWARD -p tcp -j REJECT --reject-with tcp-reset"])
    # ICMP error from the far side about a DNATed flow
    q = U(C, S, 46033, 5353, b"query")
    case("dnat-icmp-error-from-far-side", [
        ("c", U(C, R, 46033, 53, b"query")),
        ("s", I(S, C, 3, 3, ident=0, seq=0, data=q))],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p udp -j DNAT "
                  "--to-destination 10.77.2.2:5353"])
    # fragments: translated whole, cut again on the way out
    big = U(C, R, 46034, 53, data=bytes(range(256)) * 4, ident=0x4747)
    rep = U(S, RS, 5353, 30006, data=bytes(range(200)) * 4, ident=0x4848)
    case("fragments-dnat-snat", [("c", fr) for fr in fragments(big, [528])] +
         [("s", fr) for fr in fragments(rep, [520])],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p udp -j DNAT "
                  "--to-destination 10.77.2.2:5353",
                  "-t nat -A POSTROUTING -o eth1 -p udp -j SNAT "
                  "--to-source 10.77.2.1:30006"])

    # MASQUERADE
    f = Flow(46040, src=C)
    case("masquerade-tcp", [
        f.c("S", opts=MSS1460), ("s", T(S, RS, 80, 46040, seq=5000, ack=1001, flags="SA")),
        f.c("A", seq=1001, ack=5001)],
         count + seen + ["-t nat -A POSTROUTING -o eth1 -j MASQUERADE"])
    case("masquerade-to-ports", [
        ("c", U(C, S, 46041, 53)), ("s", U(S, RS, 53, 31000)),
        ("c", U(C2, S, 46041, 53))],
         count + ["-t nat -A POSTROUTING -o eth1 -p udp -j MASQUERADE "
                  "--to-ports 31000"])
    case("masquerade-via-gateway", [
        ("c", U(C, "10.77.3.3", 46042, 53)), ("s", U("10.77.3.3", RS, 53, 46042))],
         count + ["-t nat -A POSTROUTING -o eth1 -j MASQUERADE"])
    case("masquerade-local", [
        ("l", U(R, S, UDP_PORT, 53, ident=0x2001)), ("s", U(S, RS, 53, UDP_PORT))],
         count + ["-t nat -A POSTROUTING -o eth1 -j MASQUERADE"])
    # the address goes: MASQUERADE's entries of the device toward it go
    # (the DNAT entry stays)
    case("masquerade-address-removed", [
        ("c", U(C, S, 46044, 53)), ("c", U(C, R, 46045, 53)),
        ("host", "ip addr del 10.77.2.1/24 dev rs", ["addrdel eth1 10.77.2.1"])],
         count + ["-t nat -A PREROUTING -d 10.77.1.1 -p udp -j DNAT "
                  "--to-destination 10.77.2.2:5353",
                  "-t nat -A POSTROUTING -s 10.77.1.2 -d 10.77.2.2 -p udp "
                  "--dport 53 -j MASQUERADE"], restore=True)
    case("masquerade-link-down", [
        ("c", U(C, S, 46046, 53)), ("s", U(S, RS, 53, 46046)),
        ("host", "ip link set rs down", ["link eth1 down"])],
         count + ["-t nat -A POSTROUTING -o eth1 -j MASQUERADE"], restore=True)
    # a MASQUERADEd connection's packet leaving through another device
    # than the one it was bound to kills it (nf_nat_oif_changed)
    case("masquerade-oif-changed", [
        ("c", U(C, "10.77.3.3", 46048, 53)), ("s", U("10.77.3.3", RS, 53, 46048)),
        ("host", "ip route replace 10.77.3.0/24 via 10.77.1.2 dev rc",
         ["route3 eth0 10.77.1.2"]),
        ("c", U(C, "10.77.3.3", 46048, 53, b"again")),
        ("c", U(C, "10.77.3.3", 46048, 53, b"third"))],
         count + ["-t nat -A POSTROUTING -s 10.77.1.0/24 -j MASQUERADE"],
         restore=True)
    case("masquerade-other-address-removed", [
        ("c", U(C, S, 46047, 53)),
        ("host", "ip addr add 10.77.2.77/24 dev rs", ["addr eth1 10.77.2.77/24 sec"]),
        ("host", "ip addr del 10.77.2.77/24 dev rs", ["addrdel eth1 10.77.2.77"]),
        ("s", U(S, RS, 53, 46047))],
         count + ["-t nat -A POSTROUTING -o eth1 -j MASQUERADE"], restore=True)

    # REDIRECT
    case("redirect-prerouting-udp", [
        ("c", U(C, S, 46050, 9999, b"to redirect")),
        ("l", U(R, C, UDP_PORT, 46050, b"from dut", ident=0x2002)),
        ("c", U(C, S, 46050, 9999, b"second"))],
         count + seen + ["-t nat -A PREROUTING -p udp --dport 9999 -j REDIRECT "
                         "--to-ports 7000"])
    case("redirect-prerouting-keeps-port", [
        ("c", U(C, S, 46051, UDP_PORT, b"same port")),
        ("l", U(R, C, UDP_PORT, 46051, b"answer", ident=0x2003))],
         count + ["-t nat -A PREROUTING -p udp -j REDIRECT"])
    case("redirect-primary-address", [
        ("c", U(C, "10.77.1.9", 46052, 9999, b"to the secondary")),
        ("l", U(R, C, UDP_PORT, 46052, b"from the primary", ident=0x2004))],
         count + ["-t nat -A PREROUTING -p udp --dport 9999 -j REDIRECT "
                  "--to-ports 7000"],
         ksetup=["ip addr add 10.77.1.9/24 dev rc"], restore=True,
         usetup=["addr eth0 10.77.1.9/24 sec"])
    # REDIRECT at PREROUTING on a device without an address: DROP
    case("redirect-no-address", [
        ("c", U(C, S, 46053, 9999, b"nowhere"))],
         count + ["-t nat -A PREROUTING -p udp --dport 9999 -j REDIRECT "
                  "--to-ports 7000"],
         ksetup=["ip addr flush dev rc"], restore=True,
         usetup=["addrdel eth0 10.77.1.1"])
    case("redirect-output-udp", [
        ("l", U(RS, S, UDP_PORT, 9999, b"local to redirect", ident=0x2005)),
        ("l", U("127.0.0.1", RS, UDP_PORT, UDP_PORT, b"answer", ident=0x2006))],
         count + ["-t nat -A OUTPUT -p udp --dport 9999 -j REDIRECT --to-ports 7000",
                  "-t mangle -A POSTROUTING -o lo -d 127.0.0.1",
                  "-A OUTPUT -o eth1 -d 127.0.0.1"])

    # null bindings: the chains see the first packet of each manip, no
    # target, nothing translated
    f = Flow(46060)
    case("null-binding-tcp", f.handshake() + [
        f.c("PA", b"data"), f.s("A"), f.c("FA"), f.s("FA"), f.c("A")], count)
    case("null-binding-local", [
        ("l", U(RS, S, UDP_PORT, 53, ident=0x2007)), ("s", U(S, RS, 53, UDP_PORT)),
        ("l", U(RS, S, UDP_PORT, 53, ident=0x2008))], count)
    # the kernel also counts an untracked packet nowhere in nat
    case("nat-untracked", [
        ("c", U(C, S, 46061, 53)), ("s", U(S, C, 53, 46061))],
         ["-t raw -A PREROUTING -p udp --dport 53 -j CT --notrack"] + count +
         ["-t nat -A POSTROUTING -o eth1 -j MASQUERADE"])

    # DNAT at OUTPUT: the packet is routed again, out of the other device
    case("dnat-output-reroute", [
        ("l", U(RS, "10.77.2.50", UDP_PORT, 53, ident=0x2009)),
        ("c", U(C, RS, 53, UDP_PORT))],
         count + ["-t nat -A OUTPUT -d 10.77.2.50 -p udp -j DNAT "
                  "--to-destination 10.77.1.2"])
    # SNAT at INPUT: what dut's socket sees
    case("snat-input", [
        ("c", U(C, R, 46062, UDP_PORT, b"to dut")),
        ("l", U(R, "10.77.1.50", UDP_PORT, 46062, b"reply", ident=0x200a))],
         count + ["-t nat -A INPUT -p udp --dport 7000 -j SNAT "
                  "--to-source 10.77.1.50"])
    return out


E2E = ("snat-tcp-one-port", "dnat-tcp-port", "masquerade-tcp",
       "snat-address-range", "dnat-port-offset", "snat-icmp-echo",
       "fragments-dnat-snat")

E2E_HOST = """forwarding on
iface lo index 1 type loopback mtu 65536 up
    addr 127.0.0.1/8 scope host
iface eth0 index 2 mac 02:00:00:00:01:01 mtu 9000 up
    addr 10.77.1.1/24 brd +
iface eth1 index 3 mac 02:00:00:00:02:01 mtu 1500 up
    addr 10.77.2.1/24 brd +
route 10.77.3.0/24 via 10.77.2.2 dev eth1
"""


def end_to_end(res, opts, case, kern):
    """The case through uxt replay, then conntrack -L against the
    kernel's."""
    name = "nat_units replay " + case["name"]
    u = Uxt(opts["bindir"])
    try:
        host = os.path.join(u.state, "host.txt")
        cap = os.path.join(u.state, "c.pcap")
        with open(host, "w") as f:
            f.write(E2E_HOST)
        records = []
        steps = [s for s in case["steps"] if s[0] != "wait"]
        for (side, dgram), t in zip(steps, kern["wall"]):
            records.append((t, 2 if side == "c" else 3, dgram))
        write_sll2(cap, records)
        rules = ["-t raw -P PREROUTING ACCEPT", "-t mangle -P PREROUTING ACCEPT",
                 "-t nat -P PREROUTING ACCEPT", "-P INPUT ACCEPT"] + \
            case["rules"] + base_rules()
        rc, o, e = u.run("iptables-restore", [], stdin=restore_text(rules).encode())
        if rc:
            res.fail(name, "restore: " + o + e)
            return
        sysctls = dict(SYSCTLS)
        sysctls.update(case.get("sysctl", {}))
        for k, v in sysctls.items():
            rc, o, e = u.run("uxt", ["sysctl", "-q", "-w",
                                     "net.netfilter.%s=%s" % (k, v)])
        rc, o, e = u.run("uxt", ["replay", cap, "--host", host], timeout=120)
        if rc:
            res.fail(name, "replay: exit %d %s %s" % (rc, o, e))
            return
        u.env["UXT_TIME"] = "%.6f" % kern["listed_at"]
        rc, ours, err = u.run("conntrack", ["-L"])
        del u.env["UXT_TIME"]
        res.check(name, rc == 0 and same_lines(kern["listing"], ours),
                  "kernel:\n%s\nuxtables:\n%s%s" % (kern["listing"], ours, err))
    finally:
        u.close()


# The seed's section 12.5, offline

SEED_HOST = """forwarding off
iface lo index 1 type loopback mtu 65536 up
    addr 127.0.0.1/8
iface eth0 index 2 type ether mac 00:0c:29:00:00:10 mtu 1500 up
    addr 192.168.0.10/24 brd +
route default via 192.168.0.1 dev eth0
"""


def seed_12_5(res, opts):
    """REDIRECT 10000 -> 20000: a connection to port 10000 reaches the
    server on 20000, the wire shows 10000 both ways, the nat PREROUTING
    counter is `1 60` (the SYN only), the listing `redir ports 20000`."""
    name = "nat_units seed §12.5 REDIRECT 10000 -> 20000"
    u = Uxt(opts["bindir"])
    try:
        host = os.path.join(u.state, "host.txt")
        cap = os.path.join(u.state, "c.pcap")
        with open(host, "w") as f:
            f.write(SEED_HOST)
        cl, sv = "192.168.0.110", "192.168.0.10"
        syn = T(cl, sv, 50000, 10000, seq=1000, flags="S", opts=MSS1460)
        recs = [
            (1000.0, 0, syn),
            # the server's socket sends from 20000: the capture holds what
            # the socket sent, before POSTROUTING
            (1000.001, 4, T(sv, cl, 20000, 50000, seq=7000, ack=1001, flags="SA",
                            opts=MSS1460)),
            (1000.002, 0, T(cl, sv, 50000, 10000, seq=1001, ack=7001, flags="A")),
            (1000.003, 0, T(cl, sv, 50000, 10000, seq=1001, ack=7001, flags="PA",
                            data=b"hello-through-redirect\n")),
            (1000.004, 4, T(sv, cl, 20000, 50000, seq=7001, ack=1024, flags="A")),
        ]
        with open(cap, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 276))
            for t, pkttype, dgram in recs:
                sll = struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, pkttype, 6,
                                  b"\x00\x0c\x29\x00\x00\x10\x00\x00")
                f.write(struct.pack("<IIII", int(t), int(round((t % 1) * 1e6)),
                                    len(sll) + len(dgram), len(sll) + len(dgram)))
                f.write(sll + dgram)
        for cmd in (["-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport",
                     "10000", "-j", "REDIRECT", "--to-port", "20000"],
                    ["-A", "INPUT", "-p", "tcp", "-j", "LOG", "--log-prefix",
                     "srv "]):
            rc, o, e = u.ipt(cmd)
            if rc:
                res.fail(name, "iptables %s: %s" % (cmd, e))
                return
        rc, o, e = u.run("uxt", ["replay", cap, "--host", host, "--json"])
        if rc:
            res.fail(name, "replay: exit %d %s %s" % (rc, o, e))
            return
        pk = [json.loads(l) for l in o.splitlines() if l.startswith("{")]
        problems = []
        logs = [l for p in pk for l in p.get("log") or []]
        if len(logs) != 3 or not all(" DPT=20000 " in l for l in logs):
            problems.append("the server should see port 20000: %s" % logs)
        outs = [x for p in pk for x in p.get("out") or []]
        wire = [bytes.fromhex(x["hex"]) for x in outs]
        ports = [struct.unpack("!H", d[20:22])[0] for d in wire]
        if ports != [10000, 10000]:
            problems.append("the wire should show 10000: %s" %
                            [x["summary"] for x in outs])
        for d in wire:
            hl = 20
            seg = d[hl:]
            if csum(d[12:20] + struct.pack("!BBH", 0, 6, len(seg)) + seg) != 0 or \
                    csum(d[:20]) != 0:
                problems.append("bad checksum on the wire: %s" % d.hex())
        rc, o, e = u.ipt(["-t", "nat", "-nvxL", "PREROUTING"])
        row = o.splitlines()[2].split() if len(o.splitlines()) > 2 else []
        if row[:2] != ["1", "60"]:
            problems.append("nat PREROUTING counter: %s" % o)
        rc, o, e = u.ipt(["-t", "nat", "-L", "PREROUTING"])
        if "redir ports 20000" not in o:
            problems.append("listing: %s" % o)
        rc, o, e = u.ipt(["-t", "nat", "-S", "PREROUTING"])
        if "-j REDIRECT --to-ports 20000" not in o:
            problems.append("-S: %s" % o)
        u.env["UXT_TIME"] = "1000.004"
        rc, o, e = u.run("conntrack", ["-L"])
        want = ("tcp      6 431999 ESTABLISHED src=192.168.0.110 dst=192.168.0.10 "
                "sport=50000 dport=10000 src=192.168.0.10 dst=192.168.0.110 "
                "sport=20000 dport=50000 [ASSURED] mark=0 use=1")
        if not same_lines(o, want + "\n"):
            problems.append("conntrack -L: %s%s" % (o, e))
        res.check(name, not problems, "\n".join(problems))
    finally:
        u.close()


def run(res, opts):
    driver, why = build_driver(opts)
    if not driver:
        res.fail("nat_units: driver", why)
        return
    only = os.environ.get("UXT_NAT_CASES")
    if not only:
        seed_12_5(res, opts)
    allc = cases()
    if only:
        allc = [c for c in allc if any(w in c["name"] for w in only.split(","))]
    why = have_root_netns()
    if why or not shutil.which("conntrack"):
        for c in allc:
            res.skip("nat_units " + c["name"], why or "no conntrack(8)")
        return
    try:
        kern = NatKernel()
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        for c in allc:
            res.skip("nat_units " + c["name"], "no test bed: %s" % e)
        return
    try:
        for c in allc:
            name = "nat_units " + c["name"]
            try:
                k = kern.run(c)
            except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                res.fail(name, "kernel side: %s" % e)
                continue
            o = run_uxt(driver, c, k)
            if o["rc"] != 0:
                res.fail(name, "driver exit %d: %s" % (o["rc"], o["stderr"][-2000:]))
                continue
            if c["name"] in E2E:
                end_to_end(res, opts, c, k)
            if os.environ.get("UXT_NAT_SHOW"):
                for i, st in enumerate(k["steps"]):
                    print("   %d %s got %s" % (i + 1, {d: [describe(x) for x in v]
                                                  for d, v in st["out"].items() if v},
                                              st["got"]))
                for e in k["table"]:
                    print("   ct", e[1])
            diffs = compare_nat(c, k, o)
            res.check(name, not diffs, "\n".join(diffs))
    finally:
        kern.close()
