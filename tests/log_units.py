# SPDX-License-Identifier: BSD-2-Clause
"""The packet log line (LOG, TRACE) and NFLOG records of uxtables against
the running kernel's, on the same packets.

Kernel side: network namespaces joined by veth pairs, iptables-legacy
rules, net.netfilter.nf_log_all_netns=1 (restored afterwards), the
kernel's lines read from /dev/kmsg and its NFLOG messages captured with
tcpdump -i nflog:N -w.  Every LOG rule has an NFLOG rule next to it that
captures the packet as that rule saw it (bytes, devices, link header,
mark, socket owner); tests/unit/log_harness.c, linked with libuxt.a, then
formats the same packet and the lines are compared byte for byte.

Scenarios:
  received   crafted Ethernet frames of many kinds into a namespace, LOG
             rules with every flag and several levels in raw PREROUTING,
             NFLOG rules with several prefixes, groups and copy lengths
  local      packets of local sockets (raw, UDP as another user, TCP, ping
             over lo): OUTPUT, POSTROUTING, INPUT on lo, UID/GID
  forward    a router between two hosts: FORWARD and POSTROUTING, ICMP
             errors the kernel makes (port unreachable, time exceeded,
             fragmentation needed), fragments
  walk       the same ruleset in the kernel and in uxtables' engine
             (PREROUTING, no host model needed): TRACE lines with
             rule/return/policy labels, LOG, MARK, user chains, goto;
             NFLOG records and the pcap files of uxtables' writer against
             tcpdump's, also as tcpdump -r and tshark read them

Every namespace is removed at the end, also on failure; every wait is
bounded.
"""

import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid

from common import ROOT, Netns, have_root_netns

LINK_TYPES = {"ether": 1, "loopback": 772, "none": 65534}

# NFULA_* attribute types
NFULA_PACKET_HDR, NFULA_MARK, NFULA_TIMESTAMP = 1, 2, 3
NFULA_INDEV, NFULA_OUTDEV, NFULA_HWADDR, NFULA_PAYLOAD = 4, 5, 8, 9
NFULA_PREFIX, NFULA_UID, NFULA_GID = 10, 11, 14
NFULA_HWTYPE, NFULA_HWHEADER, NFULA_HWLEN = 15, 16, 17


