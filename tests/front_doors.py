# SPDX-License-Identifier: BSD-2-Clause
"""uxt inject and uxt replay, the front doors of the packet path.

Two throw-away network namespaces joined by a veth pair (a 10.231.0.1 on
va, b 10.231.0.2 on vb), and a tun device t0 in b (10.232.0.2, fed echo
requests from 10.232.0.1 by a small writer) give real traffic, captured
with tcpdump.  Compared:

  options      every front-door option error: exit status and message
  builder      the bytes uxt inject builds against what ping (3 sizes), a
               TCP connect (nc) and a UDP send (nc -u) put on the wire,
               after setting the per-connection random values (ICMP id,
               TCP sequence number and timestamp) to the builder's
  printing     the summary of every IPv4 record of every capture, and of
               crafted packets of every kind pktprint decodes, against
               tcpdump -n -S -t on the same records
  link types   Ethernet, Linux cooked v1 and v2, lo, raw IP (ipip), pcapng,
               BSD null and loop: direction, interface, verdicts
  outputs      -w read back by tcpdump, --json parsed and its keys checked,
               --log, --nflog-dir read back by tcpdump, --expect statuses
  counters     committed: iptables -L -v -x -n afterwards, and replay's
               own listing equal to it
  bad input    damaged, empty, garbage and unsupported captures, snapshot-
               length cuts, non-IPv4 frames: errors or "skipped" lines

The captures are made at run time in a temporary directory (tests/data
holds none).  Every namespace is removed, also on failure.
"""

import json
import os
import pty
import re
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid

from common import Uxt

A_IP, B_IP = "10.231.0.1", "10.231.0.2"
TA_IP, TB_IP = "10.232.0.1", "10.232.0.2"
JSON_KEYS = ["packet", "summary", "verdict", "decided_by", "reason", "trace",
             "out", "log"]


# Packets and captures, written here so the tests need no third-party module

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def addr(a):
    return bytes(int(x) for x in a.split("."))


def ip4(src, dst, proto, payload, ttl=64, ident=1, frag=0x4000, tos=0,
        tot=None):
    tot = 20 + len(payload) if tot is None else tot
    h = struct.pack("!BBHHHBBH4s4s", 0x45, tos, tot, ident, frag, ttl, proto,
                    0, addr(src), addr(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def icmp(t, c, rest, data=b""):
    m = struct.pack("!BBH", t, c, 0) + rest + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def udp(sp, dp, data=b""):
    return struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data


def tcp(sp, dp, seq, ack, flags, win, opts=b"", data=b""):
    off = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sp, dp, seq, ack, off << 4, flags, win,
                       0, 0) + opts + data


def pcap_bytes(records, linktype, snap=65535):
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snap, linktype)]
    for i, rec in enumerate(records):
        data, wire = (rec, len(rec)) if isinstance(rec, bytes) else rec
        out.append(struct.pack("<IIII", 1700000000 + i, 250000, len(data), wire))
        out.append(data)
    return b"".join(out)


def pcapng_bytes(records, linktype):
    """One section, one interface, enhanced packet blocks."""
    def block(btype, body):
        body += b"\0" * ((4 - len(body) % 4) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", linktype, 0, 65535))
    for i, data in enumerate(records):
        ts = (1700000000 + i) * 1000000 + 250000
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF,
                                    len(data), len(data)) + data)
    return out


