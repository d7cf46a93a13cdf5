# SPDX-License-Identifier: BSD-2-Clause
"""The seed's sections 9-13, offline (the rows that need connection
tracking are at the end, and are also compared with a kernel namespace).

Each scenario is the seed's own commands (as the walkthrough lists them),
the traffic of the seed replaced by `uxt inject` of the same packets on a
host described like the seed's server (192.168.0.10 on eth0, gateway
192.168.0.1), and the effect the seed shows: the counters of
`iptables -nvxL`, the LOG line, the REJECT reply, the mark, the MSS on the
wire, the NFLOG capture, the goto counters.  Expectations are the seed's
(../shared/docs/seed-walkthrough.md), with 1.8.9's spellings.
"""

import json
import os
import re
import shlex
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid

from common import Netns, ROOT, Uxt, have_root_netns
from conntrack_cli import Listener, same_lines, write_sll2
from real_traffic import normalize_save, save_entries

HOST = """# the seed's server
forwarding off
iface lo index 1 type loopback mtu 65536 up
    addr 127.0.0.1/8
iface eth0 index 2 type ether mac 00:0c:29:00:00:10 mtu 1500 up
    addr 192.168.0.10/24 brd +
iface enp0s3 index 3 type ether mac 08:00:27:00:00:10 mtu 1500 up
    addr 192.168.3.20/24 brd +
route default via 192.168.0.1 dev eth0
"""

PING_OUT = "-o eth0 -s 192.168.0.10 -d 192.168.0.1 -p icmp --icmp-type echo-request"
PING_IN = "-i eth0 -s 192.168.0.1 -d 192.168.0.10 -p icmp --icmp-type echo-request"
PING_REPLY_IN = "-i eth0 -s 192.168.0.1 -d 192.168.0.10 -p icmp --icmp-type echo-reply"


class Seed:
    def __init__(self, bindir):
        self.u = Uxt(bindir)
        self.dir = tempfile.mkdtemp(prefix="uxt-seedpk-")
        self.host = os.path.join(self.dir, "host")
        with open(self.host, "w") as f:
            f.write(HOST)

    def close(self):
        self.u.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def ipt(self, cmd):
        rc, out, err = self.u.ipt(shlex.split(cmd))
        if rc:
            raise AssertionError("iptables %s: %s" % (cmd, err))
        return out

    def inject(self, args, extra=()):
        argv = ["inject", "--host", self.host, "--json"] + shlex.split(args) + list(extra)
        rc, out, err = self.u.run("uxt", argv)
        if rc not in (0, 1):
            raise AssertionError("uxt inject %s: rc %d %s" % (args, rc, err))
        objs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        if not objs:
            raise AssertionError("uxt inject %s printed no JSON: %s %s" % (args, out, err))
        return objs[0]

    def counters(self, chain, table="filter"):
        """[(pkts, bytes, target)] of chain, from iptables -nvxL."""
        out = self.ipt("-t %s -nvxL %s" % (table, chain))
        rows = []
        for line in out.splitlines()[2:]:
            f = line.split()
            if len(f) >= 3:
                rows.append((int(f[0]), int(f[1]), f[2]))
        return rows


def scenario(res, name, fn, bindir):
    s = Seed(bindir)
    try:
        fn(s)
        res.ok("seed packets " + name)
    except AssertionError as e:
        res.fail("seed packets " + name, str(e))
    finally:
        s.close()


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def sec9_counters(s):
    s.ipt("-A OUTPUT -p icmp -j LOG")
    expect(s.counters("OUTPUT")[0][:2] == (0, 0), "before the ping")
    s.inject(PING_OUT)
    expect(s.counters("OUTPUT")[0][:2] == (1, 84), "one ping: %s" % s.counters("OUTPUT"))
    s.ipt("-Z OUTPUT")
    expect(s.counters("OUTPUT")[0][:2] == (0, 0), "after -Z")


def sec10_user_chain(s):
    s.ipt("-N TEST")
    s.ipt("-A TEST -p icmp -j LOG")
    s.ipt("-I OUTPUT -j TEST")
    out = s.ipt("-nvL TEST")
    expect("Chain TEST (1 references)" in out, out)
    for _ in range(5):
        s.inject(PING_OUT)
    expect(s.counters("TEST")[0][:2] == (5, 420), "5 pings: %s" % s.counters("TEST"))