# ---------------------------------------------------------------- packets

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src, dst, proto, payload, tos=0, ttl=64, ident=4321, frag=0,
         options=b"", tot_len=None):
    """An IPv4 datagram with a correct header checksum (the kernel drops
    others before PREROUTING)."""
    hlen = 20 + len(options)
    assert hlen % 4 == 0
    tot = tot_len if tot_len is not None else hlen + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | hlen // 4, tos, tot, ident,
                      frag, ttl, proto, 0, socket.inet_aton(src),
                      socket.inet_aton(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def tcp(sport, dport, seq=1000, ack=0, flags=0x02, window=8192, urg=0,
        options=b"", res=0, ae=0, doff=None, payload=b""):
    d = doff if doff is not None else (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack,
                       (d << 4) | (res << 1) | ae, flags, window, 0,
                       urg) + options + payload


def udp(sport, dport, payload=b"", length=None):
    n = length if length is not None else 8 + len(payload)
    return struct.pack("!HHHH", sport, dport, n, 0) + payload


def icmp(typ, code, rest=b"\0\0\0\0", payload=b""):
    body = struct.pack("!BBH", typ, code, 0) + rest + payload
    return body[:2] + struct.pack("!H", csum(body)) + body[4:]


SYN_OPTS = bytes.fromhex("020405b40402080a0001e2400000000001030307")


def received_kinds(src, dst, other):
    """(name, datagram) of every kind the received scenario sends."""
    echo = icmp(8, 0, struct.pack("!HH", 4660, 1), bytes(range(56)))
    udp_in = ipv4(dst, other, 17, udp(40000, 53, b"abcd"), ident=77)
    tcp_in = ipv4(dst, other, 6, tcp(40001, 80, flags=0x12, options=SYN_OPTS),
                  ident=78, frag=0x4000)
    rr = bytes([7, 11, 4]) + bytes(8) + b"\0"           # record route
    ts = bytes([68, 12, 5, 0]) + bytes(8)                # timestamp
    ra = bytes([148, 4, 0, 0])                           # router alert
    k = [
        ("icmp-echo", ipv4(src, dst, 1, echo, frag=0x4000, tos=0x1A, ident=967)),
        ("icmp-echo-reply", ipv4(src, dst, 1, icmp(0, 0, struct.pack("!HH", 9, 65535), b"x" * 8))),
        ("icmp-port-unreach-udp", ipv4(src, dst, 1, icmp(3, 3, b"\0" * 4, udp_in[:28]), tos=0xC0)),
        ("icmp-unreach-tcp-8", ipv4(src, dst, 1, icmp(3, 1, b"\0" * 4, tcp_in[:28]))),
        ("icmp-unreach-tcp-optstrunc", ipv4(src, dst, 1, icmp(3, 13, b"\0" * 4, tcp_in[:40]))),
        ("icmp-unreach-tcp-full", ipv4(src, dst, 1, icmp(3, 10, b"\0" * 4, tcp_in))),
        ("icmp-frag-needed", ipv4(src, dst, 1, icmp(3, 4, struct.pack("!HH", 0, 1280),
                                                    ipv4(dst, other, 1, echo, frag=0x4000)[:48]))),
        ("icmp-time-exceeded-ipopt", ipv4(src, dst, 1, icmp(11, 0, b"\0" * 4,
                                                            ipv4(dst, other, 17, udp(1, 2, b"zz"), options=ra, ttl=1)[:32]))),
        ("icmp-redirect", ipv4(src, dst, 1, icmp(5, 1, socket.inet_aton("198.51.100.254"), udp_in[:28]))),
        ("icmp-param-problem", ipv4(src, dst, 1, icmp(12, 0, bytes([20, 0, 0, 0]), udp_in[:28]))),
        ("icmp-source-quench", ipv4(src, dst, 1, icmp(4, 0, b"\0" * 4, udp_in[:28]))),
        ("icmp-timestamp", ipv4(src, dst, 1, icmp(13, 0, struct.pack("!HH", 5, 6), bytes(12)))),
        ("icmp-timestamp-short", ipv4(src, dst, 1, icmp(13, 0, struct.pack("!HH", 5, 6), bytes(4)))),
        ("icmp-address", ipv4(src, dst, 1, icmp(17, 0, struct.pack("!HH", 5, 6), bytes(4)))),
        ("icmp-unknown-type", ipv4(src, dst, 1, icmp(42, 7, b"\1\2\3\4"))),
        ("icmp-type-200", ipv4(src, dst, 1, icmp(200, 1))),
        ("icmp-4-bytes", ipv4(src, dst, 1, icmp(8, 0)[:4])),
        ("icmp-error-short", ipv4(src, dst, 1, icmp(3, 3, b"\0" * 4, udp_in[:16]))),
        ("icmp-error-in-error", ipv4(src, dst, 1, icmp(3, 1, b"\0" * 4,
                                                       ipv4(dst, other, 1, icmp(3, 3, b"\0" * 4, udp_in[:28]))[:56]))),
        ("icmp-error-inner-ihl15", ipv4(src, dst, 1, icmp(3, 3, b"\0" * 4,
                                                          bytes([0x4F]) + udp_in[1:28]))),
        ("icmp-error-inner-fragment", ipv4(src, dst, 1, icmp(3, 3, b"\0" * 4,
                                                             ipv4(dst, other, 17, bytes(8), frag=0x0010)))),
        ("icmp-error-inner-udplite", ipv4(src, dst, 1, icmp(3, 3, b"\0" * 4,
                                                            ipv4(dst, other, 136, udp(5, 6, b"q"))))),
        ("tcp-syn-options", ipv4(src, dst, 6, tcp(47200, 7200, seq=2780156344, options=SYN_OPTS, window=64240),
                                 frag=0x4000, ident=48890)),
        ("tcp-all-flags", ipv4(src, dst, 6, tcp(47303, 7300, seq=5, ack=7, flags=0xFF, urg=5))),
        ("tcp-ae", ipv4(src, dst, 6, tcp(47301, 7300, ae=1))),
        ("tcp-res-bits", ipv4(src, dst, 6, tcp(47302, 7300, res=7))),
        ("tcp-res-ae-all", ipv4(src, dst, 6, tcp(47304, 7300, res=7, ae=1, flags=0x10))),
        ("tcp-truncated", ipv4(src, dst, 6, tcp(1, 2)[:10])),
        ("tcp-options-truncated", ipv4(src, dst, 6, tcp(3, 4, doff=15) + b"\1\1\1\1")),
        ("tcp-doff-small", ipv4(src, dst, 6, tcp(5, 6, doff=2, flags=0x18, payload=b"data"))),
        ("tcp-payload", ipv4(src, dst, 6, tcp(8080, 40001, seq=4294967295, ack=4294967295, flags=0x18,
                                              options=bytes.fromhex("0101080a0000000100000002"),
                                              payload=b"hello" * 20), tos=0x10)),
        ("tcp-ce", ipv4(src, dst, 6, tcp(47305, 7300), frag=0x8000 | 0x4000)),
        ("udp", ipv4(src, dst, 17, udp(40002, 9999, b"hi"), ttl=1)),
        ("udp-bad-length", ipv4(src, dst, 17, udp(40003, 9999, b"hello", length=3))),
        ("udp-truncated", ipv4(src, dst, 17, udp(1, 2)[:4])),
        ("udp-mark", ipv4(src, dst, 17, udp(40004, 7777, b"mark me"))),
        ("udplite", ipv4(src, dst, 136, udp(40005, 5000, b"lite"))),
        ("ah", ipv4(src, dst, 51, bytes([6, 4, 0, 0]) + struct.pack("!II", 0xDEADBEEF, 1) + bytes(12))),
        ("ah-truncated", ipv4(src, dst, 51, bytes(8))),
        ("esp", ipv4(src, dst, 50, struct.pack("!II", 0x1234, 9) + bytes(16))),
        ("esp-truncated", ipv4(src, dst, 50, bytes(4))),
        ("gre", ipv4(src, dst, 47, bytes(8))),
        ("proto-0", ipv4(src, dst, 0, b"")),
        ("proto-255", ipv4(src, dst, 255, bytes(3))),
        ("no-transport-bytes", ipv4(src, dst, 6, b"")),
        ("frag-first-udp", ipv4(src, dst, 17, udp(40006, 53, bytes(32)), frag=0x2000, ident=1)),
        ("frag-udp", ipv4(src, dst, 17, bytes(16), frag=100, ident=1)),
        ("frag-last-tcp", ipv4(src, dst, 6, bytes(16), frag=3, ident=2)),
        ("frag-icmp", ipv4(src, dst, 1, bytes(16), frag=0x2000 | 185, ident=3)),
        ("frag-ah", ipv4(src, dst, 51, bytes(16), frag=8, ident=4)),
        ("frag-esp", ipv4(src, dst, 50, bytes(16), frag=8, ident=5)),
        ("frag-gre", ipv4(src, dst, 47, bytes(16), frag=8191, ident=6)),
        ("frag-df-mf", ipv4(src, dst, 17, udp(1, 2, bytes(8)), frag=0x6000)),
        ("ipopt-rr", ipv4(src, dst, 1, echo, options=rr)),
        ("ipopt-ts-tcp", ipv4(src, dst, 6, tcp(9, 10, options=SYN_OPTS), options=ts)),
        ("ipopt-nop-eol", ipv4(src, dst, 17, udp(11, 12), options=bytes([1, 1, 1, 0]))),
        ("ipopt-40", ipv4(src, dst, 17, udp(13, 14), options=bytes([1] * 39 + [0]))),
        ("tos-ff", ipv4(src, dst, 17, udp(15, 16), tos=0xFF, ttl=255, ident=65535)),
        ("tos-01", ipv4(src, dst, 17, udp(17, 18), tos=0x01, ttl=0, ident=0)),
        ("big-udp", ipv4(src, dst, 17, udp(19, 20, bytes(1400)), frag=0x4000)),
    ]
    return k


def eth(dst_mac, src_mac, payload, proto=0x0800):
    return bytes.fromhex(dst_mac.replace(":", "")) + \
        bytes.fromhex(src_mac.replace(":", "")) + struct.pack("!H", proto) + payload


# ---------------------------------------------------------------- kernel side

class Kmsg:
    """The kernel log from now on (/dev/kmsg records: level and text).

    A thread drains /dev/kmsg while the scenario runs: the ring buffer
    holds only a few hundred lines, and other suites may be logging at the
    same time."""

    MAX_SECONDS = 900

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)
        self.records = []
        self.overrun = False
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _read_available(self):
        for _ in range(100000):
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                return
            except BrokenPipeError:
                self.overrun = True
                continue
            head, _, text = rec.decode("utf-8", "replace").partition(";")
            text = text.split("\n", 1)[0]
            # /dev/kmsg escapes non-printable bytes as \xNN
            text = re.sub(r"\\x([0-9a-f]{2})",
                          lambda m: chr(int(m.group(1), 16)), text)
            self.records.append((int(head.split(",")[0]) & 7, text))

    def _drain(self):
        deadline = time.time() + self.MAX_SECONDS
        while not self.stopping.is_set() and time.time() < deadline:
            select.select([self.fd], [], [], 0.05)
            self._read_available()

    def read(self):
        """Everything logged so far; stops the reader."""
        time.sleep(0.2)
        self.stopping.set()
        self.thread.join(10)
        self._read_available()
        if self.overrun:
            raise RuntimeError("kernel log overrun (records lost)")
        return self.records

    def close(self):
        self.stopping.set()
        self.thread.join(10)
        os.close(self.fd)


