# SPDX-License-Identifier: BSD-2-Clause
"""ICMP errors, fragments, REJECT and TCPMSS against the kernel.

Every case runs twice: on the kernel, in a test bed of three network
namespaces (client -- dut -- server, two veth links), with the case's rules
loaded by iptables-legacy in dut, its datagrams sent as Ethernet frames from
the client (or server) and what dut emits captured on both links; and
through uxtables, with tests/unit/icmp_frag_run.c (a namespace of libuxt
with the same host, driven by a script).  The datagrams that leave dut on
each link must be equal byte for byte, except the IP ID of the ICMP errors
dut creates (the kernel picks it at random), which is zeroed on both sides
with the header checksum recomputed.

    dut eth0 10.77.1.1/24 -- client 10.77.1.2 (and 10.77.1.3-30 as sources)
    dut eth1 10.77.2.1/24 -- server 10.77.2.2
    dut routes: 10.77.3.0/24 via 10.77.2.2, 10.77.6.0/24 unreachable,
                10.77.7.0/24 prohibit, 10.77.8.0/24 blackhole

Settings that make the kernel a function of the packets: IPv6 off, no
rp_filter, permanent neighbours, client and server drop everything in raw
PREROUTING/OUTPUT (their AF_PACKET sockets still see the frames), and in
dut icmp_ratemask 0 except in the rate-limit cases, each of which uses
sources of its own.  Every namespace is deleted at the end, also on
failure.
"""

import ctypes
import os
import socket
import struct
import subprocess
import time
import uuid

from common import ROOT, have_root_netns

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_CSUMNOTREADY = 0x8
# link A carries jumbo frames, so that the client can send what dut has
# to fragment toward the server
MTU_A = 9000
# frames read from a socket at once, at most (a case causes a few)
MAX_FRAMES = 10000

MAC = {"c0": "02:00:00:00:01:02", "rc": "02:00:00:00:01:01",
       "rs": "02:00:00:00:02:01", "s0": "02:00:00:00:02:02"}


# Packets

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip2b(a):
    return socket.inet_aton(a)


def ip(src, dst, proto, payload, ttl=64, tos=0, ident=0x1234, frag=0,
       opts=b"", tot_len=None):
    hl = 20 + len(opts)
    tl = tot_len if tot_len is not None else hl + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | (hl // 4), tos, tl, ident, frag,
                    ttl, proto, 0, ip2b(src), ip2b(dst)) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def pseudo(src, dst, proto, length):
    return ip2b(src) + ip2b(dst) + struct.pack("!BBH", 0, proto, length)


def udp(src, dst, sport, dport, data, check="ok"):
    u = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    if check == "ok":
        c = csum(pseudo(src, dst, 17, len(u)) + u) or 0xFFFF
    elif check == "zero":
        c = 0
    else:
        c = 0xBEEF
    return u[:6] + struct.pack("!H", c) + u[8:]


def tcp(src, dst, sport, dport, seq=1000, ack=0, flags="S", opts=b"",
        data=b"", bad=False, win=64240):
    fl = 0
    for ch, bit in zip("FSRPAU", (1, 2, 4, 8, 16, 32)):
        if ch in flags:
            fl |= bit
    doff = (20 + len(opts)) // 4
    t = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, fl, win,
                    0, 0) + opts + data
    c = csum(pseudo(src, dst, 6, len(t)) + t)
    if bad:
        c ^= 0x1111
    return t[:16] + struct.pack("!H", c) + t[18:]


def icmp(typ, code, rest=b"\0\0\0\0", data=b""):
    m = struct.pack("!BBH", typ, code, 0) + rest + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


MSS1460 = b"\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x01\x03\x03\x07"