def sec11_addresses_ports_flags(s):
    s.ipt("-I INPUT -p icmp -s 192.168.0.1 -j LOG")
    s.ipt("-A OUTPUT -p icmp -d 192.168.0.1 -j LOG")
    s.ipt("-I INPUT -p udp --sport 53 -j LOG")
    s.ipt("-I OUTPUT -p udp --dport 53 -j LOG")
    s.ipt("-I INPUT -p tcp --dport 11111 --tcp-flags SYN SYN")
    s.ipt("-I INPUT -p tcp --dport 11111 --tcp-flags FIN FIN")
    s.inject(PING_OUT)
    s.inject(PING_REPLY_IN)
    s.inject("-o eth0 -s 192.168.0.10 -d 133.243.238.164 -p udp --sport 40000 --dport 53 --length 68")
    s.inject("-i eth0 -s 133.243.238.164 -d 192.168.0.10 -p udp --sport 53 --dport 40000 --length 235")
    s.inject("-i eth0 -s 192.168.0.110 -d 192.168.0.10 -p tcp --sport 50000 --dport 11111 --tcp-flags SYN")
    s.inject("-i eth0 -s 192.168.0.110 -d 192.168.0.10 -p tcp --sport 50000 --dport 11111 --tcp-flags FIN,ACK --length 52")
    inp = s.counters("INPUT")
    out = s.counters("OUTPUT")
    expect(inp[0][:2] == (1, 52), "FIN rule: %s" % inp)
    expect(inp[1][:2] == (1, 60), "SYN rule: %s" % inp)
    expect(inp[2][:2] == (1, 235), "udp spt:53 rule: %s" % inp)
    expect(inp[3][:2] == (1, 84), "-s 192.168.0.1 rule: %s" % inp)
    expect(out[0][:2] == (1, 68), "udp dpt:53 rule: %s" % out)
    expect(out[1][:2] == (1, 84), "-d 192.168.0.1 rule: %s" % out)


LOG_LINE = re.compile(r"^<4>IN= OUT=eth0 SRC=192\.168\.0\.10 DST=192\.168\.0\.1 LEN=84 "
                      r"TOS=0x00 PREC=0x00 TTL=64 ID=\d+ DF PROTO=ICMP TYPE=8 CODE=0 "
                      r"ID=\d+ SEQ=1 $")


def sec12_1_log(s):
    s.ipt("-I OUTPUT -p icmp -j LOG")
    r = s.inject(PING_OUT)
    expect(len(r["log"]) == 1 and LOG_LINE.match(r["log"][0]), "LOG line: %r" % r["log"])
    expect(s.counters("OUTPUT")[0][:2] == (1, 84), "counter")


def sec12_2_drop(s):
    s.ipt("-I INPUT -p icmp -j DROP")
    r = s.inject(PING_IN)
    expect(r["verdict"] == "DROP" and not r["out"], "verdict %s out %s" % (r["verdict"], r["out"]))
    expect(s.counters("INPUT")[0][:2] == (1, 84), "counter")


def sec12_3_reject(s):
    s.ipt("-I INPUT -p icmp -j REJECT")
    out = s.ipt("-L INPUT")
    expect("reject-with icmp-port-unreachable" in out, out)
    r = s.inject(PING_IN)
    expect(r["verdict"] == "DROP", "verdict")
    replies = [o for o in r["out"] if o["dev"] == "eth0"]
    expect(len(replies) == 1, "one reply: %s" % r["out"])
    data = bytes.fromhex(replies[0]["hex"])
    # IP 20 + ICMP 8 + the quoted 84-byte echo request: ICMP length 92
    expect(len(data) == 112 and data[9] == 1 and data[20] == 3 and data[21] == 3,
           "port unreachable quoting the ping: %s" % replies[0]["hex"][:120])


def sec12_4_return(s):
    s.ipt("-N TEST")
    s.ipt("-A TEST -p icmp -j LOG --log-prefix --LOG1--")
    s.ipt("-A TEST -p icmp -j RETURN")
    s.ipt("-A TEST -p icmp -j LOG --log-prefix --LOG2--")
    s.ipt("-I OUTPUT -j TEST")
    out = s.ipt("-L TEST")
    expect('prefix "--LOG1--"' in out, out)
    r = s.inject(PING_OUT)
    expect(len(r["log"]) == 1 and r["log"][0].startswith("<4>--LOG1--IN= "), "log %r" % r["log"])


def sec12_6_nflog(s):
    s.ipt("-I OUTPUT -p icmp -j NFLOG")
    d = os.path.join(s.dir, "nflog")
    os.makedirs(d)
    s.inject(PING_OUT, ["--nflog-dir", d])
    cap = os.path.join(d, "nflog-0.pcap")
    expect(os.path.exists(cap), "no capture in %s" % os.listdir(d))
    if shutil.which("tcpdump"):
        p = subprocess.run(["tcpdump", "-n", "-r", cap], capture_output=True, text=True)
        expect(p.returncode == 0 and "ICMP echo request" in p.stdout,
               "tcpdump -r: %s %s" % (p.stdout, p.stderr))


def sec12_8_log_tcp_sequence(s):
    s.ipt("-I INPUT -p tcp --sport 80 -j LOG --log-tcp-sequence")
    out = s.ipt("-nL INPUT")
    expect("LOG flags 1 level 4" in out, out)
    r = s.inject("-i eth0 -s 192.168.0.110 -d 192.168.0.10 -p tcp --sport 80 --dport 40000 "
                 "--tcp-flags SYN,ACK")
    line = r["log"][0] if r["log"] else ""
    expect(re.search(r" SEQ=\d+ ACK=\d+ WINDOW=\d+ RES=0x00 ACK SYN URGP=0 $", line),
           "line %r" % line)