def sh(argv, stdin=None, timeout=60, check=True):
    p = subprocess.run(argv, input=stdin, capture_output=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv),
                                       p.stderr.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


def nsx(ns, argv, **kw):
    return sh(["ip", "netns", "exec", ns.name] + list(argv), **kw)


SENDER = r"""
import socket, sys, time
mode = sys.argv[1]
if mode == "eth":
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((sys.argv[2], 0))
    for line in sys.stdin:
        if line.strip():
            s.send(bytes.fromhex(line.strip()))
            time.sleep(0.002)
elif mode == "ip":
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for line in sys.stdin:
        if line.strip():
            b = bytes.fromhex(line.strip())
            s.sendto(b, (socket.inet_ntoa(b[16:20]), 0))
            time.sleep(0.002)
elif mode == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ttl, size, df = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    s.setsockopt(socket.IPPROTO_IP, 10, 2 if df else 0)   # IP_MTU_DISCOVER
    try:
        s.sendto(b"u" * size, (sys.argv[2], int(sys.argv[3])))
    except OSError:
        pass
    time.sleep(0.2)
elif mode == "tcp":
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((sys.argv[2], int(sys.argv[3])))
    except OSError:
        pass
"""


class Capture:
    """tcpdump -i nflog:GROUPS -w FILE in a namespace."""

    def __init__(self, ns, groups, path):
        self.path = path
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, "tcpdump", "-i",
             "nflog:" + ",".join(str(g) for g in groups), "-U", "-w", path],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        line = b""
        while time.time() < deadline and b"listening" not in line:
            ready, _, _ = select.select([self.p.stderr], [], [],
                                        max(0.0, deadline - time.time()))
            if not ready:
                break
            line = self.p.stderr.readline()
            if not line and self.p.poll() is not None:
                break
        if b"listening" not in line:
            self.stop()
            raise RuntimeError("tcpdump did not start: %r" % line)

    def stop(self):
        if self.p.poll() is None:
            time.sleep(1.5)       # nfnetlink_log flushes within a second
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)