def fragments(dgram, sizes):
    """Cuts a datagram (20-byte header) into fragments whose payloads have
    the given sizes (the last takes the rest)."""
    hdr, body = dgram[:20], dgram[20:]
    out, off = [], 0
    for i, size in enumerate(sizes + [None]):
        chunk = body[off:] if size is None else body[off:off + size]
        if not chunk:
            break
        last = size is None or off + size >= len(body)
        fo = (off // 8) | (0 if last else 0x2000)
        h = bytearray(hdr)
        struct.pack_into("!H", h, 2, 20 + len(chunk))
        struct.pack_into("!H", h, 6, fo | (struct.unpack("!H", hdr[6:8])[0] & 0x4000))
        struct.pack_into("!H", h, 10, 0)
        struct.pack_into("!H", h, 10, csum(bytes(h)))
        out.append(bytes(h) + chunk)
        off += len(chunk)
        if last:
            break
    return out


def frag_at(dgram, off, length, more):
    """One fragment: payload bytes [off, off + length) of a datagram."""
    hdr, body = bytearray(dgram[:20]), dgram[20:]
    chunk = body[off:off + length]
    struct.pack_into("!H", hdr, 2, 20 + len(chunk))
    struct.pack_into("!H", hdr, 6, (off // 8) | (0x2000 if more else 0))
    struct.pack_into("!H", hdr, 10, 0)
    struct.pack_into("!H", hdr, 10, csum(bytes(hdr)))
    return bytes(hdr) + chunk


def complete_l4_csum(d):
    """What the device does with a checksum the kernel left partial."""
    hl = (d[0] & 15) * 4
    proto = d[9]
    off = {6: 16, 17: 6}.get(proto)
    if off is None or len(d) < hl + off + 2:
        return d
    seg = bytearray(d[hl:])
    seg[off:off + 2] = b"\0\0"
    c = csum(d[12:16] + d[16:20] + struct.pack("!BBH", 0, proto, len(seg)) +
             bytes(seg))
    if proto == 17 and c == 0:
        c = 0xFFFF
    seg[off:off + 2] = struct.pack("!H", c)
    return d[:hl] + bytes(seg)


def normalize(dgram):
    """Zeroes the IP ID of an ICMP error dut created (the kernel's is
    random) and recomputes the header checksum."""
    if len(dgram) >= 28 and dgram[9] == 1 and dgram[20] in (3, 4, 5, 11, 12) \
            and dgram[12:16] in (ip2b("10.77.1.1"), ip2b("10.77.2.1")):
        h = bytearray(dgram[:20])
        h[4:6] = b"\0\0"
        h[10:12] = b"\0\0"
        h[10:12] = struct.pack("!H", csum(bytes(h)))
        return bytes(h) + dgram[20:]
    return dgram


def describe(dgram):
    if len(dgram) < 20:
        return dgram.hex()
    proto = dgram[9]
    s = "%s > %s proto %d len %d id %d off 0x%04x ttl %d tos 0x%02x" % (
        socket.inet_ntoa(dgram[12:16]), socket.inet_ntoa(dgram[16:20]), proto,
        len(dgram), struct.unpack("!H", dgram[4:6])[0],
        struct.unpack("!H", dgram[6:8])[0], dgram[8], dgram[1])
    hl = (dgram[0] & 15) * 4
    if proto == 1 and len(dgram) >= hl + 2:
        s += " icmp %d/%d" % (dgram[hl], dgram[hl + 1])
    return s


# The kernel

class _Netns:
    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.own = os.open("/proc/self/ns/net", os.O_RDONLY)

    def enter(self, name):
        fd = os.open("/var/run/netns/" + name, os.O_RDONLY)
        try:
            if self.libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns " + name)
        finally:
            os.close(fd)

    def leave(self):
        if self.libc.setns(self.own, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")

    def close(self):
        if self.own >= 0:
            os.close(self.own)
            self.own = -1


class Bed:
    """client -- dut -- server; removed on close(), also on failure."""

    def __init__(self):
        tag = uuid.uuid4().hex[:8]
        self.c, self.r, self.s = ("uxpc-" + tag, "uxpr-" + tag, "uxps-" + tag)
        self.names = []
        self.socks = {}
        self.nsx = _Netns()
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def sh(self, ns, cmd, check=True):
        p = subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", cmd],
                           capture_output=True, timeout=30)
        if check and p.returncode != 0:
            raise RuntimeError("%s: %s: %s" % (ns, cmd, p.stderr.decode()))
        return p.stdout.decode()

    def _setup(self):
        for n in (self.c, self.r, self.s):
            subprocess.run(["ip", "netns", "add", n], check=True,
                           capture_output=True)
            self.names.append(n)
            self.sh(n, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
                       "net.ipv6.conf.default.disable_ipv6=1; ip link set lo up")
        subprocess.run(["ip", "link", "add", "c0", "netns", self.c, "type",
                        "veth", "peer", "name", "rc", "netns", self.r],
                       check=True, capture_output=True)
        subprocess.run(["ip", "link", "add", "s0", "netns", self.s, "type",
                        "veth", "peer", "name", "rs", "netns", self.r],
                       check=True, capture_output=True)
        for ns, dev, addr in ((self.c, "c0", "10.77.1.2/24"),
                              (self.r, "rc", "10.77.1.1/24"),
                              (self.r, "rs", "10.77.2.1/24"),
                              (self.s, "s0", "10.77.2.2/24")):
            self.sh(ns, "ip link set %s address %s && ip addr add %s brd + dev %s"
                        " && ip link set %s up" % (dev, MAC[dev], addr, dev, dev))
        self.sh(self.c, "ip link set c0 mtu %d" % MTU_A)
        self.sh(self.r, "ip link set rc mtu %d" % MTU_A)
        r = self.r
        self.sh(r, "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 "
                   "net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.rc.rp_filter=0 "
                   "net.ipv4.conf.rs.rp_filter=0 net.ipv4.conf.all.send_redirects=0 "
                   "net.ipv4.conf.rc.send_redirects=0 net.ipv4.conf.rs.send_redirects=0 "
                   "net.ipv4.icmp_ratemask=0")
        self.sh(r, "ip route add 10.77.3.0/24 via 10.77.2.2 && "
                   "ip route add unreachable 10.77.6.0/24 && "
                   "ip route add prohibit 10.77.7.0/24 && "
                   "ip route add blackhole 10.77.8.0/24")
        for i in range(2, 31):
            self.sh(r, "ip neigh replace 10.77.1.%d lladdr %s nud permanent dev rc"
                    % (i, MAC["c0"]))
        self.sh(r, "ip neigh replace 10.77.2.2 lladdr %s nud permanent dev rs"
                % MAC["s0"])
        for ns in (self.c, self.s):
            self.sh(ns, "iptables-legacy -t raw -A PREROUTING -j DROP && "
                        "iptables-legacy -t raw -A OUTPUT -j DROP")
        for ns, dev in ((self.c, "c0"), (self.s, "s0")):
            self.nsx.enter(ns)
            try:
                sk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                   socket.htons(ETH_P_ALL))
                sk.bind((dev, 0))
                sk.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
                sk.setblocking(False)
                self.socks[dev] = sk
            finally:
                self.nsx.leave()

    def reset(self, rules, mtu_b=1500, ratemask=0, ipfrag_time=30):
        r = self.r
        for t in ("filter", "mangle", "raw", "nat"):
            self.sh(r, "iptables-legacy -t %s -F" % t)
        self.sh(r, "ip link set rs mtu %d && sysctl -qw net.ipv4.icmp_ratemask=%d "
                   "net.ipv4.ipfrag_time=%d" % (mtu_b, ratemask, ipfrag_time))
        self.sh(self.s, "ip link set s0 mtu %d" % mtu_b)
        for rule in rules:
            self.sh(r, "iptables-legacy " + rule)
        self.drain()

    def drain(self):
        for sk in self.socks.values():
            for _ in range(MAX_FRAMES):
                try:
                    sk.recvfrom(70000)
                except BlockingIOError:
                    break

    def send(self, side, dgram):
        src, dst = ("c0", "rc") if side == "eth0" else ("s0", "rs")
        frame = bytes.fromhex(MAC[dst].replace(":", "")) + \
            bytes.fromhex(MAC[src].replace(":", "")) + b"\x08\x00" + dgram
        self.socks[src].send(frame)

    def collect(self, wait=0.15):
        time.sleep(wait)
        out = {"eth0": [], "eth1": []}
        for dev, name in (("c0", "eth0"), ("s0", "eth1")):
            sk = self.socks[dev]
            for _ in range(MAX_FRAMES):
                try:
                    data, anc, _, addr = sk.recvmsg(70000, 256)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING or data[12:14] != b"\x08\x00":
                    continue
                d = data[14:]
                tl = struct.unpack("!H", d[2:4])[0] if len(d) >= 4 else len(d)
                d = d[:tl]
                for level, kind, val in anc:
                    if level == SOL_PACKET and kind == PACKET_AUXDATA and \
                            struct.unpack("I", val[:4])[0] & TP_STATUS_CSUMNOTREADY:
                        d = complete_l4_csum(d)
                out[name].append(d)
        return out

    def close(self):
        for sk in self.socks.values():
            sk.close()
        self.socks = {}
        for n in self.names:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        self.names = []
        self.nsx.close()


# uxtables

def build_driver(opts):
    """Compiles tests/unit/icmp_frag_run.c against the build's library."""
    bindir = os.path.abspath(opts["bindir"])
    build = os.path.dirname(bindir)
    lib = os.path.join(build, "libuxt.a")
    clidir = os.path.join(build, "obj", "src", "cli")
    if not os.path.exists(lib) or not os.path.isdir(clidir):
        return None, "no %s or %s" % (lib, clidir)
    objs = sorted(os.path.join(clidir, f) for f in os.listdir(clidir)
                  if f.endswith(".o") and f != "main.o")
    out = os.path.join(build, "icmp_frag_run")
    sanit = []
    with open(lib, "rb") as f:
        if b"__asan_" in f.read():
            # the sanitizer flavour: the driver is built the same way
            sanit = ["-fsanitize=address,undefined",
                     "-fno-sanitize-recover=undefined"]
    cmd = ["cc", "-std=gnu11", "-D_GNU_SOURCE", "-g", "-O1", "-Wall", "-Wextra",
           "-Werror", "-I", os.path.join(ROOT, "src/lib"),
           "-I", os.path.join(ROOT, "src/lib/ct"),
           "-I", os.path.join(ROOT, "src/io"), "-I", os.path.join(ROOT, "src/cli"),
           os.path.join(ROOT, "tests/unit/icmp_frag_run.c"),
           os.path.join(ROOT, "tests/unit/driver_common.c")] + objs + \
        [lib, "-lpcap", "-lmnl", "-o", out] + sanit
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        return None, "cannot build the driver: " + p.stderr.decode()[-2000:]
    return out, None


def run_uxt(driver, case):
    lines = ["rule " + r for r in case["rules"]]
    lines.append("mtu eth0 %d" % MTU_A)
    if case.get("mtu_b", 1500) != 1500:
        lines.append("mtu eth1 %d" % case["mtu_b"])
    if case.get("forwarding") == 0:
        lines.append("forwarding 0")
    if case.get("redirects"):
        lines.append("redirects 1")
    if case.get("ratemask") is not None:
        lines.append("ratemask %d" % case["ratemask"])
    else:
        lines.append("ratemask 0")
    lines.append("go")
    t = 100.0
    for step in case["steps"]:
        if step[0] == "wait":
            t += step[1]
            lines.append("time %.6f" % t)
            continue
        side, dgram = step
        t += 0.001
        lines.append("time %.6f" % t)
        lines.append("recv %s %s" % (side, dgram.hex()))
    if case.get("expire"):
        t += 31
        lines.append("time %.6f" % t)
    p = subprocess.run([driver], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, timeout=60)
    out = {"eth0": [], "eth1": []}
    for line in p.stdout.splitlines():
        if line.startswith("xmit "):
            _, dev, hx = line.split(" ", 2)
            out.setdefault(dev, []).append(bytes.fromhex(hx))
    return out, p.returncode, p.stderr


def run_kernel(bed, case):
    bed.reset(case["rules"], case.get("mtu_b", 1500), case.get("ratemask") or 0,
              1 if case.get("expire") else 30)
    if case.get("forwarding") == 0:
        bed.sh(bed.r, "sysctl -qw net.ipv4.ip_forward=0")
    if case.get("redirects"):
        bed.sh(bed.r, "sysctl -qw net.ipv4.conf.rc.send_redirects=1 "
                      "net.ipv4.conf.rs.send_redirects=1")
    try:
        for step in case["steps"]:
            if step[0] == "wait":
                time.sleep(step[1])
                continue
            bed.send(*step)
        out = bed.collect(2.3 if case.get("expire") else 0.15)
    finally:
        if case.get("forwarding") == 0:
            bed.sh(bed.r, "sysctl -qw net.ipv4.ip_forward=1")
        if case.get("redirects"):
            bed.sh(bed.r, "sysctl -qw net.ipv4.conf.rc.send_redirects=0 "
                          "net.ipv4.conf.rs.send_redirects=0")
    return out


# The cases

C, R, S = "10.77.1.2", "10.77.1.1", "10.77.2.2"


def u(src=C, dst=R, data=b"hello", sport=40000, dport=5000, check="ok", **kw):
    return ip(src, dst, 17, udp(src, dst, sport, dport, data, check), **kw)


def t(src=C, dst=R, sport=41000, dport=6000, tkw=None, **kw):
    return ip(src, dst, 6, tcp(src, dst, sport, dport, **(tkw or {})), **kw)


def cases():
    out = []

    def case(name, rules, steps, **kw):
        d = {"name": name, "rules": rules, "steps": steps}
        d.update(kw)
        out.append(d)

    rej_in = "-A INPUT -p udp -j REJECT"
    # REJECT with ICMP
    for w in ("icmp-net-unreachable", "icmp-host-unreachable",
              "icmp-proto-unreachable", "icmp-port-unreachable",
              "icmp-net-prohibited", "icmp-host-prohibited",
              "icmp-admin-prohibited"):
        case("reject-input-" + w, ["-A INPUT -p udp -j REJECT --reject-with " + w],
             [("eth0", u())])
    case("reject-input-tos", [rej_in], [("eth0", u(tos=0x1F))])
    case("reject-input-ttl1", [rej_in], [("eth0", u(ttl=1))])
    case("reject-input-big", [rej_in], [("eth0", u(data=bytes(range(256)) * 5))])
    case("reject-input-bad-udp-csum", [rej_in], [("eth0", u(check="bad"))])
    case("reject-input-udp-csum-zero", [rej_in], [("eth0", u(check="zero"))])
    case("reject-input-bcast", [rej_in], [("eth0", u(dst="10.77.1.255"))])
    case("reject-input-lbcast", [rej_in], [("eth0", u(dst="255.255.255.255"))])
    case("reject-input-ipopts", [rej_in],
         [("eth0", u(opts=b"\x94\x04\x00\x00"))])
    case("reject-forward-udp", ["-A FORWARD -p udp -j REJECT"],
         [("eth0", u(dst=S))])
    case("reject-forward-from-server", ["-A FORWARD -p udp -j REJECT"],
         [("eth1", u(src=S, dst=C))])
    case("reject-icmp-echo", ["-A INPUT -p icmp -j REJECT"],
         [("eth0", ip(C, R, 1, icmp(8, 0, b"\x12\x34\x00\x01", b"x" * 56)))])
    case("reject-icmp-error", ["-A INPUT -p icmp -j REJECT"],
         [("eth0", ip(C, R, 1, icmp(3, 3, data=u(src=R, dst=C)[:28])))])
    case("reject-icmp-unknown-type", ["-A INPUT -p icmp -j REJECT"],
         [("eth0", ip(C, R, 1, icmp(42, 0)))])
    case("reject-icmp-bad-csum", ["-A INPUT -p icmp -j REJECT"],
         [("eth0", ip(C, R, 1, b"\x08\x00\x00\x00\x00\x00\x00\x00"))])
    case("reject-icmp-truncated", ["-A INPUT -p icmp -j REJECT"],
         [("eth0", ip(C, R, 1, b""))])
    case("reject-other-proto", ["-A INPUT -p 99 -j REJECT"],
         [("eth0", ip(C, R, 99, b"abcdef"))])
    case("reject-gre-no-csum-check", ["-A INPUT -p 47 -j REJECT"],
         [("eth0", ip(C, R, 47, b"\x00\x00\x08\x00junk"))])
    dg = u(dst=S, data=b"F" * 100)
    fr = fragments(dg, [48])
    case("reject-forward-first-fragment", ["-A FORWARD -p udp -j REJECT"],
         [("eth0", fr[0])])
    case("reject-forward-later-fragment", ["-A FORWARD -p udp -j REJECT"],
         [("eth0", fr[1])])

    # TCP RST
    rst = ["-A INPUT -p tcp -j REJECT --reject-with tcp-reset"]
    case("rst-syn", rst, [("eth0", t(tkw={"seq": 425093727, "flags": "S",
                                           "opts": MSS1460}))])
    case("rst-ack", rst, [("eth0", t(tkw={"flags": "A", "ack": 777777}))])
    case("rst-syn-fin-data", rst, [("eth0", t(tkw={"flags": "SF", "seq": 5000,
                                                    "data": b"abcde"}))])
    case("rst-psh-ack-data", rst, [("eth0", t(tkw={"flags": "PA", "seq": 9,
                                                    "ack": 99, "data": b"x" * 30}))])
    case("rst-of-rst", rst, [("eth0", t(tkw={"flags": "R"}))])
    case("rst-bad-csum", rst, [("eth0", t(tkw={"flags": "S", "bad": True}))])
    case("rst-truncated", rst, [("eth0", ip(C, R, 6, b"\x9c\x40\x17"))])
    case("rst-bcast", rst, [("eth0", t(dst="10.77.1.255", tkw={"flags": "S"}))])
    case("rst-forward", ["-A FORWARD -p tcp -j REJECT --reject-with tcp-reset"],
         [("eth0", t(dst=S, tkw={"flags": "S", "seq": 1}))])
    case("rst-tos-ttl", rst, [("eth0", t(tos=0xB8, ttl=3, tkw={"flags": "S"}))])

    # Rate limits: 12 at once from one source give 6 replies; one more
    # after a second; another source is not limited by the first
    many = [("eth0", u(src="10.77.1.10", sport=40000 + i)) for i in range(12)]
    case("ratelimit-burst", [rej_in], many, ratemask=6168)
    # Redirects: a datagram forwarded back out of the link it came in on,
    # toward a host on that link, makes the router tell its sender; again
    # only after 40 ms, then 80 ms, 160 ms (ip_rt_send_redirect's backoff;
    # the waits keep well clear of the thresholds).  The backoff is kept
    # per sender for 20 s, across cases in the kernel, so each case has a
    # sender of its own.
    def to_c5(n):
        return dict(src="10.77.1.%d" % (20 + n), dst="10.77.1.5")
    case("redirect-onlink", ["-A FORWARD -p udp -j ACCEPT"],
         [("eth0", u(**to_c5(1)))], redirects=True)
    case("redirect-backoff", [],
         [("eth0", u(sport=40000 + i, **to_c5(2))) if not isinstance(i, float)
          else ("wait", i) for i in
          (0, 1, 0.1, 2, 0.01, 3, 0.2, 4, 0.02, 5, 0.3, 6)], redirects=True)
    case("redirect-ttl1", [], [("eth0", u(ttl=1, **to_c5(3)))], redirects=True)
    case("redirect-off", [], [("eth0", u(**to_c5(4)))])
    case("redirect-forward-drop", ["-A FORWARD -j DROP"],
         [("eth0", u(**to_c5(5)))], redirects=True)
    case("redirect-via-gateway", [],
         [("eth0", u(src="10.77.1.26", dst="10.77.3.3"))], redirects=True)
    case("ratelimit-refill", [rej_in],
         [("eth0", u(src="10.77.1.11", sport=40000 + i)) for i in range(7)] +
         [("wait", 1.1), ("eth0", u(src="10.77.1.11", sport=41000)),
          ("eth0", u(src="10.77.1.11", sport=41001)),
          ("eth0", u(src="10.77.1.12", sport=41002))], ratemask=6168)
    case("ratelimit-fragneeded-exempt", ["-A FORWARD -p udp -j ACCEPT"],
         [("eth0", u(src="10.77.1.13", dst=S, data=b"z" * 1450, ident=i,
                     frag=0x4000)) for i in range(8)], mtu_b=1400, ratemask=6168)
    case("ratelimit-route-error", [],
         [("eth0", u(src="10.77.1.14", dst="10.77.6.9", sport=40000 + i))
          for i in range(6)], ratemask=6168)

    # Forwarding errors and route errors
    case("ttl-exceeded", [], [("eth0", u(dst=S, ttl=1))])
    case("ttl-exceeded-icmp-error", [],
         [("eth0", ip(C, S, 1, icmp(3, 1, data=u(src=S, dst=C)[:28]), ttl=1))])
    case("frag-needed", [], [("eth0", u(dst=S, data=b"q" * 1450, frag=0x4000))],
         mtu_b=1400)
    case("route-unreachable", [], [("eth0", u(dst="10.77.6.9"))])
    case("route-prohibit", [], [("eth0", u(dst="10.77.7.9"))])
    case("route-blackhole", [], [("eth0", u(dst="10.77.8.9"))])
    case("route-none", [], [("eth0", u(dst="10.99.0.1"))])
    case("route-forwarding-off", [], [("eth0", u(dst=S))], forwarding=0)

    # Fragmentation on output
    case("fragment-forward", [], [("eth0", u(dst=S, data=bytes(range(256)) * 12))],
         mtu_b=1400)
    case("fragment-forward-odd", [], [("eth0", u(dst=S, data=b"o" * 1391))],
         mtu_b=1400)
    case("fragment-a-fragment", [],
         [("eth0", fragments(u(dst=S, data=b"m" * 3000), [1480])[0])], mtu_b=1000)
    case("fragment-ipopts", [],
         [("eth0", u(dst=S, data=b"n" * 1500,
                     opts=b"\x94\x04\x00\x00\x1e\x04\xab\xcd"))],
         mtu_b=1000)

    # Reassembly before local delivery: the port unreachable quotes the
    # whole datagram (as much as fits).  Each case has its own IP ID: a
    # queue a case leaves incomplete in the kernel lives on (none is left
    # with its first fragment, which would answer 30 s later).
    ids = iter(range(0x5000, 0x6000))
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-in-order", [rej_in], [("eth0", f) for f in fragments(big, [200, 200])])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-reverse", [rej_in],
         [("eth0", f) for f in reversed(fragments(big, [200, 200]))])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-duplicate", [rej_in],
         [("eth0", f) for f in fragments(big, [200, 200])[:2]] +
         [("eth0", fragments(big, [200, 200])[0])] +
         [("eth0", fragments(big, [200, 200])[2])])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-overlap", [rej_in],
         [("eth0", frag_at(big, 0, 208, True)), ("eth0", frag_at(big, 200, 200, True)),
          ("eth0", frag_at(big, 400, 208, False))])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-dup-across-runs", [rej_in],
         [("eth0", frag_at(big, 0, 200, True)), ("eth0", frag_at(big, 400, 208, False)),
          ("eth0", frag_at(big, 0, 400, True)), ("eth0", frag_at(big, 200, 200, True)),
          ("eth0", frag_at(big, 0, 200, True)), ("eth0", frag_at(big, 400, 208, False))])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-dup-in-run", [rej_in],
         [("eth0", frag_at(big, 0, 200, True)), ("eth0", frag_at(big, 200, 200, True)),
          ("eth0", frag_at(big, 0, 400, True)), ("eth0", frag_at(big, 400, 208, False))])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-unaligned-mf", [rej_in],
         [("eth0", frag_at(big, 0, 203, True)), ("eth0", frag_at(big, 200, 408, False))])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-two-last", [rej_in],
         [("eth0", frag_at(big, 400, 208, False)), ("eth0", frag_at(big, 200, 300, False)),
          ("eth0", frag_at(big, 0, 200, True)), ("eth0", frag_at(big, 200, 200, True)),
          ("eth0", frag_at(big, 400, 208, False))])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-empty-fragment", [rej_in],
         [("eth0", frag_at(big, 0, 200, True)), ("eth0", frag_at(big, 200, 0, True)),
          ("eth0", frag_at(big, 200, 408, False))])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-ecn", [rej_in],
         [("eth0", f) for f in fragments(u(data=b"e" * 300, tos=0x02, ident=0x6001), [160])[:1]] +
         [("eth0", f) for f in fragments(u(data=b"e" * 300, tos=0x03, ident=0x6001), [160])[1:]])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-ecn-mismatch", [rej_in],
         [("eth0", f) for f in fragments(u(data=b"e" * 300, tos=0x00, ident=0x6002), [160])[:1]] +
         [("eth0", f) for f in fragments(u(data=b"e" * 300, tos=0x03, ident=0x6002), [160])[1:]])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-df", [rej_in],
         [("eth0", f) for f in fragments(u(data=b"d" * 300, frag=0x4000, ident=0x6003), [160])])
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-timeout", [rej_in],
         [("eth0", fragments(u(data=b"t" * 300, ident=0x7777), [160])[0])],
         expire=True)
    big = u(data=bytes(range(200)) * 3, ident=next(ids))
    case("reasm-timeout-no-first", [rej_in],
         [("eth0", fragments(u(data=b"t" * 300, ident=0x7778), [160])[1])],
         expire=True)

    # TCPMSS
    syn = {"flags": "S", "opts": MSS1460}
    fwd = "-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS "
    case("tcpmss-set", ["-t mangle " + fwd + "--set-mss 1000"],
         [("eth0", t(dst=S, tkw=syn))])
    case("tcpmss-set-higher", ["-t mangle " + fwd + "--set-mss 2000"],
         [("eth0", t(dst=S, tkw=syn))])
    case("tcpmss-clamp", ["-t mangle " + fwd + "--clamp-mss-to-pmtu"],
         [("eth0", t(dst=S, tkw=syn))], mtu_b=1400)
    case("tcpmss-add", ["-t mangle " + fwd + "--set-mss 1000"],
         [("eth0", t(dst=S, tkw={"flags": "S"}))])
    case("tcpmss-add-small", ["-t mangle " + fwd + "--set-mss 300"],
         [("eth0", t(dst=S, tkw={"flags": "S", "opts": b"\x01\x01\x04\x02"}))])
    case("tcpmss-payload", ["-t mangle " + fwd + "--set-mss 1000"],
         [("eth0", t(dst=S, tkw={"flags": "S", "data": b"hi"}))])
    case("tcpmss-odd-options", ["-t mangle " + fwd + "--set-mss 1000"],
         [("eth0", t(dst=S, tkw={"flags": "S",
                                  "opts": b"\x00\x03\x00\x02\x04\x05\xb4\x01"}))])
    case("tcpmss-bad-doff", ["-t mangle " + fwd + "--set-mss 1000"],
         [("eth0", ip(C, S, 6, tcp(C, S, 1, 2, flags="S")[:12] + b"\xf0\x02" +
                      tcp(C, S, 1, 2, flags="S")[14:]))])
    return out