def sec12_9_mark(s):
    s.ipt("-t mangle -I PREROUTING -p icmp -j MARK --set-mark 100")
    s.ipt("-I INPUT -m mark --mark 100 -j LOG")
    s.ipt("-I INPUT -m mark --mark 200 -j LOG")
    out = s.ipt("-t mangle -L PREROUTING")
    expect("MARK set 0x64" in out, out)
    out = s.ipt("-L INPUT")
    expect("mark match 0x64" in out, out)
    r = s.inject(PING_IN)
    c = s.counters("INPUT")
    expect(c[0][:2] == (0, 0) and c[1][:2] == (1, 84), "counters %s" % c)
    expect(r["log"] and r["log"][0].rstrip().endswith("MARK=0x64"), "log %r" % r["log"])


def sec12_10_tcpmss(s):
    s.ipt("-t mangle -A POSTROUTING -p tcp --tcp-flags SYN,RST SYN -o enp0s3 "
          "-j TCPMSS --set-mss 1000")
    out = s.ipt("-t mangle -nL POSTROUTING")
    expect("tcp flags:0x06/0x02 TCPMSS set 1000" in out, out)
    r = s.inject("-o enp0s3 -s 192.168.3.20 -d 192.168.3.4 -p tcp --sport 40000 --dport 80 "
                 "--tcp-flags SYN")
    outs = [o for o in r["out"] if o["dev"] == "enp0s3"]
    expect(outs and "mss 1000" in outs[0]["summary"], "out %s" % r["out"])


def sec13_goto(s):
    for c in ("TEST1", "TEST2", "TEST3"):
        s.ipt("-N " + c)
    s.ipt("-A TEST1 -p icmp --goto TEST3")
    s.ipt("-A TEST1 -p icmp -j LOG")
    s.ipt("-A TEST2 -p icmp -j LOG")
    s.ipt("-A TEST3 -p icmp -j LOG")
    s.ipt("-A OUTPUT -j TEST1")
    s.ipt("-A OUTPUT -j TEST2")
    s.ipt("-A OUTPUT -j TEST3")
    out = s.ipt("-L TEST1")
    expect("[goto]" in out, out)
    out = s.ipt("-L TEST3")
    expect("Chain TEST3 (2 references)" in out, out)
    s.inject(PING_OUT)
    t1, t2, t3 = s.counters("TEST1"), s.counters("TEST2"), s.counters("TEST3")
    expect(t1[0][:2] == (1, 84) and t1[1][:2] == (0, 0), "TEST1 %s" % t1)
    expect(t2[0][:2] == (1, 84), "TEST2 %s" % t2)
    expect(t3[0][:2] == (2, 168), "TEST3 %s" % t3)


SCENARIOS = [
    ("§9 counters after a ping, -Z", sec9_counters),
    ("§10.5 five pings through a user chain", sec10_user_chain),
    ("§11 addresses, ports, TCP flags", sec11_addresses_ports_flags),
    ("§12.1 LOG line", sec12_1_log),
    ("§12.2 DROP", sec12_2_drop),
    ("§12.3 REJECT reply", sec12_3_reject),
    ("§12.4 RETURN and --log-prefix", sec12_4_return),
    ("§12.6 NFLOG capture", sec12_6_nflog),
    ("§12.8 --log-tcp-sequence", sec12_8_log_tcp_sequence),
    ("§12.9 MARK and the mark match", sec12_9_mark),
    ("§12.10 TCPMSS on a SYN", sec12_10_tcpmss),
    ("§13 goto counters", sec13_goto),
]


# ---------------------------------------------------------------------------
# The rows that need connection tracking: §12.5 REDIRECT, §12.7 NOTRACK with
# conntrack -E, and firewalld's ctstate rules.  The same packets go through
# uxtables (`uxt inject`, on the host file above) and, where root and
# network namespaces are at hand, through a kernel namespace laid out like
# the host file (KernelHost); per packet the rules whose counters moved,
# per scenario the `conntrack -E` lines, and the final `iptables-save -c`
# are compared with the kernel's.  The seed's own expectations are checked
# on uxtables' side in every case.

FIREWALLD = os.path.join(ROOT, "examples", "centos7-firewalld.rules")
IFINDEX = {"lo": 1, "eth0": 2, "enp0s3": 3}
# the host's neighbours, by the device they are reached through
PEERS = {"eth0": ("192.168.0.1", "192.168.0.110"), "enp0s3": ("192.168.3.4",)}

# Sends datagrams given as "DEV HEX" lines: "raw" from a raw socket bound to
# DEV (a local process of the host), "packet" as frames on DEV.
KAGENT = r'''
import socket, sys
mode, socks = sys.argv[1], {}
for line in sys.stdin:
    dev, data = line.split()
    data = bytes.fromhex(data)
    if dev not in socks:
        if mode == "raw":
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        else:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((dev, 0))
        socks[dev] = s
    if mode == "raw":
        socks[dev].sendto(data, (socket.inet_ntoa(data[16:20]), 0))
    else:
        socks[dev].send(data)
    sys.stdout.write("ok\n")
    sys.stdout.flush()
'''

# What the kernel's own stack answers to datagrams no socket of it expects
# (a TCP reset, a UDP port unreachable) is dropped before every iptables
# table and conntrack (priority -450, before defrag): uxtables models no
# sockets, so these answers have no counterpart there.  The scenarios send
# neither kind themselves.
QUIET = """table ip uxtquiet {
    chain out {
        type filter hook output priority -450; policy accept;
        tcp flags & rst == rst drop
        icmp type destination-unreachable icmp code port-unreachable drop
    }
}
"""