def read_pcap(path):
    """(linktype, snaplen, [(ts_sec, ts_usec, bytes)])"""
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, snaplen, linktype = struct.unpack("=IHHiIII", data[:24])
    assert magic == 0xA1B2C3D4, "pcap magic %x" % magic
    recs, off = [], 24
    while off + 16 <= len(data):
        sec, usec, caplen, _ = struct.unpack("=IIII", data[off:off + 16])
        recs.append((sec, usec, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return linktype, snaplen, recs


def nflog_attrs(rec):
    """The group and the attributes [(type, value)] of an NFLOG record."""
    group = struct.unpack("!H", rec[2:4])[0]
    attrs, off = [], 4
    for _ in range(64):
        if off + 4 > len(rec):
            break
        n, t = struct.unpack("=HH", rec[off:off + 4])
        if n < 4:
            break
        attrs.append((t & 0x7FFF, rec[off + 4:off + n]))
        off += (n + 3) & ~3
    return group, attrs


def mask_timestamp(rec):
    """The record with the value of its TIMESTAMP attribute zeroed."""
    out, off = bytearray(rec), 4
    for _ in range(64):
        if off + 4 > len(out):
            break
        n, t = struct.unpack("=HH", out[off:off + 4])
        if n < 4:
            break
        if t == NFULA_TIMESTAMP:
            out[off + 4:off + n] = bytes(n - 4)
        off += (n + 3) & ~3
    return bytes(out)


def links(ns):
    """ifindex -> 'name,index,type' in ns"""
    out = {}
    for line in nsx(ns, ["ip", "-o", "link", "show"]).splitlines():
        m = re.match(r"(\d+): ([^:@]+)[@:].*link/(\S+)", line)
        if m:
            out[int(m.group(1))] = "%s,%s,%d" % (
                m.group(2), m.group(1), LINK_TYPES.get(m.group(3), 1))
    return out


def pkt_spec(rec, ifaces):
    """The harness's PKT words for the packet an NFLOG record captured."""
    _, attrs = nflog_attrs(rec)
    a = dict(attrs)
    hook = a[NFULA_PACKET_HDR][2]
    dev = lambda t: ifaces[struct.unpack("!I", a[t])[0]] if t in a else "-"
    mark = struct.unpack("!I", a[NFULA_MARK])[0] if NFULA_MARK in a else 0
    sock = NFULA_UID in a
    uid = struct.unpack("!I", a[NFULA_UID])[0] if sock else 0
    gid = struct.unpack("!I", a[NFULA_GID])[0] if sock else 0
    ts = 0
    if NFULA_TIMESTAMP in a:
        sec, usec = struct.unpack("!QQ", a[NFULA_TIMESTAMP])
        ts = sec * 1000000000 + usec * 1000
    mac = a.get(NFULA_HWHEADER, b"").hex() or "-"
    return "%d %s %s %d %d %d %d %d %s %s" % (
        hook, dev(NFULA_INDEV), dev(NFULA_OUTDEV), mark, int(sock), uid, gid,
        ts, mac, a[NFULA_PAYLOAD].hex() or "-")


# ---------------------------------------------------------------- uxtables side

class Harness:
    """tests/unit/log_harness.c linked with libuxt.a, talking over pipes."""

    def __init__(self, libdir, tmp):
        self.exe = os.path.join(tmp, "log_harness")
        src = os.path.join(ROOT, "tests", "unit", "log_harness.c")
        base = ["cc", "-std=gnu11", "-D_GNU_SOURCE", "-g", "-Wall", "-Wextra",
                "-Werror", "-I" + os.path.join(ROOT, "src", "lib"),
                "-I" + os.path.join(ROOT, "src", "io"), src,
                os.path.join(libdir, "libuxt.a"), "-lpcap", "-lmnl",
                "-o", self.exe]
        p = subprocess.run(base, capture_output=True)
        if p.returncode != 0:
            # a sanitizer build of the library needs the sanitizer runtime
            p = subprocess.run(base + ["-fsanitize=address,undefined"],
                               capture_output=True)
        if p.returncode != 0:
            raise RuntimeError("building log_harness: " +
                               p.stderr.decode(errors="replace"))

    def run(self, lines, netns=None, timeout=120):
        argv = [self.exe]
        if netns:
            argv = ["ip", "netns", "exec", netns.name] + argv
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "exitcode=99")
        p = subprocess.run(argv, input="\n".join(lines) + "\n",
                           capture_output=True, text=True, timeout=timeout,
                           env=env)
        if p.returncode != 0:
            raise RuntimeError("log_harness exit %d: %s" % (p.returncode,
                                                            p.stderr[-2000:]))
        return p.stdout.split("\n")[:-1]


def hexs(s):
    return s.encode().hex() or "-"


# ---------------------------------------------------------------- scenarios

# LOG variants of the scenarios: (logflags, level, options)
VARIANTS = [
    (0x00, 4, ""),
    (0x0F, 6, "--log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-level 6"),
    (0x20, 7, "--log-macdecode --log-level debug"),
    (0x2F, 5, "--log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-macdecode --log-level 5"),
    (0x06, 4, "--log-tcp-options --log-ip-options"),
]

# NFLOG rules compared record for record: (prefix, copy option, copy_len)
NFLOG_VARIANTS = [
    ("", "", 0xFFFFFFFF),
    ("a prefix with spaces", "--nflog-size 40", 40),
    ("r", "--nflog-range 20", 0xFFFFFFFF),
    ("zero", "--nflog-size 0", 0),
    ("x" * 63, "--nflog-size 100000", 100000),
]


class Env:
    """Namespaces of one scenario, removed by close()."""

    def __init__(self, tag):
        self.tag = tag
        self.ns = {}

    def add(self, key):
        self.ns[key] = Netns("uxlg" + key)
        nsx(self.ns[key], ["ip", "link", "set", "lo", "up"])
        return self.ns[key]

    def veth(self, a, ifa, b, ifb):
        sh(["ip", "link", "add", ifa, "netns", self.ns[a].name, "type", "veth",
            "peer", "name", ifb, "netns", self.ns[b].name])
        for k, i in ((a, ifa), (b, ifb)):
            nsx(self.ns[k], ["ip", "link", "set", i, "up"])

    def mac(self, key, ifname):
        out = nsx(self.ns[key], ["ip", "-o", "link", "show", ifname])
        return re.search(r"link/ether (\S+)", out).group(1)

    def close(self):
        for n in self.ns.values():
            n.close()


def log_rules(chain, match, tag, name, variants=VARIANTS, group=None):
    """A capture NFLOG rule and one LOG rule per variant, as restore lines."""
    rules = []
    if group is not None:
        rules.append("-A %s %s -j NFLOG --nflog-group %d --nflog-prefix cap%s "
                     "--nflog-threshold 1" % (chain, match, group, name))
    for i, (_, _, opts) in enumerate(variants):
        prefix = "" if i == 4 else "%s%s%d " % (tag, name, i)
        p = "--log-prefix \"%s\" " % prefix if prefix else ""
        rules.append("-A %s %s -j LOG %s%s" % (chain, match, p, opts))
    return rules


def compare_lines(res, name, harness, captures, ifaces, kernel, netns_key,
                  variants=VARIANTS, tag="", label="", no_lo_mac=False):
    """For every captured record named capNAME (in order), the LOG lines of
    each variant: ours from the harness, the kernel's from kernel
    [(level, text)] carrying that variant's prefix.  no_lo_mac: packets on
    lo keep no link header (the formatter gives lo's own)."""
    wanted = []
    for rec in captures:
        _, attrs = nflog_attrs(rec)
        prefix = dict(attrs)[NFULA_PREFIX].rstrip(b"\0").decode()
        if prefix == "cap" + label:
            wanted.append(rec)
    checked = failed = 0
    details = []
    for i, (flags, level, _) in enumerate(variants):
        prefix = "" if i == 4 else "%s%s%d " % (tag, label, i)
        if prefix:
            theirs = [(lv, t) for lv, t in kernel if t.startswith(prefix)]
        else:
            theirs = [(lv, t) for lv, t in kernel
                      if t.startswith("IN=") and netns_key in t]
        specs = [pkt_spec(r, ifaces) for r in wanted]
        if no_lo_mac:
            specs = [" ".join(w[:8] + ["-"] + w[9:]) if w[1].startswith("lo,")
                     else s for s, w in ((s, s.split(" ")) for s in specs)]
        ours = harness.run(["F %s %d %s" % (s, flags, hexs(prefix))
                            for s in specs])
        if len(theirs) != len(ours):
            details.append("variant %d: kernel %d lines, uxtables %d" %
                           (i, len(theirs), len(ours)))
            failed += 1
        for (lv, t), o in zip(theirs, ours):
            checked += 1
            if lv != level or t != o:
                failed += 1
                if len(details) < 12:
                    details.append("kernel   <%d>%s\nuxtables <%d>%s" %
                                   (lv, t, level, o))
    res.check("log_units %s: %d lines of %d packets equal the kernel's"
              % (name, checked, len(wanted)),
              failed == 0 and checked > 0, "\n".join(details))
    return checked


def scenario_received(res, harness, tag, tmp):
    env = Env(tag)
    kmsg = Kmsg()
    try:
        env.add("s")
        L = env.add("l")
        ifs, ifl = "us" + tag, "ul" + tag
        env.veth("s", ifs, "l", ifl)
        nsx(env.ns["s"], ["ip", "addr", "add", "198.51.100.1/24", "dev", ifs])
        nsx(L, ["ip", "addr", "add", "198.51.100.2/24", "dev", ifl])
        smac, lmac = env.mac("s", ifs), env.mac("l", ifl)
        m = "-i " + ifl
        rules = ["*raw", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                 "-A PREROUTING %s -p udp --dport 7777 -j MARK --set-xmark 0x1234/0xffffffff" % m]
        rules += log_rules("PREROUTING", m, tag, "R", group=41)
        for prefix, copy, _ in NFLOG_VARIANTS:
            p = "--nflog-prefix \"%s\" " % prefix if prefix else ""
            rules.append("-A PREROUTING %s -j NFLOG --nflog-group 42 %s%s "
                         "--nflog-threshold 1" % (m, p, copy))
        rules += ["COMMIT", "*mangle", ":PREROUTING ACCEPT [0:0]",
                  "-A PREROUTING %s -j DROP" % m, "COMMIT", ""]
        nsx(L, ["iptables-legacy-restore"], stdin="\n".join(rules).encode())
        kinds = received_kinds("198.51.100.1", "198.51.100.2", "203.0.113.9")
        frames = [eth(lmac, smac, d) for _, d in kinds]
        # link-layer broadcast and multicast destinations
        frames.append(eth("ff:ff:ff:ff:ff:ff", smac,
                          ipv4("198.51.100.1", "198.51.100.255", 17, udp(5, 6))))
        frames.append(eth("01:00:5e:00:00:01", smac,
                          ipv4("198.51.100.1", "224.0.0.1", 2, bytes(8), ttl=1)))
        pcap = os.path.join(tmp, "received.pcap")
        cap = Capture(L, [41, 42], pcap)
        try:
            nsx(env.ns["s"], ["python3", "-c", SENDER, "eth", ifs],
                stdin="\n".join(f.hex() for f in frames).encode())
        finally:
            cap.stop()
        kernel = [(lv, t) for lv, t in kmsg.read() if ifl in t]
        _, _, recs = read_pcap(pcap)
        captures = [r for _, _, r in recs]
        ifaces = links(L)
        compare_lines(res, "received (%d frames, raw PREROUTING)" % len(frames),
                      harness, captures, ifaces, kernel, ifl, tag=tag,
                      label="R")
        compare_nflog(res, "received", harness, recs, ifaces, 41, 42, tmp)
    finally:
        kmsg.close()
        env.close()


def compare_nflog(res, name, harness, recs, ifaces, cap_group, test_group,
                  tmp):
    """Each NFLOG_VARIANTS record of test_group against the harness's
    record of the packet the preceding capture record holds; then the
    pcap files of uxtables' writer against tcpdump's as tcpdump -r and
    tshark read them."""
    spec, pairs = None, []
    for rec in recs:
        group, attrs = nflog_attrs(rec[2])
        if group == cap_group:
            spec = pkt_spec(rec[2], ifaces)
            k = 0
        elif group == test_group and spec is not None:
            if k < len(NFLOG_VARIANTS):
                pairs.append((spec, NFLOG_VARIANTS[k], rec))
            k += 1
    cmds = ["N %s %d %s %d" % (s, test_group, hexs(v[0]), v[2])
            for s, v, _ in pairs]
    ours = harness.run(cmds)
    bad = []
    for (s, v, rec), o in zip(pairs, ours):
        theirs = mask_timestamp(rec[2])
        mine = mask_timestamp(bytes.fromhex(o))
        if theirs != mine and len(bad) < 6:
            bad.append("prefix %r copy %s\nkernel   %s\nuxtables %s" %
                       (v[0], v[1], theirs.hex(), mine.hex()))
    res.check("log_units %s: %d NFLOG records (%d kinds of rule) equal the "
              "kernel's, timestamps aside" % (name, len(pairs),
                                              len(NFLOG_VARIANTS)),
              pairs and len(ours) == len(pairs) and not bad, "\n".join(bad))
    # the files: ours through the writer, the kernel's test group alone
    outdir = os.path.join(tmp, name + "-ours")
    cmds = ["W " + outdir]
    for (s, v, rec) in pairs:
        cmds.append("P %s %d %s %d %d" % (s, test_group, hexs(v[0]), v[2],
                                          rec[0] * 1000000000 + rec[1] * 1000))
    cmds.append("C")
    harness.run(cmds)
    theirs_path = os.path.join(tmp, name + "-kernel.pcap")
    with open(theirs_path, "wb") as f:
        f.write(struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 239))
        for _, _, rec in pairs:
            f.write(struct.pack("=IIII", rec[0], rec[1], len(rec[2]),
                                len(rec[2])) + rec[2])
    ours_path = os.path.join(outdir, "nflog-%d.pcap" % test_group)
    readers_agree(res, name, theirs_path, ours_path, len(pairs))