def compare(kern, ours):
    diffs = []
    for dev in ("eth0", "eth1"):
        k = [normalize(d) for d in kern.get(dev, [])]
        o = [normalize(d) for d in ours.get(dev, [])]
        if k != o:
            diffs.append("%s: kernel %d packets, uxtables %d" % (dev, len(k), len(o)))
            for i in range(max(len(k), len(o))):
                kd = k[i] if i < len(k) else None
                od = o[i] if i < len(o) else None
                if kd == od:
                    continue
                diffs.append("  #%d kernel:   %s" % (i, describe(kd) if kd else "-"))
                diffs.append("  #%d uxtables: %s" % (i, describe(od) if od else "-"))
                if kd and od:
                    diffs.append("     kernel   %s" % kd[:96].hex())
                    diffs.append("     uxtables %s" % od[:96].hex())
                if len(diffs) > 30:
                    break
    return diffs


def run(res, opts):
    driver, why = build_driver(opts)
    if not driver:
        res.fail("packet_units: driver", why)
        return
    allc = cases()
    only = os.environ.get("UXT_PACKET_CASES")
    if only:
        allc = [c for c in allc if any(w in c["name"] for w in only.split(","))]
    why = have_root_netns()
    if why:
        for c in allc:
            res.skip("packet_units " + c["name"], why)
        return
    bed = Bed()
    try:
        for c in allc:
            name = "packet_units " + c["name"]
            ours, rc, err = run_uxt(driver, c)
            if rc != 0:
                res.fail(name, "driver exit %d: %s" % (rc, err[-2000:]))
                continue
            kern = run_kernel(bed, c)
            diffs = compare(kern, ours)
            res.check(name, not diffs, "\n".join(diffs))
    finally:
        bed.close()


if __name__ == "__main__":
    import argparse
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import Results

    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    r = Results(a.verbose)
    run(r, {"bindir": a.bin})
    print("%d passed, %d failed" % (r.passed, r.failed))
    sys.exit(1 if r.failed else 0)