class KernelHost:
    """The seed's server (HOST) in a kernel namespace: eth0 and enp0s3 are
    veths whose peers sit, without addresses, in a second namespace from
    which datagrams arrive (AF_PACKET); the host's own datagrams leave from
    a raw socket bound to their device."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.k = Netns("spk" + tag)
        self.p = None
        self.agents = {}
        try:
            self._setup(tag)
        except BaseException:
            self.close()
            raise

    def _sh(self, ns, argv):
        rc, out, err = ns.run(argv)
        if rc:
            raise RuntimeError("%s: %s" % (" ".join(argv), err.strip()))
        return out

    def _setup(self, tag):
        self.p = Netns("spp" + tag)
        k, p = self.k, self.p
        for ns in (k, p):
            ns.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
            ns.run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
            self._sh(ns, ["ip", "link", "set", "lo", "up"])
        self.mac = {}
        for dev, peer, mac, addr in (("eth0", "pe0", "00:0c:29:00:00:10", "192.168.0.10/24"),
                                     ("enp0s3", "pe3", "08:00:27:00:00:10", "192.168.3.20/24")):
            subprocess.run(["ip", "link", "add", dev, "netns", k.name, "type", "veth",
                            "peer", "name", peer, "netns", p.name], check=True,
                           capture_output=True)
            self._sh(k, ["ip", "link", "set", dev, "address", mac, "up"])
            self._sh(k, ["ip", "addr", "add", addr, "brd", "+", "dev", dev])
            self._sh(p, ["ip", "link", "set", peer, "up"])
            self.mac[dev] = bytes.fromhex(mac.replace(":", ""))
            self.mac[peer] = bytes.fromhex(
                self._sh(p, ["cat", "/sys/class/net/%s/address" % peer]).strip()
                .replace(":", ""))
            for addr in PEERS[dev]:
                self._sh(k, ["ip", "neigh", "add", addr, "lladdr",
                             self.mac[peer].hex(":"), "dev", dev, "nud", "permanent"])
        self._sh(k, ["ip", "route", "add", "default", "via", "192.168.0.1", "dev", "eth0"])
        self._sh(k, ["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"])
        rc, _, err = k.run(["nft", "-f", "-"], stdin=QUIET.encode())
        if rc:
            raise RuntimeError("nft: " + err)
        for side, ns in (("raw", k), ("packet", p)):
            self.agents[side] = subprocess.Popen(
                ["ip", "netns", "exec", ns.name, "python3", "-c", KAGENT, side],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self, way, dev, dgram):
        """way "in": dgram arrives on dev; "out": the host sends it."""
        if way == "out":
            a, line = self.agents["raw"], "%s %s\n" % (dev, dgram.hex())
        else:
            peer = {"eth0": "pe0", "enp0s3": "pe3"}[dev]
            frame = self.mac[dev] + self.mac[peer] + b"\x08\x00" + dgram
            a, line = self.agents["packet"], "%s %s\n" % (peer, frame.hex())
        a.stdin.write(line)
        a.stdin.flush()
        if a.stdout.readline() != "ok\n":
            raise RuntimeError("the %s sender died" % way)

    def ipt(self, argv, stdin=None):
        prog = "iptables-legacy-restore" if argv == ["restore"] else "iptables-legacy"
        rc, out, err = self.k.run([prog] + ([] if argv == ["restore"] else argv),
                                  stdin=stdin)
        if rc:
            raise RuntimeError("%s %s: %s" % (prog, argv, err))
        return out

    def save(self):
        return self.k.run(["iptables-legacy-save", "-c"])[1]

    def listener(self, args):
        return Listener(["ip", "netns", "exec", self.k.name, "conntrack", "-E"] + args)

    def close(self):
        for a in self.agents.values():
            try:
                a.stdin.close()
                a.wait(timeout=5)
            except Exception:
                a.kill()
                a.wait()
        for ns in (self.k, self.p):
            if ns:
                ns.close()


def built_datagram(bindir, way, dev, args, t):
    """The datagram `uxt inject` makes of args at time t, as bytes: sent
    from a scratch state with no rules (a received one is sent to the
    host's own address, which loops it back over lo unchanged)."""
    u = Uxt(bindir)
    try:
        host = os.path.join(u.state, "host")
        with open(host, "w") as f:
            f.write(HOST)
        rc, out, err = u.run("uxt", ["inject", "--host", host, "--json", "-o", dev,
                                     "--time", "%.6f" % t] + shlex.split(args))
        objs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        if rc or not objs or len(objs[0]["out"]) != 1:
            raise AssertionError("building %s: rc %d %s %s" % (args, rc, out, err))
        return bytes.fromhex(objs[0]["out"][0]["hex"])
    finally:
        u.close()


def moved(before, after):
    """{(table, chain, rule): (packets, bytes)} of the counters that moved."""
    out = {}
    for key, (cnt, _) in after.items():
        b = before.get(key, ("[0:0]", ""))[0]
        if cnt != b:
            p1, b1 = map(int, cnt[1:-1].split(":"))
            p0, b0 = map(int, b[1:-1].split(":"))
            out[key] = (p1 - p0, b1 - b0)
    return out


def show_moved(m):
    return ", ".join("%s:%s:%s +%d/%d" % (k[0], k[1], k[2], v[0], v[1])
                     for k, v in sorted(m.items(), key=str)) or "nothing"


class CtFlow:
    """One scenario through uxtables and, when it can, the kernel.

    setup: iptables argument lists, or "restore" (firewalld's ruleset);
    steps: (way, dev, inject args) or (way, dev, bytes) for a datagram
    inject cannot make (passed to uxtables with `uxt replay`);
    listen: conntrack -E options, one listener each."""

    def __init__(self, bindir, kernel, setup, steps, listen):
        self.bindir, self.kernel = bindir, kernel
        self.setup, self.steps, self.listen = setup, steps, listen
        self.problems = []

    def run(self):
        t0 = time.time()
        self.data = [s[2] if isinstance(s[2], bytes) else
                     built_datagram(self.bindir, s[0], s[1], s[2], t0) for s in self.steps]
        self.k = self.run_kernel() if self.kernel else None
        times = self.k["times"] if self.k else [t0 + 0.01 * i for i in range(len(self.steps))]
        self.u = self.run_uxt(times)
        if self.k:
            self.compare()
            if os.environ.get("UXT_SEED_SHOW"):
                for a, ev in zip(self.listen, self.k["events"]):
                    print("   kernel conntrack -E %s:\n%s" % (" ".join(a), ev[1]))
        return self.u

    def run_kernel(self):
        kh = KernelHost()
        lis = []
        try:
            for argv in self.setup:
                if argv == "restore":
                    with open(FIREWALLD, "rb") as f:
                        kh.ipt(["restore"], stdin=f.read())
                else:
                    kh.ipt(argv)
            lis = [kh.listener(a) for a in self.listen]
            time.sleep(0.5)
            saves, times = [save_entries(normalize_save(kh.save()))[0]], []
            for (way, dev, _), d in zip(self.steps, self.data):
                times.append(time.time())
                kh.send(way, dev, d)
                time.sleep(0.02)
                saves.append(save_entries(normalize_save(kh.save()))[0])
            events = [l.stop() for l in lis]
            lis = []
            return {"times": times, "saves": saves, "events": events,
                    "save": normalize_save(kh.save())}
        finally:
            for l in lis:
                l.p.kill()
                l.p.wait()
            kh.close()

    def run_uxt(self, times):
        s = Seed(self.bindir)
        lis = []
        try:
            for argv in self.setup:
                if argv == "restore":
                    with open(FIREWALLD, "rb") as f:
                        rc, out, err = s.u.run("iptables-restore", [], stdin=f.read())
                    if rc:
                        raise AssertionError("iptables-restore: " + err)
                else:
                    s.ipt(" ".join(shlex.quote(a) for a in argv))
            lis = [Listener([os.path.join(s.u.bindir, "conntrack"), "-E"] + a, env=s.u.env)
                   for a in self.listen]
            time.sleep(0.3)
            saves = [save_entries(normalize_save(s.u.run("iptables-save", ["-c"])[1]))[0]]
            results = []
            for (way, dev, args), d, t in zip(self.steps, self.data, times):
                if isinstance(args, bytes):
                    cap = os.path.join(s.dir, "one.pcap")
                    write_sll2(cap, [(t, IFINDEX[dev], d)])
                    rc, out, err = s.u.run("uxt", ["replay", cap, "--host", s.host, "--json"])
                    objs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
                    if rc or not objs:
                        raise AssertionError("uxt replay: rc %d %s %s" % (rc, out, err))
                    results.append(objs[0])
                else:
                    results.append(s.inject("%s %s %s" % ("-i" if way == "in" else "-o", dev, args),
                                            ["--time", "%.6f" % t]))
                saves.append(save_entries(normalize_save(s.u.run("iptables-save", ["-c"])[1]))[0])
            events = [l.stop() for l in lis]
            lis = []
            return {"results": results, "saves": saves, "events": events,
                    "save": normalize_save(s.u.run("iptables-save", ["-c"])[1]),
                    "seed": s}
        except BaseException:
            s.close()
            raise
        finally:
            for l in lis:
                l.p.kill()
                l.p.wait()

    def moved(self, i, side=None):
        sv = (side or self.u)["saves"]
        return moved(sv[i], sv[i + 1])

    def compare(self):
        for i, step in enumerate(self.steps):
            km, um = self.moved(i, self.k), self.moved(i)
            if km != um:
                what = step[2] if isinstance(step[2], str) else "crafted datagram"
                self.problems.append("packet %d (%s %s %s): kernel moved %s; uxtables %s"
                                     % (i + 1, step[0], step[1], what, show_moved(km),
                                        show_moved(um)))
        if self.k["save"] != self.u["save"]:
            import difflib
            self.problems.append("iptables-save -c:\n" + "\n".join(difflib.unified_diff(
                self.k["save"], self.u["save"], "kernel", "uxtables", lineterm="", n=0)))
        for a, (krc, kout, kerr), (urc, uout, uerr) in zip(self.listen, self.k["events"],
                                                          self.u["events"]):
            if not same_lines(kout, uout, True) or not same_lines(kerr, uerr, True):
                self.problems.append("conntrack -E %s:\nkernel:\n%s%suxtables:\n%s%s"
                                     % (" ".join(a), kout, kerr, uout, uerr))

    def close(self):
        if getattr(self, "u", None):
            self.u["seed"].close()


def ct_scenario(res, name, fn, bindir, kernel):
    full = "seed packets " + name
    try:
        problems, compared = fn(bindir, kernel)
    except (AssertionError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        res.fail(full, str(e))
        return
    if kernel and not compared:
        problems = problems + ["no comparison with the kernel was made"]
    res.check(full, not problems, "\n".join(problems))


def tcp_steps(way_c, dev, cl, sv, sport, dport, flags_seq, data=b""):
    """A TCP exchange between cl:sport (the side whose packets go way_c)
    and sv:dport: flags_seq lists (from_client, flags, payload)."""
    back = "out" if way_c == "in" else "in"
    steps = []
    for n, (from_c, flags, payload) in enumerate(flags_seq):
        if from_c:
            args = "-s %s -d %s -p tcp --sport %d --dport %d" % (cl, sv, sport, dport)
            way = way_c
        else:
            args = "-s %s -d %s -p tcp --sport %d --dport %d" % (sv, cl, dport, sport)
            way = back
        args += " --tcp-flags %s --id %d" % (flags, 100 + n)
        if payload:
            args += " --payload %s" % payload
        steps.append((way, dev, args))
    return steps


HANDSHAKE = [(True, "SYN", None), (False, "SYN,ACK", None), (True, "ACK", None)]
CONNECTION = HANDSHAKE + [(True, "PSH,ACK", "12345"), (False, "ACK", None),
                          (True, "FIN,ACK", None), (False, "FIN,ACK", None),
                          (True, "ACK", None)]
PING_OUT_GW = "-s 192.168.0.10 -d 192.168.0.1 -p icmp --icmp-type echo-request --id 7"
PING_REPLY_GW = "-s 192.168.0.1 -d 192.168.0.10 -p icmp --icmp-type echo-reply --id 8"


def counters_of(save, table, chain):
    """[(packets, bytes)] of chain's rules in a save_entries dict."""
    rows = sorted((k[2], v[0]) for k, v in save.items()
                  if k[0] == table and k[1] == chain and k[2] != "policy")
    return [tuple(map(int, c[1:-1].split(":"))) for _, c in rows]


def ct_12_5_redirect(bindir, kernel):
    """REDIRECT 10000 -> 20000: a whole connection to port 10000; the
    server's socket answers from 20000, the wire shows 10000, INPUT sees
    20000, and the nat rule counts the SYN only (`1 60`)."""
    setup = [["-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "10000",
              "-j", "REDIRECT", "--to-port", "20000"],
             ["-A", "INPUT", "-p", "tcp", "--dport", "20000"],
             ["-A", "INPUT", "-p", "tcp", "--dport", "10000"]]
    steps = tcp_steps("in", "eth0", "192.168.0.110", "192.168.0.10", 50000, 10000, CONNECTION)
    # the server's own packets leave its socket from 20000
    steps = [(w, d, a.replace("--sport 10000", "--sport 20000") if w == "out" else a)
             for w, d, a in steps]
    f = CtFlow(bindir, kernel, setup, steps, [["-p", "tcp"]])
    try:
        u = f.run()
        p = f.problems
        s = u["seed"]
        nat = s.counters("PREROUTING", "nat")
        if nat[0][:2] != (1, 60):
            p.append("nat PREROUTING REDIRECT counter: %s" % nat)
        inp = s.counters("INPUT")
        if inp[0][:2] != (5, 273) or inp[1][:2] != (0, 0):
            p.append("INPUT should count the 5 packets to 20000, none to 10000: %s" % inp)
        wire = [o for r in u["results"] for o in r["out"] if o["dev"] == "eth0"]
        ports = [struct.unpack("!H", bytes.fromhex(o["hex"])[20:22])[0] for o in wire]
        if ports != [10000] * 3:
            p.append("the server's segments should leave from 10000: %s"
                     % [o["summary"] for o in wire])
        lst = s.ipt("-t nat -L PREROUTING")
        if "redir ports 20000" not in lst:
            p.append("listing: " + lst)
        return p, f.k is not None
    finally:
        f.close()


ICMP_EV = re.compile(r"^    \[NEW\] icmp     1 30 src=192\.168\.0\.10 dst=192\.168\.0\.1 type=8 "
                     r"code=0 id=1 \[UNREPLIED\] src=192\.168\.0\.1 dst=192\.168\.0\.10 "
                     r"type=0 code=0 id=1\n"
                     r" \[UPDATE\] icmp     1 (29|30) src=192\.168\.0\.10 dst=192\.168\.0\.1 "
                     r"type=8 code=0 id=1 src=192\.168\.0\.1 dst=192\.168\.0\.10 type=0 "
                     r"code=0 id=1\n$")


def ct_12_7_icmp_tracked(bindir, kernel):
    """On firewalld's ruleset, a ping to the gateway and its reply:
    conntrack -E -p icmp shows [NEW] ... [UNREPLIED] then [UPDATE]."""
    f = CtFlow(bindir, kernel, ["restore"],
               [("out", "eth0", PING_OUT_GW), ("in", "eth0", PING_REPLY_GW)],
               [["-p", "icmp"]])
    try:
        u = f.run()
        p = f.problems
        rc, out, err = u["events"][0]
        if not ICMP_EV.match(out):
            p.append("conntrack -E -p icmp:\n%s%s" % (out, err))
        return p, f.k is not None
    finally:
        f.close()


def ct_12_7_icmp_notrack(bindir, kernel):
    """`-t raw -A OUTPUT -p icmp -j NOTRACK` (listed `CT ... NOTRACK`): the
    same ping shows nothing in conntrack -E; the rule counts `1 84`."""
    f = CtFlow(bindir, kernel,
               ["restore", ["-t", "raw", "-A", "OUTPUT", "-p", "icmp", "-j", "NOTRACK"]],
               [("out", "eth0", PING_OUT_GW), ("in", "eth0", PING_REPLY_GW)],
               [["-p", "icmp"], []])
    try:
        u = f.run()
        p = f.problems
        s = u["seed"]
        lst = s.ipt("-t raw -nvL OUTPUT")
        row = [l.split() for l in lst.splitlines() if " CT " in l]
        if not row or row[0][:3] != ["1", "84", "CT"] or row[0][3] not in ("icmp", "1") \
                or row[0][-1] != "NOTRACK":
            p.append("raw OUTPUT: " + lst)
        for rc, out, err in u["events"]:
            if out.strip():
                p.append("events for untracked traffic:\n" + out)
        return p, f.k is not None
    finally:
        f.close()


NOTRACK_UDP = [["-t", "raw", "-I", "OUTPUT", "-p", "udp", "--dport", "53", "-j", "NOTRACK"],
               ["-t", "raw", "-I", "PREROUTING", "-p", "udp", "--sport", "53", "-j", "NOTRACK"],
               ["-I", "OUTPUT", "-p", "udp", "--dport", "53", "-j", "ACCEPT"],
               ["-I", "INPUT", "-p", "udp", "--sport", "53", "-j", "ACCEPT"]]
NOTRACK_TCP = [["-t", "raw", "-I", "OUTPUT", "-p", "tcp", "--dport", "80", "-j", "NOTRACK"],
               ["-t", "raw", "-I", "PREROUTING", "-p", "tcp", "--sport", "80", "-j", "NOTRACK"],
               ["-I", "OUTPUT", "-p", "tcp", "--dport", "80", "-j", "ACCEPT"],
               ["-I", "INPUT", "-p", "tcp", "--sport", "80", "-j", "ACCEPT"]]


def ct_12_7_udp(bindir, kernel):
    """The seed's UDP/53 NOTRACK rules: a DNS query and its answer show
    nothing; an NTP exchange beside it is tracked ([NEW], [UPDATE])."""
    dns, ntp = "133.243.238.164", "133.243.238.243"
    steps = [("out", "eth0", "-s 192.168.0.10 -d %s -p udp --sport 40000 --dport 53 "
              "--length 68 --id 20" % dns),
             ("in", "eth0", "-s %s -d 192.168.0.10 -p udp --sport 53 --dport 40000 "
              "--length 235 --id 21" % dns),
             ("out", "eth0", "-s 192.168.0.10 -d %s -p udp --sport 40123 --dport 123 "
              "--length 76 --id 22" % ntp),
             ("in", "eth0", "-s %s -d 192.168.0.10 -p udp --sport 123 --dport 40123 "
              "--length 76 --id 23" % ntp)]
    f = CtFlow(bindir, kernel, ["restore"] + NOTRACK_UDP, steps, [["-p", "udp"]])
    try:
        u = f.run()
        p = f.problems
        out = u["events"][0][1]
        lines = [l.strip() for l in out.splitlines()]
        if len(lines) != 2 or not lines[0].startswith("[NEW] udp      17 30 src=192.168.0.10 "
                                                      "dst=%s sport=40123 dport=123 [UNREPLIED]"
                                                      % ntp) \
                or not lines[1].startswith("[UPDATE] udp      17 ") or " 53 " in out \
                or "dport=53" in out:
            p.append("conntrack -E -p udp:\n" + out)
        raw = u["seed"].counters("OUTPUT", "raw")
        if raw[0][:2] != (1, 68):
            p.append("raw OUTPUT NOTRACK counter: %s" % raw)
        return p, f.k is not None
    finally:
        f.close()


TCP_EV = re.compile(
    r"^    \[NEW\] tcp      6 120 SYN_SENT src=192\.168\.0\.10 dst=172\.217\.31\.163 sport=46318 "
    r"dport=443 \[UNREPLIED\] src=172\.217\.31\.163 dst=192\.168\.0\.10 sport=443 dport=46318\n"
    r" \[UPDATE\] tcp      6 60 SYN_RECV src=192\.168\.0\.10 dst=172\.217\.31\.163 sport=46318 "
    r"dport=443 src=172\.217\.31\.163 dst=192\.168\.0\.10 sport=443 dport=46318\n"
    r" \[UPDATE\] tcp      6 432000 ESTABLISHED src=192\.168\.0\.10 dst=172\.217\.31\.163 "
    r"sport=46318 dport=443 src=172\.217\.31\.163 dst=192\.168\.0\.10 sport=443 dport=46318 "
    r"\[ASSURED\]\n$")


def ct_12_7_tcp(bindir, kernel):
    """The seed's TCP/80 NOTRACK rules: a handshake with port 80 shows
    nothing; one with 443 shows SYN_SENT, SYN_RECV, ESTABLISHED [ASSURED]."""
    steps = tcp_steps("out", "eth0", "192.168.0.10", "93.184.216.34", 46300, 80, HANDSHAKE) + \
        tcp_steps("out", "eth0", "192.168.0.10", "172.217.31.163", 46318, 443, HANDSHAKE)
    f = CtFlow(bindir, kernel, ["restore"] + NOTRACK_TCP, steps, [["-p", "tcp"]])
    try:
        u = f.run()
        p = f.problems
        out = u["events"][0][1]
        if not TCP_EV.match(out):
            p.append("conntrack -E -p tcp:\n" + out)
        raw = u["seed"].counters("OUTPUT", "raw")
        if raw[0][:2] != (2, 112):
            p.append("raw OUTPUT NOTRACK counter (SYN and ACK to port 80): %s" % raw)
        return p, f.k is not None
    finally:
        f.close()


def tcp_segment(src, dst, sport, dport, seq, ack, flags, ident):
    """A TCP segment inject cannot make (its sequence numbers are fixed)."""
    t = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 501, 0, 0)
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(t))
    t = t[:16] + struct.pack("!H", ip_csum(ph + t)) + t[18:]
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(t), ident, 0x4000, 64, 6, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", ip_csum(h)) + h[12:] + t