def compare_captures(res, name, harness, captures, ifaces):
    """Each capture record (NFLOG rule without size, prefix capX) against
    the harness's record of the packet it holds: the attributes present
    and their order for every hook, device and socket seen; on lo also
    with no link header kept (the engine may keep none for looped-back
    packets)."""
    cmds, want = [], []
    for rec in captures:
        group, attrs = nflog_attrs(rec)
        prefix = dict(attrs)[NFULA_PREFIX].rstrip(b"\0").decode()
        spec = pkt_spec(rec, ifaces)
        cmds.append("N %s %d %s %d" % (spec, group, hexs(prefix), 0xFFFFFFFF))
        want.append(rec)
        words = spec.split(" ")
        if words[1].startswith("lo,"):
            words[8] = "-"
            cmds.append("N %s %d %s %d" % (" ".join(words), group,
                                           hexs(prefix), 0xFFFFFFFF))
            want.append(rec)
    ours = harness.run(cmds)
    bad = ["kernel   %s\nuxtables %s" % (mask_timestamp(w).hex(),
                                          mask_timestamp(bytes.fromhex(o)).hex())
           for w, o in zip(want, ours)
           if mask_timestamp(w) != mask_timestamp(bytes.fromhex(o))]
    res.check("log_units %s: %d NFLOG records of the capture rules equal the "
              "kernel's, timestamps aside" % (name, len(want)),
              want and len(ours) == len(want) and not bad, "\n".join(bad[:6]))