def read_pcap(path):
    """(linktype, [(sec, usec, data, wirelen)]) of a classic pcap file."""
    with open(path, "rb") as f:
        raw = f.read()
    magic = struct.unpack("<I", raw[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(end + "I", raw[20:24])[0]
    recs, off = [], 24
    for _ in range(1000000):
        if off + 16 > len(raw):
            break
        sec, usec, cap, wire = struct.unpack(end + "IIII", raw[off:off + 16])
        recs.append((sec, usec, raw[off + 16:off + 16 + cap], wire))
        off += 16 + cap
    return linktype, recs


def link_ip(linktype, data):
    """The IPv4 datagram of a record, or None."""
    if linktype == 1 and len(data) > 14 and data[12:14] == b"\x08\x00":
        return data[14:]
    if linktype == 276 and len(data) > 20 and data[0:2] == b"\x08\x00":
        return data[20:]
    if linktype == 113 and len(data) > 16 and data[14:16] == b"\x08\x00":
        return data[16:]
    if linktype in (12, 101, 228) and data and data[0] >> 4 == 4:
        return data
    return None


# Running things

def sh(argv, timeout=60, check=False):
    p = subprocess.run(argv, capture_output=True, timeout=timeout)
    if check and p.returncode:
        raise RuntimeError("%s: %s" % (" ".join(argv), p.stderr.decode()))
    return p


class Topology:
    """Namespaces a and b, veth va/vb, ipip t0 in both."""

    def __init__(self):
        tag = uuid.uuid4().hex[:8]
        self.a, self.b = "uxtfd-a-" + tag, "uxtfd-b-" + tag
        self.made = []

    def setup(self):
        for ns in (self.a, self.b):
            sh(["ip", "netns", "add", ns], check=True)
            self.made.append(ns)
        sh(["ip", "link", "add", "va", "netns", self.a, "type", "veth", "peer",
            "name", "vb", "netns", self.b], check=True)
        for ns, dev, ip in ((self.a, "va", A_IP), (self.b, "vb", B_IP)):
            sh(["ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev], check=True)
            sh(["ip", "-n", ns, "link", "set", dev, "up"], check=True)
            sh(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
            # Linux's usual receive buffer, for the usual window scale 7
            sh(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                "net.ipv4.tcp_rmem=4096 131072 6291456"])
        self.tunnel = os.path.exists("/dev/net/tun")

    def close(self):
        for ns in self.made:
            sh(["ip", "netns", "del", ns])
        self.made = []

    def run(self, ns, argv, timeout=60):
        return sh(["ip", "netns", "exec", ns] + argv, timeout=timeout)


class Capture:
    """tcpdump writing a file in a namespace while traffic runs."""

    def __init__(self, ns, path, args):
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", ns, "tcpdump", "--immediate-mode", "-U", "-n",
             "-w", path] + args,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tcpdump says "listening on ..." once it captures; wait at most 10 s
        deadline = time.time() + 10
        buf = b""
        while b"listening" not in buf and time.time() < deadline:
            r, _, _ = select.select([self.p.stderr], [], [], 0.2)
            if r:
                chunk = os.read(self.p.stderr.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk

    def stop(self):
        time.sleep(0.3)
        self.p.terminate()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=10)


def tcpdump_lines(path, extra=()):
    p = sh(["tcpdump", "-n", "-S", "-t", "-r", path] + list(extra))
    return p.stdout.decode("utf-8", "replace").splitlines(), \
        p.stderr.decode("utf-8", "replace")


def ip_part(line):
    """The part of a tcpdump line from "IP " on (after cooked prefixes)."""
    if line.startswith("IP "):
        return line
    k = line.find(" IP ")
    return line[k + 1:] if k >= 0 else line


class FrontDoors:
    def __init__(self, res, bindir):
        self.res = res
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="uxt-front-")
        self.topo = Topology()

    def path(self, name):
        return os.path.join(self.dir, name)

    def state(self, name):
        d = self.path("state-" + name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def uxt(self, ns, args, state, timeout=120):
        u = Uxt(self.bindir, state, ns)
        return u.run("uxt", args, timeout=timeout)

    def ipt(self, ns, state, args):
        u = Uxt(self.bindir, state, ns)
        rc, out, err = u.ipt(args)
        if rc:
            raise RuntimeError("iptables %s: %s" % (args, err))
        return out

    def replay_json(self, ns, state, args):
        rc, out, err = self.uxt(ns, ["replay", "--json"] + args, state)
        objs = []
        for line in out.splitlines():
            objs.append(json.loads(line))
        return rc, objs, err

    # -- option parsing and errors

    def test_options(self):
        st = self.state("opts")
        b = self.topo.b
        cases = [
            (["inject", "--bogus"], 2, "Try `uxt inject -h'"),
            (["inject", "-i", "vb", "-o", "vb"], 2, "exclude each other"),
            (["inject", "-i", "nosuch0"], 2, "no such interface"),
            (["inject", "-o", "nosuch0", "-d", A_IP], 2, "no such interface"),
            (["inject", "-i", "vb", "-p", "tcp", "--icmp-type", "8"], 2,
             "--icmp-type needs -p icmp"),
            (["inject", "-i", "vb", "--icmp-type", "bogus"], 2,
             "Unknown ICMP type `bogus'"),
            (["inject", "-i", "vb", "--icmp-type", "any"], 2, "needs one type"),
            (["inject", "-i", "vb", "--icmp-type", "echo"], 2, "Ambiguous ICMP type"),
            (["inject", "-i", "vb", "-p", "tcp", "--tcp-flags", "SYN,FOO"], 2,
             "Unknown TCP flag `FOO'"),
            (["inject", "-i", "vb", "--sport", "80"], 2, "need -p tcp or -p udp"),
            (["inject", "-i", "vb", "-p", "tcp", "--dport", "nosuchservice"], 2,
             "invalid port/service"),
            (["inject", "-i", "vb", "--length", "10"], 2, "shorter than the headers"),
            (["inject", "-i", "vb", "--length", "70000"], 2, "not a number"),
            (["inject", "-i", "vb", "--ttl", "300"], 2, "not a number from 0 to 255"),
            (["inject", "-i", "vb", "--payload", "0xabc"], 2, "odd number"),
            (["inject", "-i", "vb", "--payload", "0xzz"], 2, "not a hex digit"),
            (["inject", "-i", "vb", "--expect", "MAYBE"], 2, "--expect"),
            (["inject", "-i", "vb", "--expect", "filter:INPUT:x"], 2, "--expect"),
            (["inject", "-i", "vb", "-p", "nosuchproto"], 2, "unknown protocol"),
            (["inject", "-i", "vb", "-p", "all"], 2, "needs one protocol"),
            (["inject", "-i", "vb", "-s", "1.2.3.0/24"], 2, "needs one address"),
            (["inject", "-d", A_IP, "--time", "abc"], 2, "--time"),
            (["inject", "-p", "tcp"], 2, "needs -d ADDR"),
            (["inject", "-i", "vb", "stray"], 2, "unexpected argument"),
            (["inject", "-i"], 2, "Try `uxt inject -h'"),
            (["inject", "--host", self.path("nosuchhost"), "-i", "vb"], 2, "nosuchhost"),
            (["replay"], 2, "no capture file"),
            (["replay", self.path("nosuch.pcap")], 3, "nosuch.pcap"),
            (["replay", "a.pcap", "b.pcap"], 2, "unexpected argument"),
            (["replay", "a.pcap", "-i", "vb", "-o", "vb"], 2, "exclude each other"),
            (["replay", "--bogus", "a.pcap"], 2, "Try `uxt replay -h'"),
        ]
        for args, want_rc, want_err in cases:
            rc, out, err = self.uxt(b, args, st)
            self.res.check("front_doors options %s" % " ".join(args),
                           rc == want_rc and want_err in err,
                           "rc %d (want %d), stderr %r" % (rc, want_rc, err))
        for cmd in ("inject", "replay"):
            rc, out, err = self.uxt(b, [cmd, "-h"], st)
            self.res.check("front_doors %s -h" % cmd,
                           rc == 0 and out.startswith("Usage: uxt %s" % cmd) and not err,
                           "rc %d out %r err %r" % (rc, out[:200], err))

    # -- the builder against the wire

    def capture_local_traffic(self):
        a, topo = self.topo.a, self.topo
        path = self.path("a-va.pcap")
        cap = Capture(a, path, ["-i", "va"])
        topo.run(a, ["ping", "-c1", "-W1", B_IP])
        topo.run(a, ["ping", "-c1", "-W1", "-s", "300", B_IP])
        topo.run(a, ["ping", "-c1", "-W1", "-s", "8", B_IP])
        topo.run(a, ["sh", "-c", "echo hello | nc -u -w1 -p 40001 %s 9" % B_IP])
        topo.run(a, ["nc", "-z", "-w1", "-p", "40002", B_IP, "80"])
        cap.stop()
        return path

    def test_builder(self, path):
        a = self.topo.a
        st = self.state("builder")
        lt, recs = read_pcap(path)
        compared = 0
        for sec, usec, data, wire in recs:
            ip = link_ip(lt, data)
            if not ip or ip[12:16] != addr(A_IP):
                continue
            ihl = (ip[0] & 15) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            ident = struct.unpack("!H", ip[4:6])[0]
            proto = ip[9]
            l4 = bytearray(ip[ihl:tot])
            args = ["inject", "--json", "-o", "va", "-d", B_IP, "--id", str(ident)]
            if proto == 1 and l4[0] == 8:
                what = "ping %d bytes" % tot
                # ping's id is its own; the builder's is 1
                l4[4:6] = b"\0\1"
                if tot - 28 >= 16:
                    tsec, tusec = struct.unpack("<QQ", bytes(l4[8:24]))
                    args += ["--time", "%d.%06d" % (tsec, tusec)]
                if tot != 84:
                    args += ["--length", str(tot)]
                l4[2:4] = b"\0\0"
                l4[2:4] = struct.pack("!H", csum(bytes(l4)))
            elif proto == 17:
                what = "UDP send"
                sp, dp = struct.unpack("!HH", l4[0:4])
                args += ["-p", "udp", "--sport", str(sp), "--dport", str(dp),
                         "--payload", "0x" + bytes(l4[8:]).hex()]
                l4[6:8] = b"\0\0"
                c = csum(ip[12:20] + struct.pack("!BBH", 0, 17, len(l4)) + bytes(l4))
                l4[6:8] = struct.pack("!H", c or 0xFFFF)
            elif proto == 6 and l4[13] == 0x02:
                what = "TCP connect SYN"
                sp, dp = struct.unpack("!HH", l4[0:4])
                args += ["-p", "tcp", "--sport", str(sp), "--dport", str(dp)]
                # the connection's random initial sequence and timestamp
                l4[4:8] = struct.pack("!I", 1)
                k = 20
                while k < (l4[12] >> 4) * 4:
                    if l4[k] == 8:
                        l4[k + 2:k + 6] = struct.pack("!I", 1)
                    k += 1 if l4[k] in (0, 1) else max(l4[k + 1], 1)
                l4[16:18] = b"\0\0"
                c = csum(ip[12:20] + struct.pack("!BBH", 0, 6, len(l4)) + bytes(l4))
                l4[16:18] = struct.pack("!H", c)
            else:
                continue
            want = bytes(ip[:ihl]) + bytes(l4)
            rc, out, err = self.uxt(a, args, st)
            got = None
            try:
                got = bytes.fromhex(json.loads(out)["out"][0]["hex"])
            except (ValueError, KeyError, IndexError):
                pass
            compared += 1
            self.res.check("front_doors builder %s" % what, got == want,
                           "uxt %s\n wire %s\n uxt  %s\n rc %d err %s"
                           % (" ".join(args), want.hex(), got.hex() if got else out,
                              rc, err))
        self.res.check("front_doors builder compared 5 packets", compared == 5,
                       "compared %d" % compared)

    # -- printing

    def compare_summaries(self, name, path, replay_args, ns=None):
        """Every record's summary against tcpdump's line for it."""
        ns = ns or self.topo.b
        st = self.state("print-" + name)
        lines, terr = tcpdump_lines(path)
        rc, objs, err = self.replay_json(ns, st, [path] + replay_args)
        same = diff = 0
        details = []
        for obj in objs:
            n = obj["packet"]
            if obj["summary"] is None or n - 1 >= len(lines):
                continue
            theirs = ip_part(lines[n - 1])
            if theirs == obj["summary"]:
                same += 1
            else:
                diff += 1
                details.append("#%d uxt     %s\n#%d tcpdump %s" % (n, obj["summary"], n, theirs))
        self.res.check("front_doors printing %s (%d records)" % (name, same + diff),
                       rc == 0 and diff == 0 and same > 0,
                       "rc %d err %s\n%s" % (rc, err, "\n".join(details[:20])))
        return same

    def crafted_packets(self):
        A, B = "192.168.0.1", "192.168.0.10"
        inner = ip4(B, A, 17, udp(40000, 33434), ident=7, frag=0)
        inner_t = ip4(B, A, 6, tcp(40000, 80, 1, 0, 2, 64240)[:8], ident=7,
                      frag=0, tot=60)
        syn_opts = bytes([2, 4, 5, 0xB4, 4, 2, 8, 10]) + struct.pack("!II", 1, 0) + \
            bytes([1, 3, 3, 7])
        ts_opts = bytes([1, 1, 8, 10]) + struct.pack("!II", 1, 1)

        def T(flags, opts=b"", data=b"", win=502, dport=7777):
            return ip4(A, B, 6, tcp(40000, dport, 1, 1, flags, win, opts, data))
        pk = [ip4(A, B, 1, icmp(8, 0, struct.pack("!HH", 1, 1), bytes(56))),
              ip4(A, B, 1, icmp(0, 0, struct.pack("!HH", 1, 1), bytes(56)))]
        pk += [ip4(A, B, 1, icmp(3, c, struct.pack("!HH", 0, 1400 if c == 4 else 0),
                                 inner)) for c in range(17)]
        pk += [ip4(A, B, 1, icmp(3, 3, b"\0" * 4, inner_t)),
               ip4(A, B, 1, icmp(3, 4, b"\0" * 4, inner)),
               ip4(A, B, 1, icmp(3, 3, b"\0" * 4, ip4(B, A, 47, b"\0" * 8))),
               ip4(A, B, 1, icmp(3, 3, b"\0" * 4, b""))]
        pk += [ip4(A, B, 1, icmp(11, c, b"\0" * 4, inner)) for c in (0, 1, 2)]
        pk += [ip4(A, B, 1, icmp(5, c, addr("10.0.0.1"), inner)) for c in range(5)]
        pk += [ip4(A, B, 1, icmp(4, 0, b"\0" * 4, inner)),
               ip4(A, B, 1, icmp(12, 0, bytes([20, 0, 0, 0]), inner)),
               ip4(A, B, 1, icmp(12, 1, b"\0" * 4, inner)),
               ip4(A, B, 1, icmp(13, 0, struct.pack("!HH", 1, 2), bytes(12))),
               ip4(A, B, 1, icmp(14, 0, struct.pack("!HH", 1, 2),
                                 struct.pack("!III", 3723004, 100, 86399999))),
               ip4(A, B, 1, icmp(15, 0, struct.pack("!HH", 1, 2))),
               ip4(A, B, 1, icmp(16, 0, struct.pack("!HH", 1, 2))),
               ip4(A, B, 1, icmp(17, 0, struct.pack("!HH", 1, 2), bytes(4))),
               ip4(A, B, 1, icmp(18, 0, struct.pack("!HH", 1, 2), bytes([255, 255, 255, 0]))),
               ip4(A, B, 1, icmp(9, 0, struct.pack("!BBH", 2, 2, 90),
                                 addr("10.0.0.1") + struct.pack("!I", 5) +
                                 addr("10.0.0.2") + struct.pack("!I", 7))),
               ip4(A, B, 1, icmp(10, 0, b"\0" * 4)),
               ip4(A, B, 1, icmp(42, 3, b"\0" * 4)),
               ip4(A, B, 1, icmp(8, 0, b"\0\1")[:6])]
        pk += [T(0x02, syn_opts, win=64240), T(0x12, syn_opts, win=64240),
               T(0x10, ts_opts), T(0x18, data=b"hello"), T(0x04, win=0),
               T(0x14, win=0), T(0x11), T(0x3F), T(0xC2), T(0x00), T(0x20),
               T(0x10, bytes([5, 10]) + struct.pack("!II", 100, 200) + bytes([1, 1])),
               T(0x10, bytes([0, 0, 0, 0])), T(0x10, bytes([99, 4, 1, 2])),
               T(0x10, bytes([2, 3, 5, 0])), T(0x10, bytes([3, 3, 14, 0])),
               T(0x10, bytes([6, 6, 0, 0, 0, 1, 0, 0])),
               T(0x10, bytes([1, 1, 99, 1])),
               ip4(A, B, 6, b"\0" * 10)]
        pk += [ip4(A, B, 17, udp(40000, 9, b"hello")), ip4(A, B, 17, udp(40000, 9)),
               ip4(A, B, 17, udp(40000, 9, b"hello"), frag=0x2000),
               ip4(A, B, 17, b"rest", frag=3), ip4(A, B, 6, b"rest", frag=0x2003),
               ip4(A, B, 99, b"abcd"), ip4(A, B, 253, b""),
               ip4(A, B, 17, udp(40000, 9, b"x" * 10), tot=20),
               ip4(A, B, 17, struct.pack("!HHHH", 1, 2, 4, 0) + b"abc"),
               ip4(A, B, 17, struct.pack("!HHHH", 1, 2, 100, 0) + b"abc"),
               ip4(A, B, 17, udp(40000, 9, b"x" * 30), tot=30),
               ip4(A, B, 17, udp(1, 2, b"abc"), tot=200),
               ip4(A, B, 17, udp(40000, 9, b"hello"))[:25],
               ip4(A, B, 17, udp(40000, 9, b"x"), tos=0x10, ttl=1)]
        return pk

    # -- link types, verdicts, counters

    def capture_b(self):
        """Captures in b of a pinging b (and b pinging itself)."""
        a, b, topo = self.topo.a, self.topo.b, self.topo
        caps = {
            "eth": Capture(b, self.path("b-eth.pcap"), ["-i", "vb"]),
            "sll2": Capture(b, self.path("b-sll2.pcap"), ["-i", "any"]),
            "sll1": Capture(b, self.path("b-sll1.pcap"), ["-i", "any", "-y", "LINUX_SLL"]),
            "snap": Capture(b, self.path("b-snap.pcap"), ["-i", "vb", "-s", "60"]),
        }
        topo.run(a, ["ping", "-c3", "-i", "0.2", "-W1", B_IP])
        topo.run(a, ["ping", "-c1", "-W1", "-s", "300", B_IP])
        for c in caps.values():
            c.stop()
        lo = Capture(b, self.path("b-lo.pcap"), ["-i", "lo"])
        topo.run(b, ["ping", "-c3", "-i", "0.2", "-W1", B_IP])
        lo.stop()
        if topo.tunnel:
            self.capture_tun()

    def capture_tun(self):
        """Raw IP: echo requests written into a tun device in b."""
        pings = [ip4(TA_IP, TB_IP, 1, icmp(8, 0, struct.pack("!HH", 7, i + 1),
                                          bytes(range(56))), ident=100 + i)
                 for i in range(3)]
        writer = (
            "import fcntl, os, struct, sys, time\n"
            "fd = os.open('/dev/net/tun', os.O_RDWR)\n"
            "fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', b't0', 0x1001))\n"
            "fcntl.ioctl(fd, 0x400454cb, 1)\n"
            "os.system('ip addr add %s/24 dev t0 && ip link set t0 up')\n"
            "print('ready', flush=True)\n"
            "sys.stdin.readline()\n"
            "for h in sys.argv[1:]:\n"
            "    os.write(fd, bytes.fromhex(h))\n"
            "    time.sleep(0.1)\n"
            "print('sent', flush=True)\n"
            "sys.stdin.readline()\n" % TB_IP)
        p = subprocess.Popen(["ip", "netns", "exec", self.topo.b, "python3", "-c",
                              writer] + [x.hex() for x in pings],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            if p.stdout.readline().strip() != b"ready":
                self.topo.tunnel = False
                return
            raw = Capture(self.topo.b, self.path("b-raw.pcap"), ["-i", "t0"])
            p.stdin.write(b"go\n")
            p.stdin.flush()
            p.stdout.readline()
            raw.stop()
            p.stdin.write(b"done\n")
            p.stdin.flush()
            p.wait(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)

    def verdicts(self, objs):
        return [(o["summary"].split(": ICMP ")[1].split(",")[0] if o["summary"] else None,
                 o["verdict"], o["reason"] is None) for o in objs]

    def count_rules(self, ns, st):
        self.ipt(ns, st, ["-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request",
                          "-j", "ACCEPT"])
        self.ipt(ns, st, ["-A", "OUTPUT", "-p", "icmp"])

    def rule_counter(self, ns, st, chain):
        out = self.ipt(ns, st, ["-L", chain, "-v", "-x", "-n"])
        row = out.splitlines()[2].split()
        return int(row[0]), int(row[1])

    def test_link_types(self):
        b = self.topo.b
        echo_req = lambda objs: [o for o in objs if o["summary"] and "echo request" in o["summary"]]
        echo_rep = lambda objs: [o for o in objs if o["summary"] and "echo reply" in o["summary"]]

        # Ethernet, no direction: every frame received on vb
        st = self.state("eth")
        self.count_rules(b, st)
        rc, objs, err = self.replay_json(b, st, [self.path("b-eth.pcap"), "-i", "vb"])
        req, rep = echo_req(objs), echo_rep(objs)
        skipped = [o for o in objs if o["summary"] is None]
        ok = (rc == 0 and len(req) == 4 and all(o["verdict"] == "ACCEPT" and
              o["decided_by"] == {"table": "filter", "chain": "INPUT", "rule": 1,
                                  "policy": False} for o in req)
              and len(rep) == 4 and all(o["verdict"] == "DROP" and
                                        "not for this host" in (o["reason"] or "")
                                        for o in rep)
              and all(o["reason"].startswith("skipped: not IPv4") for o in skipped))
        self.res.check("front_doors replay Ethernet -i vb", ok,
                       "rc %d err %s\n%s" % (rc, err, "\n".join(json.dumps(o) for o in objs)))
        self.res.check("front_doors replay Ethernet counters committed",
                       self.rule_counter(b, st, "INPUT") == (4, 3 * 84 + 328),
                       self.ipt(b, st, ["-L", "-v", "-x", "-n"]))

        # pcapng of the same frames: the same verdicts
        _, recs = read_pcap(self.path("b-eth.pcap"))
        with open(self.path("b-eth.pcapng"), "wb") as f:
            f.write(pcapng_bytes([r[2] for r in recs], 1))
        st2 = self.state("pcapng")
        rc2, objs2, err2 = self.replay_json(b, st2, [self.path("b-eth.pcapng"), "-i", "vb"])
        self.res.check("front_doors replay pcapng", rc2 == 0 and
                       [(o["summary"], o["verdict"]) for o in objs2] ==
                       [(o["summary"], o["verdict"]) for o in objs],
                       "rc %d err %s" % (rc2, err2))

        # Linux cooked v2: direction and interface from the capture
        st = self.state("sll2")
        self.count_rules(b, st)
        outp = self.path("b-sll2-out.pcap")
        rc, objs, err = self.replay_json(b, st, [self.path("b-sll2.pcap"), "-w", outp])
        req, rep = echo_req(objs), echo_rep(objs)
        ok = (rc == 0 and len(req) == 4 and len(rep) == 4 and
              all(o["verdict"] == "ACCEPT" for o in req + rep) and
              all(len(o["out"]) == 1 and o["out"][0]["dev"] == "vb" and
                  o["out"][0]["summary"] == o["summary"] for o in rep))
        self.res.check("front_doors replay cooked v2 (direction, ifindex)", ok,
                       "rc %d err %s\n%s" % (rc, err, "\n".join(json.dumps(o) for o in objs)))
        self.res.check("front_doors replay cooked v2 OUTPUT counters",
                       self.rule_counter(b, st, "OUTPUT") == (4, 3 * 84 + 328),
                       self.ipt(b, st, ["-L", "-v", "-x", "-n"]))
        lines, terr = tcpdump_lines(outp)
        outs = [x["out"][0]["summary"] for x in objs if x["out"]]
        self.res.check("front_doors -w read by tcpdump (cooked v2, Out, vb)",
                       "LINUX_SLL2" in terr and len(lines) == len(outs) == 4 and
                       all(" Out " in l for l in lines) and
                       [ip_part(l) for l in lines] == outs,
                       "%s\n%s\n%s" % (terr, "\n".join(lines), "\n".join(outs)))
        with open(outp, "rb") as f:
            hdr = f.read(24 + 16 + 20)
        self.res.check("front_doors -w records carry vb's ifindex",
                       len(hdr) == 60 and struct.unpack("!I", hdr[44:48])[0] ==
                       int(self.topo.run(b, ["cat", "/sys/class/net/vb/ifindex"]).stdout),
                       hdr.hex())

        # Linux cooked v1: direction from the capture, interface from -i
        st = self.state("sll1")
        self.count_rules(b, st)
        rc, objs, err = self.replay_json(b, st, [self.path("b-sll1.pcap"), "-i", "vb"])
        req, rep = echo_req(objs), echo_rep(objs)
        self.res.check("front_doors replay cooked v1 -i vb", rc == 0 and len(req) == 4 and
                       len(rep) == 4 and all(o["verdict"] == "ACCEPT" for o in req + rep) and
                       all(o["out"] and o["out"][0]["dev"] == "vb" for o in rep),
                       "rc %d err %s\n%s" % (rc, err, "\n".join(json.dumps(o) for o in objs)))
        rc, objs, err = self.replay_json(b, st, [self.path("b-sll1.pcap")])
        self.res.check("front_doors replay cooked v1 without -i: skipped, not guessed",
                       rc == 0 and all(o["reason"] and "give -i" in o["reason"]
                                       for o in objs if o["summary"] is None and
                                       "received" in (o["reason"] or "")) and
                       len([o for o in objs if o["summary"] is None]) >= 4,
                       "\n".join(json.dumps(o) for o in objs))

        # lo
        st = self.state("lo")
        self.count_rules(b, st)
        rc, objs, err = self.replay_json(b, st, [self.path("b-lo.pcap"), "-i", "lo"])
        req, rep = echo_req(objs), echo_rep(objs)
        self.res.check("front_doors replay lo", rc == 0 and len(req) == 3 and
                       len(rep) == 3 and all(o["verdict"] == "ACCEPT" for o in req + rep),
                       "rc %d err %s\n%s" % (rc, err, "\n".join(json.dumps(o) for o in objs)))

        # raw IP (ipip), and the same datagrams as BSD null and loop
        if not self.topo.tunnel:
            self.res.skip("front_doors replay raw IP", "no /dev/net/tun")
            return
        lt, recs = read_pcap(self.path("b-raw.pcap"))
        st = self.state("raw")
        self.count_rules(b, st)
        rc, objs, err = self.replay_json(b, st, [self.path("b-raw.pcap"), "-i", "t0"])
        req = echo_req(objs)
        self.res.check("front_doors replay raw IP (%d)" % lt, rc == 0 and len(req) == 3 and
                       all(o["verdict"] == "ACCEPT" for o in req),
                       "rc %d err %s\n%s" % (rc, err, "\n".join(json.dumps(o) for o in objs)))
        for name, lt2, order in (("null", 0, "<I"), ("loop", 108, "!I")):
            p = self.path("b-%s.pcap" % name)
            with open(p, "wb") as f:
                f.write(pcap_bytes([struct.pack(order, 2) + r[2] for r in recs] +
                                   [struct.pack(order, 24) + b"\x60" + bytes(39)], lt2))
            st2 = self.state(name)
            rc2, objs2, err2 = self.replay_json(b, st2, [p, "-i", "t0"])
            self.res.check("front_doors replay BSD %s" % name, rc2 == 0 and
                           [o["verdict"] for o in objs2[:-1]] == [o["verdict"] for o in objs] and
                           objs2[-1]["reason"] == "skipped: not IPv4 (address family 24)",
                           "rc %d err %s\n%s" % (rc2, err2, "\n".join(json.dumps(o) for o in objs2)))

    def test_counters_listing(self):
        """replay's closing listing is iptables -L -v -n -x's."""
        b = self.topo.b
        st = self.state("listing")
        self.count_rules(b, st)
        self.ipt(b, st, ["-t", "mangle", "-A", "PREROUTING", "-p", "icmp"])
        rc, out, err = self.uxt(b, ["replay", self.path("b-eth.pcap"), "-i", "vb"], st)
        tables = out.split("\nTable: ")[1:]
        ok = rc == 0 and len(tables) == 2
        details = [out]
        for t in tables:
            name, listing = t.split("\n", 1)
            want = self.ipt(b, st, ["-t", name, "-L", "-v", "-n", "-x"])
            if listing.rstrip("\n") != want.rstrip("\n"):
                ok = False
                details.append("%s:\n%s\nwant\n%s" % (name, listing, want))
        self.res.check("front_doors replay counters listing = iptables -L -v -n -x",
                       ok, "\n".join(details))
        out2 = self.ipt(b, st, ["-t", "mangle", "-L", "PREROUTING", "-v", "-x", "-n"])
        # the replies were sent to a's MAC: PACKET_OTHERHOST, dropped
        # before PREROUTING
        self.res.check("front_doors replay mangle PREROUTING counted the frames for b",
                       out2.splitlines()[2].split()[:2] == ["4", str(3 * 84 + 328)], out2)

    # -- inject: verdicts, --expect, JSON, --log, --nflog-dir, REJECT

    def test_syslog(self):
        """--syslog: the LOG line reaches /dev/log as the kernel's line, at
        the rule's level, facility user, and is not printed.  /dev/log is a
        socket of the test's, seen only by uxt (a private mount namespace)."""
        b = self.topo.b
        st = self.state("syslog")
        self.ipt(b, st, ["-A", "INPUT", "-p", "icmp", "-j", "LOG",
                         "--log-prefix", "sys: ", "--log-level", "6"])
        sock_path = self.path("devlog")
        devdir = self.path("dev")
        os.makedirs(devdir, exist_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(sock_path)
            sock.settimeout(10)
            script = (
                "mount --make-rprivate / && mount -t tmpfs none %(d)s && "
                "ln -s %(s)s %(d)s/log && for n in null zero urandom; do "
                "touch %(d)s/$n && mount --bind /dev/$n %(d)s/$n; done && "
                "mount --bind %(d)s /dev && exec \"$@\"" % {"d": devdir,
                                                        "s": sock_path})
            argv = ["unshare", "-m", "sh", "-c", script, "sh", "ip", "netns",
                    "exec", b, os.path.join(self.bindir, "uxt"), "inject",
                    "-i", "vb", "-p", "icmp", "-s", "10.9.0.1", "--syslog"]
            env = dict(os.environ, UXT_STATE=st)
            p = subprocess.run(argv, capture_output=True, timeout=60, env=env)
            out = p.stdout.decode()
            try:
                msg = sock.recv(4096).decode()
            except socket.timeout:
                msg = ""
        finally:
            sock.close()
        m = re.match(r"<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d uxt\[\d+\]: "
                     r"sys: IN=vb OUT= MAC=\S+ SRC=10\.9\.0\.1 ", msg)
        self.res.check("front_doors inject --syslog: the LOG line at "
                       "user.info, not printed",
                       p.returncode == 0 and m is not None and
                       m.group(1) == "14" and "sys:" not in out,
                       "rc %d, stdout %r, stderr %r, syslog %r" % (
                           p.returncode, out, p.stderr.decode(), msg))

    def test_inject(self):
        b = self.topo.b
        st = self.state("inject")
        self.ipt(b, st, ["-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request",
                         "-j", "DROP"])
        self.ipt(b, st, ["-A", "INPUT", "-p", "tcp", "--dport", "80", "-j", "LOG",
                         "--log-prefix", "web: "])
        self.ipt(b, st, ["-A", "INPUT", "-p", "tcp", "--dport", "80", "-j", "REJECT",
                         "--reject-with", "tcp-reset"])
        self.ipt(b, st, ["-A", "INPUT", "-p", "udp", "-j", "NFLOG", "--nflog-group", "5"])
        cases = [
            (["-i", "vb"], "ACCEPT", 1), (["-i", "vb"], "DROP", 0),
            (["-i", "vb"], "filter:INPUT:1", 0), (["-i", "vb"], "filter:INPUT:2", 1),
            (["-i", "vb", "-p", "udp"], "ACCEPT", 0),
            (["-i", "vb", "-p", "udp"], "filter:INPUT:policy", 0),
            (["-i", "vb", "-p", "udp"], "filter:INPUT:5", 0),
            (["-i", "vb", "-p", "udp"], "filter:INPUT:4", 1),
            (["-i", "vb", "-p", "tcp"], "filter:INPUT:3", 0),
            (["-i", "vb", "-p", "tcp"], "DROP", 0),
            (["-d", A_IP, "-p", "tcp"], "filter:OUTPUT:policy", 0),
            (["-d", A_IP, "-p", "tcp"], "filter:INPUT:policy", 1),
        ]
        for args, expect, want in cases:
            rc, out, err = self.uxt(b, ["inject"] + args + ["--expect", expect], st)
            self.res.check("front_doors --expect %s %s" % (" ".join(args), expect),
                           rc == want, "rc %d out %s err %s" % (rc, out, err))
        # JSON: the documented keys, in order, and the REJECT reply in "out"
        rc, out, err = self.uxt(b, ["inject", "-i", "vb", "-p", "tcp", "--json",
                                    "--trace"], st)
        obj = None
        try:
            obj = json.loads(out)
        except ValueError:
            pass
        ok = (rc == 0 and obj is not None and list(obj) == JSON_KEYS and
              obj["packet"] == 1 and obj["verdict"] == "DROP" and
              obj["decided_by"] == {"table": "filter", "chain": "INPUT", "rule": 3,
                                    "policy": False} and obj["reason"] is None and
              [t["rule"] for t in obj["trace"]] == [2, 3] and
              all(list(t) == ["table", "chain", "rule", "comment"] for t in obj["trace"]) and
              len(obj["out"]) == 1 and list(obj["out"][0]) == ["dev", "summary", "hex"] and
              "Flags [R.]" in obj["out"][0]["summary"] and
              len(obj["log"]) == 1 and obj["log"][0].startswith("<4>web: IN=vb OUT= MAC=") and
              obj["log"][0].endswith(" "))
        self.res.check("front_doors inject --json (REJECT reply, LOG, trace)", ok, out + err)
        # --log FILE takes the LOG lines off the report
        logf = self.path("log.txt")
        rc, out, err = self.uxt(b, ["inject", "-i", "vb", "-p", "tcp", "--log", logf], st)
        with open(logf) as f:
            logged = f.read()
        self.res.check("front_doors inject --log FILE",
                       rc == 0 and "log:" not in out and logged.startswith("<4>web: IN=vb ")
                       and logged.endswith(" \n"), out + logged)
        # --nflog-dir: a capture tcpdump reads
        nfdir = self.path("nflog")
        rc, out, err = self.uxt(b, ["inject", "-i", "vb", "-p", "udp", "--nflog-dir", nfdir], st)
        lines, terr = tcpdump_lines(os.path.join(nfdir, "nflog-5.pcap"))
        self.res.check("front_doors inject --nflog-dir read by tcpdump",
                       rc == 0 and "NFLOG" in terr and len(lines) == 1 and
                       ip_part(lines[0]) == "IP %s.40000 > %s.9: UDP, length 0" % (A_IP, B_IP),
                       terr + "\n".join(lines) + err)
        # the text report
        rc, out, err = self.uxt(b, ["inject", "-i", "vb", "--trace"], st)
        self.res.check("front_doors inject text report",
                       rc == 0 and out.splitlines() ==
                       ["IP %s > %s: ICMP echo request, id 1, seq 1, length 64 => DROP "
                        "filter:INPUT:1" % (A_IP, B_IP),
                        "  trace: filter:INPUT:rule:1"], out + err)
        # counters of all of the above committed
        out = self.ipt(b, st, ["-L", "INPUT", "-v", "-x", "-n"])
        rows = [l.split() for l in out.splitlines()[2:]]
        self.res.check("front_doors inject counters committed",
                       [int(r[0]) for r in rows] == [5, 4, 4, 5], out)

    # -- --host FILE: another machine

    def test_host_file(self):
        host = self.path("host.txt")
        with open(host, "w") as f:
            f.write("forwarding off\n"
                    "iface lo index 1 type loopback\n"
                    "    addr 127.0.0.1/8\n"
                    "iface eth0 index 2 mac 52:54:00:12:34:56\n"
                    "    addr 192.168.1.10/24 brd +\n"
                    "route default via 192.168.1.1\n")
        st = self.state("hostfile")
        self.ipt(None, st, ["-A", "INPUT", "-j", "LOG"])
        rc, out, err = self.uxt(None, ["inject", "--host", host, "--json", "-i", "eth0",
                                       "-p", "tcp"], st)
        o = json.loads(out) if rc == 0 else {}
        self.res.check("front_doors --host FILE: received on eth0 with its MAC",
                       o.get("summary", "").startswith(
                           "IP 192.168.1.1.40000 > 192.168.1.10.80: Flags [S]") and
                       o.get("verdict") == "ACCEPT" and len(o["log"]) == 1 and
                       " MAC=52:54:00:12:34:56:02:00:c0:a8:01:01:08:00 " in o["log"][0],
                       out + err)
        rc, out, err = self.uxt(None, ["inject", "--host", host, "--json", "-d", "8.8.8.8",
                                       "-p", "udp", "--dport", "53"], st)
        o = json.loads(out) if rc == 0 else {}
        self.res.check("front_doors --host FILE: sent by the default route",
                       o.get("verdict") == "ACCEPT" and len(o["out"]) == 1 and
                       o["out"][0]["dev"] == "eth0" and
                       o["out"][0]["summary"].startswith("IP 192.168.1.10.40000 > 8.8.8.8.53:"),
                       out + err)

    # -- which events belong to the packet

    def test_attribution(self):
        """Packets the kernel creates while handling one (ICMP errors of
        forwarding, REJECT replies) are reported in "out" but neither
        trace nor decide the packet."""
        b, topo = self.topo.b, self.topo
        st = self.state("attribution")
        self.ipt(b, st, ["-t", "raw", "-A", "PREROUTING", "-j", "ACCEPT"])
        self.ipt(b, st, ["-A", "OUTPUT", "-j", "ACCEPT"])
        self.ipt(b, st, ["-I", "OUTPUT", "-p", "tcp", "--syn", "-j", "REJECT",
                         "--reject-with", "tcp-reset"])
        other = "10.231.0.7"
        topo.run(b, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        try:
            def inject(args):
                rc, out, err = self.uxt(b, ["inject", "--json"] + args, st)
                try:
                    return json.loads(out)
                except ValueError:
                    return {"error": out + err}

            def trace(o):
                return ["%s:%s:%s:%d" % (t["table"], t["chain"], t["comment"], t["rule"])
                        for t in o.get("trace", [])]
            o = inject(["-i", "vb", "-d", other, "--ttl", "1"])
            self.res.check("front_doors TTL exceeded: reason, the error in out, not in trace",
                           o.get("verdict") == "DROP" and o.get("decided_by") is None and
                           "TTL" in (o.get("reason") or "") and
                           trace(o) == ["raw:PREROUTING:policy:1"] and
                           len(o["out"]) == 1 and "time exceeded in-transit" in o["out"][0]["summary"],
                           json.dumps(o))
            o = inject(["-i", "vb", "-d", other])
            # back out of the link it came in on (send_redirects is on in
            # a fresh namespace): the sender is told, then it is forwarded
            self.res.check("front_doors forwarded: ACCEPT by the FORWARD policy, "
                           "a redirect, TTL 63 out",
                           o.get("verdict") == "ACCEPT" and
                           o.get("decided_by") == {"table": "filter", "chain": "FORWARD",
                                                   "rule": 1, "policy": True} and
                           trace(o) == ["raw:PREROUTING:policy:1", "filter:FORWARD:policy:1"] and
                           len(o["out"]) == 2 and
                           "redirect %s to host" % other in o["out"][0]["summary"] and
                           o["out"][1]["dev"] == "vb" and
                           o["out"][1]["hex"][16:18] == "3f", json.dumps(o))
            o = inject(["-d", other, "-p", "tcp"])
            self.res.check("front_doors REJECT in OUTPUT: the reply's rules not in the trace",
                           o.get("verdict") == "DROP" and
                           o.get("decided_by") == {"table": "filter", "chain": "OUTPUT",
                                                   "rule": 1, "policy": False} and
                           trace(o) == ["raw:OUTPUT:policy:1", "filter:OUTPUT:rule:1"],
                           json.dumps(o))
        finally:
            topo.run(b, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"])

    # -- bad input

    def test_bad_input(self):
        b = self.topo.b
        st = self.state("bad")
        self.count_rules(b, st)
        eth = self.path("b-eth.pcap")
        with open(eth, "rb") as f:
            data = f.read()
        cut = self.path("cut.pcap")
        with open(cut, "wb") as f:
            f.write(data[:len(data) - 10])
        rc, out, err = self.uxt(b, ["replay", cut, "-i", "vb"], st)
        n = len(read_pcap(eth)[1])
        self.res.check("front_doors truncated capture: error, earlier packets replayed",
                       rc == 3 and "damaged capture after record %d" % (n - 1) in err and
                       ("\n%d " % (n - 1)) in out and "\nTable: filter" in out,
                       "rc %d out %s err %s" % (rc, out[-300:], err))
        for name, content, want in (("empty", b"", "uxt replay: "),
                                    ("garbage", b"this is not a capture at all" * 10,
                                     "uxt replay: "),
                                    ("header-only", data[:24], None),
                                    ("user0", pcap_bytes([b"x" * 40], 147), "link type 147")):
            p = self.path(name + ".pcap")
            with open(p, "wb") as f:
                f.write(content)
            rc, out, err = self.uxt(b, ["replay", p, "-i", "vb"], st)
            if want is None:
                self.res.check("front_doors replay %s: no packets, no error" % name,
                               rc == 0 and not err, "rc %d err %s" % (rc, err))
            else:
                self.res.check("front_doors replay %s: clear error" % name,
                               rc == 3 and want in err and "Sanitizer" not in err,
                               "rc %d err %s" % (rc, err))
        # frames that cannot be replayed, one reason each
        mac_b = bytes(6)
        frames = [
            mac_b + bytes(6) + b"\x86\xdd" + bytes(40),
            mac_b + bytes(6) + b"\x81\x00" + bytes(40),
            mac_b + bytes(6) + b"\x08",
            mac_b + bytes(6) + b"\x08\x00" + b"\x60" + bytes(39),
            mac_b + bytes(6) + b"\x08\x00",
            (mac_b + bytes(6) + b"\x08\x00" + ip4("10.0.0.1", B_IP, 17, udp(1, 2, b"x" * 40))[:30], 82),
        ]
        p = self.path("odd.pcap")
        with open(p, "wb") as f:
            f.write(pcap_bytes(frames, 1))
        rc, objs, err = self.replay_json(b, st, [p, "-i", "vb"])
        reasons = [o["reason"] for o in objs]
        want = ["skipped: not IPv4 (ethertype 0x86dd)",
                "skipped: VLAN-tagged frame (ethertype 0x8100)",
                "skipped: Ethernet frame of 13 bytes",
                "skipped: not IPv4 (IP version 6)",
                "skipped: no IP header",
                "skipped: captured 30 of 68 bytes (snapshot length)"]
        self.res.check("front_doors replay unusable frames skipped with reasons",
                       rc == 0 and reasons == want, "rc %d err %s\n%s" % (rc, err, reasons))
        # cooked v2 of an interface this host does not have
        sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 999, 1, 0, 6, bytes(8)) + \
            ip4("10.0.0.1", B_IP, 1, icmp(8, 0, b"\0\1\0\1"))
        with open(p, "wb") as f:
            f.write(pcap_bytes([sll2], 276))
        rc, objs, err = self.replay_json(b, st, [p])
        self.res.check("front_doors replay unknown ifindex skipped",
                       rc == 0 and len(objs) == 1 and "interface index 999" in objs[0]["reason"],
                       "%s %s" % (objs, err))
        # a snapshot length that cut the pings
        rc, objs, err = self.replay_json(b, st, [self.path("b-snap.pcap"), "-i", "vb"])
        cutrecs = [o for o in objs if o["reason"] and "snapshot length" in o["reason"]]
        self.res.check("front_doors replay snapshot-length cut skipped",
                       rc == 0 and len(cutrecs) >= 8, "\n".join(json.dumps(o) for o in objs))
        # bad headers reach ip_rcv_core's checks, not the tables
        bad = [ip4("10.0.0.1", B_IP, 17, udp(1, 2))[:10] + b"\0\0" +
               ip4("10.0.0.1", B_IP, 17, udp(1, 2))[12:],
               ip4("10.0.0.1", B_IP, 17, udp(1, 2), tot=200)]
        with open(p, "wb") as f:
            f.write(pcap_bytes(bad, 101))
        rc, objs, err = self.replay_json(b, st, [p, "-i", "vb"])
        self.res.check("front_doors replay bad IP headers dropped with reasons",
                       rc == 0 and [o["reason"] for o in objs] ==
                       ["bad IP header checksum", "truncated (total length beyond the frame)"]
                       and all(o["decided_by"] is None and o["trace"] == [] for o in objs),
                       "\n".join(json.dumps(o) for o in objs) + err)

    def test_mutations(self):
        """Crafted packets with random bytes changed, every link type:
        each record gets a line, nothing crashes (the sanitizers watch)."""
        import random
        b = self.topo.b
        st = self.state("mutations")
        self.count_rules(b, st)
        self.ipt(b, st, ["-A", "INPUT", "-p", "tcp", "-j", "REJECT",
                         "--reject-with", "tcp-reset"])
        self.ipt(b, st, ["-A", "INPUT", "-p", "udp", "-j", "REJECT"])
        self.ipt(b, st, ["-A", "INPUT", "-j", "LOG"])
        rnd = random.Random(20261125)
        base = [ip4(A_IP, B_IP, p[9], p[20:]) for p in self.crafted_packets()
                if len(p) >= 20]
        heads = {1: lambda: b"\xff" * 6 + bytes(6) + b"\x08\x00",
                 276: lambda: struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1,
                                          rnd.choice((0, 1, 3, 4, 7)), 6, bytes(8)),
                 113: lambda: struct.pack("!HHH8sH", rnd.choice((0, 4)), 1, 6,
                                          bytes(8), 0x0800),
                 101: lambda: b""}
        total = 0
        for lt, head in heads.items():
            recs = []
            for _ in range(300):
                pkt = bytearray(rnd.choice(base))
                for _ in range(rnd.randint(1, 4)):
                    pkt[rnd.randrange(len(pkt))] = rnd.randrange(256)
                if rnd.random() < 0.2:
                    del pkt[rnd.randrange(len(pkt)):]
                recs.append(head() + bytes(pkt))
            p = self.path("mutated-%d.pcap" % lt)
            with open(p, "wb") as f:
                f.write(pcap_bytes(recs, lt))
            rc, out, err = self.uxt(b, ["replay", "--json", "--trace", p, "-i", "vb"], st)
            n = 0
            try:
                n = sum(1 for line in out.splitlines() if json.loads(line))
            except ValueError:
                n = -1
            total += n
            self.res.check("front_doors replay of 300 mutated records, link type %d" % lt,
                           rc == 0 and n == 300 and "Sanitizer" not in err and
                           "runtime error" not in err, "rc %d n %d err %s" % (rc, n, err[-2000:]))

    def test_progress(self):
        """The progress line goes to stderr only when it is a terminal."""
        b = self.topo.b
        st = self.state("progress")
        rc, out, err = self.uxt(b, ["replay", self.path("b-eth.pcap"), "-i", "vb"], st)
        self.res.check("front_doors replay: no progress line on a pipe",
                       rc == 0 and err == "", err)
        master, slave = pty.openpty()
        env = dict(os.environ, UXT_STATE=st)
        p = subprocess.Popen(["ip", "netns", "exec", b, os.path.join(self.bindir, "uxt"),
                              "replay", self.path("b-eth.pcap"), "-i", "vb"],
                             stdout=subprocess.DEVNULL, stderr=slave, env=env)
        os.close(slave)
        seen = b""
        deadline = time.time() + 30
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            elif p.poll() is not None:
                break
        p.wait(timeout=30)
        os.close(master)
        self.res.check("front_doors replay: progress line on a terminal",
                       b"uxt replay: " in seen and b" packets" in seen, repr(seen))

    def run(self):
        try:
            self.topo.setup()
        except (RuntimeError, OSError) as e:
            self.topo.close()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.res.skip("front_doors", "cannot build the namespaces: %s" % e)
            return
        try:
            self.test_options()
            local = self.capture_local_traffic()
            self.test_builder(local)
            self.compare_summaries("a-va capture", local, ["-i", "va"], ns=self.topo.a)
            crafted = self.path("crafted.pcap")
            with open(crafted, "wb") as f:
                f.write(pcap_bytes(self.crafted_packets(), 101))
            self.compare_summaries("crafted packets", crafted, ["-i", "vb"])
            self.capture_b()
            for name, args in (("b-eth", ["-i", "vb"]), ("b-sll2", []),
                               ("b-sll1", ["-i", "vb"]), ("b-lo", ["-i", "lo"]),
                               ("b-raw", ["-i", "t0"])):
                if os.path.exists(self.path(name + ".pcap")):
                    self.compare_summaries(name, self.path(name + ".pcap"), args)
            self.test_link_types()
            self.test_counters_listing()
            self.test_inject()
            self.test_syslog()
            self.test_attribution()
            self.test_host_file()
            self.test_bad_input()
            self.test_mutations()
            self.test_progress()
        finally:
            self.topo.close()
            shutil.rmtree(self.dir, ignore_errors=True)


def run(res, opts):
    if os.geteuid() != 0:
        res.skip("front_doors", "not root")
        return
    missing = [t for t in ("ip", "tcpdump", "ping", "nc") if not shutil.which(t)]
    if missing:
        res.skip("front_doors", "missing: " + ", ".join(missing))
        return
    FrontDoors(res, opts["bindir"]).run()