def ip_csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ct_firewalld_states(bindir, kernel):
    """firewalld's `ctstate RELATED,ESTABLISHED` (filter INPUT rule 1) and
    `ctstate INVALID` (rule 6) on enp0s3: a ping out and its reply, an ssh
    handshake in, an ICMP error about a UDP datagram sent, a FIN without ACK
    and a segment far outside the window; per packet the rule that moved."""
    me, peer = "192.168.3.20", "192.168.3.4"
    ssh = tcp_steps("in", "enp0s3", peer, me, 50022, 22,
                    HANDSHAKE + [(True, "PSH,ACK", "SSH-2.0-x")])
    steps = [("out", "enp0s3", "-s %s -d %s -p icmp --icmp-type echo-request --id 30" % (me, peer)),
             ("in", "enp0s3", "-s %s -d %s -p icmp --icmp-type echo-reply --id 31" % (peer, me))] + \
        ssh + \
        [("out", "enp0s3", "-s %s -d %s -p udp --sport 40000 --dport 33434 --id 1" % (me, peer)),
         ("in", "enp0s3", "-s %s -d %s -p icmp --icmp-type port-unreachable --id 32" % (peer, me)),
         ("in", "enp0s3", "-s %s -d %s -p tcp --sport 50022 --dport 22 --tcp-flags FIN --id 33"
          % (peer, me)),
         ("in", "enp0s3", tcp_segment(peer, me, 50022, 22, 0x40000000, 1, 0x10, 34))]
    # which filter INPUT rule each received packet must move (0: none)
    want = {1: 1, 2: 0, 4: 1, 5: 1, 7: 1, 8: 6, 9: 6}
    f = CtFlow(bindir, kernel, ["restore"], steps, [[]])
    try:
        f.run()
        p = f.problems
        for i, rule in want.items():
            m = f.moved(i)
            # rules 3-5 are jumps that come back: the deciding rule is the
            # last one that moved
            inp = sorted(k[2] for k in m if k[:2] == ("filter", "INPUT") and k[2] != "policy")
            if rule and inp[-1:] != [rule] or rule == 6 and 1 in inp or \
                    not rule and (1 in inp or 6 in inp):
                p.append("packet %d should move filter INPUT rule %s: %s"
                         % (i + 1, rule or "1/6 neither", show_moved(m)))
        m = f.moved(2)
        if ("filter", "IN_public_allow", 1) not in m:
            p.append("the ssh SYN should be accepted by IN_public_allow: %s" % show_moved(m))
        return p, f.k is not None
    finally:
        f.close()


CT_SCENARIOS = [
    ("§12.5 REDIRECT 10000 -> 20000, nat counter 1 60", ct_12_5_redirect),
    ("§12.7 conntrack -E of a tracked ping", ct_12_7_icmp_tracked),
    ("§12.7 NOTRACK of ICMP, no events", ct_12_7_icmp_notrack),
    ("§12.7 NOTRACK of UDP/53, NTP tracked", ct_12_7_udp),
    ("§12.7 NOTRACK of TCP/80, 443 tracked", ct_12_7_tcp),
    ("firewalld ctstate RELATED,ESTABLISHED and INVALID", ct_firewalld_states),
]


def run_ct(res, opts):
    why = have_root_netns()
    if not why and not (shutil.which("conntrack") and shutil.which("nft")):
        why = "conntrack(8) or nft missing"
    if why:
        res.skip("seed packets: kernel comparison of the conntrack rows", why)
    for name, fn in CT_SCENARIOS:
        ct_scenario(res, name, fn, opts["bindir"], not why)


def run(res, opts):
    for name, fn in SCENARIOS:
        scenario(res, name, fn, opts["bindir"])
    run_ct(res, opts)