def readers_agree(res, name, theirs_path, ours_path, count):
    """tcpdump -r and tshark -V read both files alike (times aside)."""
    lt, snap, recs = read_pcap(ours_path)
    res.check("log_units %s: our pcap is DLT_NFLOG, snaplen 262144, %d records"
              % (name, count), lt == 239 and snap == 262144 and
              len(recs) == count, "linktype %d snaplen %d records %d" %
              (lt, snap, len(recs)))
    for tool, argv in (("tcpdump", ["tcpdump", "-nn", "-v", "-t", "-r"]),
                       ("tshark", ["tshark", "-o", "tcp.analyze_sequence_numbers:FALSE",
                                   "-o", "tcp.calculate_timestamps:FALSE",
                                   "-V", "-r"])):
        if not shutil.which(argv[0]):
            res.skip("log_units %s: %s reads our pcap" % (name, tool),
                     "%s not installed" % tool)
            continue
        outs = []
        for path in (theirs_path, ours_path):
            p = subprocess.run(argv + [path], capture_output=True, text=True,
                               timeout=120)
            outs.append((p.returncode, normalize_reader(p.stdout)))
        same = outs[0] == outs[1] and outs[1][0] == 0
        detail = ""
        if not same:
            a, b = outs[0][1].split("\n"), outs[1][1].split("\n")
            for i in range(max(len(a), len(b))):
                x = a[i] if i < len(a) else None
                y = b[i] if i < len(b) else None
                if x != y:
                    detail = "line %d\nkernel   %r\nuxtables %r" % (i, x, y)
                    break
            detail = "exit %d/%d; %s" % (outs[0][0], outs[1][0], detail)
        res.check("log_units %s: %s reads our NFLOG pcap as the kernel's"
                  % (name, tool), same, detail)


TIME_LINE = re.compile(r"^\s*(Arrival Time|UTC Arrival Time|Epoch Time|"
                       r"\[Time |Frame \d+:|\[Frame: |Frame Number|"
                       r"Timestamp|Seconds|Microseconds)")


def normalize_reader(text):
    out = []
    for line in text.split("\n"):
        if TIME_LINE.match(line):
            continue
        out.append(line)
    return "\n".join(out)


def scenario_local(res, harness, tag, tmp):
    env = Env(tag)
    kmsg = Kmsg()
    try:
        env.add("s")
        L = env.add("l")
        ifs, ifl = "vs" + tag, "vl" + tag
        env.veth("s", ifs, "l", ifl)
        nsx(env.ns["s"], ["ip", "addr", "add", "198.51.100.1/24", "dev", ifs])
        nsx(L, ["ip", "addr", "add", "198.51.100.2/24", "dev", ifl])
        rules = ["*raw", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                 "-A OUTPUT -p udp --dport 7777 -j MARK --set-mark 0x7"]
        # no empty-prefix rule here: lines of lo traffic without a prefix
        # cannot be told from other namespaces' (the kernel log is global)
        rules += log_rules("OUTPUT", "", tag, "O", VARIANTS[:4], group=43)
        rules += ["COMMIT", "*mangle", ":PREROUTING ACCEPT [0:0]",
                  ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                  ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"]
        rules += log_rules("POSTROUTING", "", tag, "P", VARIANTS[:2], group=43)
        rules += ["COMMIT", "*filter", ":INPUT ACCEPT [0:0]",
                  ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
        rules += log_rules("INPUT", "-i lo", tag, "I", VARIANTS[:4], group=43)
        rules += ["COMMIT", ""]
        nsx(L, ["iptables-legacy-restore"], stdin="\n".join(rules).encode())
        kinds = received_kinds("198.51.100.2", "198.51.100.1", "203.0.113.9")
        raw = [d for n, d in kinds if n in (
            "icmp-echo", "icmp-port-unreach-udp", "tcp-syn-options",
            "tcp-all-flags", "udp", "frag-udp", "ipopt-rr", "ah", "esp",
            "tcp-truncated", "icmp-error-inner-ihl15", "tos-ff")]
        pcap = os.path.join(tmp, "local.pcap")
        cap = Capture(L, [43], pcap)
        try:
            nsx(L, ["python3", "-c", SENDER, "ip"],
                stdin="\n".join(d.hex() for d in raw).encode())
            nsx(L, ["setpriv", "--reuid=65534", "--regid=65534",
                    "--clear-groups", "python3", "-c", SENDER, "udp",
                    "198.51.100.1", "7777", "64", "20", "1"])
            nsx(L, ["python3", "-c", SENDER, "tcp", "198.51.100.1", "9"],
                check=False)
            nsx(L, ["ping", "-c", "1", "-W", "1", "-s", "24", "127.0.0.1"],
                check=False)
            nsx(L, ["python3", "-c", SENDER, "udp", "127.0.0.1", "9", "3",
                    "10", "0"], check=False)
        finally:
            cap.stop()
        kernel = [(lv, t) for lv, t in kmsg.read() if t.startswith(tag)]
        _, _, recs = read_pcap(pcap)
        captures = [r for _, _, r in recs]
        ifaces = links(L)
        for label, variants in (("O", VARIANTS[:4]), ("P", VARIANTS[:2]),
                                ("I", VARIANTS[:4])):
            sub = [(lv, t) for lv, t in kernel if t.startswith(tag + label)]
            what = {"O": "OUTPUT", "P": "POSTROUTING", "I": "INPUT on lo"}[label]
            compare_lines(res, "local %s" % what, harness, captures, ifaces,
                          sub, "", variants, tag=tag, label=label)
            if label == "I":
                compare_lines(res, "local %s, no link header kept" % what,
                              harness, captures, ifaces, sub, "", variants,
                              tag=tag, label=label, no_lo_mac=True)
        compare_captures(res, "local", harness, captures, ifaces)
    finally:
        kmsg.close()
        env.close()


def scenario_forward(res, harness, tag, tmp):
    env = Env(tag)
    kmsg = Kmsg()
    try:
        S, R, D = env.add("s"), env.add("r"), env.add("d")
        env.veth("s", "fs" + tag, "r", "fa" + tag)
        env.veth("r", "fb" + tag, "d", "fd" + tag)
        nsx(S, ["ip", "addr", "add", "198.51.100.1/24", "dev", "fs" + tag])
        nsx(R, ["ip", "addr", "add", "198.51.100.2/24", "dev", "fa" + tag])
        nsx(R, ["ip", "addr", "add", "203.0.113.1/24", "dev", "fb" + tag])
        nsx(D, ["ip", "addr", "add", "203.0.113.2/24", "dev", "fd" + tag])
        nsx(S, ["ip", "route", "add", "default", "via", "198.51.100.2"])
        nsx(D, ["ip", "route", "add", "default", "via", "203.0.113.1"])
        nsx(R, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        nsx(R, ["ip", "link", "set", "fb" + tag, "mtu", "1280"])
        nsx(D, ["ip", "link", "set", "fd" + tag, "mtu", "1280"])
        rules = ["*mangle", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]",
                 ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                 ":POSTROUTING ACCEPT [0:0]",
                 "-A FORWARD -p udp --dport 7777 -j MARK --set-mark 0x2a"]
        rules += log_rules("FORWARD", "", tag, "F", group=44)
        rules += log_rules("POSTROUTING", "", tag, "P", VARIANTS[:3], group=44)
        rules += ["COMMIT", "*filter", ":INPUT ACCEPT [0:0]",
                  ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
        rules += log_rules("OUTPUT", "", tag, "O", VARIANTS[:2], group=44)
        rules += ["COMMIT", ""]
        nsx(R, ["iptables-legacy-restore"], stdin="\n".join(rules).encode())
        smac, rmac = env.mac("s", "fs" + tag), env.mac("r", "fa" + tag)
        kinds = received_kinds("198.51.100.1", "203.0.113.2", "192.0.2.7")
        crafted = [eth(rmac, smac, d) for n, d in kinds if n in (
            "tcp-all-flags", "tcp-ae", "ipopt-rr", "ipopt-ts-tcp", "tcp-ce",
            "frag-udp", "frag-first-udp", "icmp-frag-needed", "tos-ff", "ah",
            "udplite")]
        pcap = os.path.join(tmp, "forward.pcap")
        cap = Capture(R, [44], pcap)
        try:
            nsx(S, ["ping", "-c", "2", "-i", "0.2", "-W", "1", "203.0.113.2"],
                check=False)
            nsx(S, ["python3", "-c", SENDER, "udp", "203.0.113.2", "33434",
                    "64", "30", "0"])
            nsx(S, ["python3", "-c", SENDER, "udp", "203.0.113.2", "7777",
                    "1", "30", "0"])
            nsx(S, ["python3", "-c", SENDER, "udp", "203.0.113.2", "7777",
                    "64", "30", "0"])
            nsx(S, ["python3", "-c", SENDER, "udp", "203.0.113.2", "7777",
                    "64", "1400", "1"])
            nsx(S, ["python3", "-c", SENDER, "udp", "203.0.113.2", "9",
                    "64", "3000", "0"])
            nsx(S, ["python3", "-c", SENDER, "tcp", "203.0.113.2", "9"],
                check=False)
            nsx(S, ["python3", "-c", SENDER, "eth", "fs" + tag],
                stdin="\n".join(f.hex() for f in crafted).encode())
        finally:
            cap.stop()
        kernel = [(lv, t) for lv, t in kmsg.read()
                  if t.startswith(tag) or (t.startswith("IN=") and tag in t)]
        _, _, recs = read_pcap(pcap)
        captures = [r for _, _, r in recs]
        ifaces = links(R)
        for label, variants, what in (("F", VARIANTS, "FORWARD"),
                                      ("P", VARIANTS[:3], "POSTROUTING"),
                                      ("O", VARIANTS[:2], "router's OUTPUT")):
            sub = [(lv, t) for lv, t in kernel if t.startswith(tag + label) or
                   (label == "F" and t.startswith("IN="))]
            compare_lines(res, "forward %s" % what, harness, captures, ifaces,
                          sub, "", variants, tag=tag, label=label)
        compare_captures(res, "forward", harness, captures, ifaces)
    finally:
        kmsg.close()
        env.close()


# The ruleset of the walk scenario: TRACE in raw, user chains, RETURN,
# goto, MARK, LOG with flags, a DROP policy so that nothing goes on to
# routing (which the engine cannot do without a host model).
WALK_RULES = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:RAWU - [0:0]
-A PREROUTING -i {dev} -p icmp -j TRACE
-A PREROUTING -i {dev} -p tcp -j TRACE
-A PREROUTING -i {dev} -p udp --dport 7000:7999 -j TRACE
-A PREROUTING -i {dev} -j RAWU
-A PREROUTING -i {dev} -p udp -j MARK --set-mark 0x10
-A RAWU -p tcp --tcp-flags SYN SYN -j RETURN
-A RAWU -j MARK --or-mark 0x1
COMMIT
*mangle
:PREROUTING DROP [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:M1 - [0:0]
:M2 - [0:0]
:M3 - [0:0]
-A PREROUTING -i {dev} -p udp -j M1
-A PREROUTING -i {dev} -p icmp --icmp-type echo-request -g M3
-A PREROUTING -i {dev} -j LOG --log-prefix "{tag}W1 " --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid
-A PREROUTING -i {dev} -p tcp --dport 22 -j DROP
-A PREROUTING -i {dev} -j MARK --xor-mark 0xff00
-A PREROUTING -i {dev} -j LOG --log-prefix "{tag}W2 " --log-macdecode --log-level 6
-A M1 -p udp --dport 7001 -j RETURN
-A M1 -j M2
-A M1 -j LOG --log-prefix "{tag}W3 "
-A M2 -j MARK --set-xmark 0x5/0xf
-A M2 -p udp --dport 7002 -j RETURN
-A M2 -j RETURN
-A M3 -j MARK --and-mark 0xf
-A M3 -j LOG --log-prefix "{tag}W4 " --log-level 5
COMMIT
"""

WALK_NFLOG_RULES = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -i {dev} -j NFLOG --nflog-group 45 --nflog-prefix "raw pre"
-A PREROUTING -i {dev} -p udp -j MARK --set-mark 0x77
-A PREROUTING -i {dev} -p udp -j NFLOG --nflog-group 46 --nflog-size 30
-A PREROUTING -i {dev} -j NFLOG --nflog-group 45 --nflog-range 10 --nflog-threshold 5
COMMIT
*mangle
:PREROUTING DROP [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i {dev} -j NFLOG
-A PREROUTING -i {dev} -p tcp -j NFLOG --nflog-group 46 --nflog-prefix "{long}"
COMMIT
"""


def scenario_walk(res, harness, uxt_bin, tag, tmp):
    """The engine against the kernel for a whole ruleset at PREROUTING."""
    for kind, template in (("trace", WALK_RULES), ("nflog", WALK_NFLOG_RULES)):
        env = Env(tag)
        kmsg = Kmsg()
        try:
            env.add("s")
            L = env.add("l")
            ifs, ifl = "ws" + tag, "wl" + tag
            env.veth("s", ifs, "l", ifl)
            nsx(env.ns["s"], ["ip", "addr", "add", "198.51.100.1/24", "dev", ifs])
            nsx(L, ["ip", "addr", "add", "198.51.100.2/24", "dev", ifl])
            smac, lmac = env.mac("s", ifs), env.mac("l", ifl)
            text = template.format(dev=ifl, tag=tag, long="L" * 63)
            nsx(L, ["iptables-legacy-restore"], stdin=text.encode())
            state = os.path.join(tmp, "state-" + kind)
            os.makedirs(state, exist_ok=True)
            env_vars = dict(os.environ, UXT_STATE=state, LC_ALL="C")
            p = subprocess.run([os.path.join(uxt_bin, "iptables-restore")],
                               input=text.encode(), capture_output=True,
                               env=env_vars, timeout=60)
            if p.returncode != 0:
                res.fail("log_units walk %s: uxt iptables-restore" % kind,
                         p.stderr.decode(errors="replace"))
                continue
            kinds = received_kinds("198.51.100.1", "198.51.100.2", "203.0.113.9")
            sel = [d for n, d in kinds if n.startswith(("icmp-echo", "tcp-", "udp",
                                                         "frag-", "ipopt-", "ah"))]
            sel += [ipv4("198.51.100.1", "198.51.100.2", 17, udp(5, p_))
                    for p_ in (7001, 7002, 7003, 8000)]
            sel.append(ipv4("198.51.100.1", "198.51.100.2", 6, tcp(5, 22, flags=0x10)))
            frames = [eth(lmac, smac, d) for d in sel]
            pcap = os.path.join(tmp, "walk-%s.pcap" % kind)
            cap = Capture(L, [0, 45, 46], pcap) if kind == "nflog" else None
            try:
                nsx(env.ns["s"], ["python3", "-c", SENDER, "eth", ifs],
                    stdin="\n".join(f.hex() for f in frames).encode())
            finally:
                if cap:
                    cap.stop()
            kernel = ["<%d>%s" % (lv, t) for lv, t in kmsg.read() if ifl in t]
            dev = links(L)
            ifindex = [k for k, v in dev.items() if v.startswith(ifl + ",")][0]
            cmds = ["E " + state] + ["R %s %d %s" % (dev[ifindex],
                                                     1700000000000000000 + i,
                                                     f.hex())
                                     for i, f in enumerate(frames)]
            if kind == "nflog":
                cmds.insert(0, "W " + os.path.join(tmp, "walk-ours"))
            out = harness.run(cmds)
            ours = [o[2:] for o in out if o.startswith("L ")]
            if kind == "trace":
                bad = [(a, b) for a, b in zip(kernel, ours) if a != b]
                detail = "\n".join("kernel   %s\nuxtables %s" % ab for ab in bad[:8])
                if len(kernel) != len(ours):
                    detail = "kernel %d lines, uxtables %d\n%s" % (
                        len(kernel), len(ours), detail)
                res.check("log_units walk: %d TRACE/LOG lines of %d packets "
                          "through the engine equal the kernel's"
                          % (len(kernel), len(frames)),
                          kernel and not bad and len(kernel) == len(ours),
                          detail)
                continue
            # nfnetlink_log queues each group apart and flushes them at
            # different times: the order holds within a group only
            _, _, recs = read_pcap(pcap)
            group_of = lambda r: nflog_attrs(r)[0]
            mine_all = [bytes.fromhex(o[2:]) for o in out if o.startswith("G ")]
            theirs, mine = [], []
            for g in (0, 45, 46):
                theirs += [mask_timestamp(r) for _, _, r in recs
                           if group_of(r) == g]
                mine += [mask_timestamp(r) for r in mine_all if group_of(r) == g]
            bad = [(a.hex(), b.hex()) for a, b in zip(theirs, mine) if a != b]
            detail = "\n".join("kernel   %s\nuxtables %s" % ab for ab in bad[:6])
            if len(theirs) != len(mine):
                detail = "kernel %d records, uxtables %d\n%s" % (
                    len(theirs), len(mine), detail)
            res.check("log_units walk: %d NFLOG records of %d packets through "
                      "the engine equal the kernel's, timestamps aside"
                      % (len(theirs), len(frames)),
                      theirs and not bad and len(theirs) == len(mine), detail)
            # per group, as files
            for g in (0, 45, 46):
                kp = os.path.join(tmp, "walk-kernel-%d.pcap" % g)
                with open(kp, "wb") as f:
                    f.write(struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0,
                                        262144, 239))
                    n = 0
                    for sec, usec, r in recs:
                        if nflog_attrs(r)[0] == g:
                            f.write(struct.pack("=IIII", sec, usec, len(r),
                                                len(r)) + r)
                            n += 1
                readers_agree(res, "walk group %d" % g, kp,
                              os.path.join(tmp, "walk-ours", "nflog-%d.pcap" % g),
                              n)
        finally:
            kmsg.close()
            env.close()


def run(res, opts):
    why = have_root_netns()
    if why:
        res.skip("log_units", why)
        return
    for tool in ("tcpdump", "setpriv", "ping"):
        if not shutil.which(tool):
            res.skip("log_units", tool + " missing")
            return
    bindir = opts.get("bindir", "build-asan/bin")
    libdir = os.path.dirname(os.path.abspath(bindir))
    tag = uuid.uuid4().hex[:6]
    sysctl = "/proc/sys/net/netfilter/nf_log_all_netns"
    if not os.path.exists(sysctl):
        res.skip("log_units", "no nf_log_all_netns sysctl (nf_log_syslog missing)")
        return
    with open(sysctl) as f:
        old = f.read().strip()
    tmp = tempfile.mkdtemp(prefix="uxt-log-")
    try:
        harness = Harness(libdir, tmp)
        uxt_bin = os.path.abspath(bindir)
        for name, fn in (("received", scenario_received),
                         ("local", scenario_local),
                         ("forward", scenario_forward),
                         ("walk", lambda r, h, t, d: scenario_walk(r, h, uxt_bin,
                                                                  t, d))):
            # set again before each scenario: another suite running at the
            # same time may have put its old value back meanwhile
            with open(sysctl, "w") as f:
                f.write("1")
            try:
                fn(res, harness, tag, tmp)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                res.fail("log_units %s" % name, str(e))
    finally:
        with open(sysctl, "w") as f:
            f.write(old)
        shutil.rmtree(tmp, ignore_errors=True)
