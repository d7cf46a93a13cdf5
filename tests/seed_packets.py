# SPDX-License-Identifier: BSD-2-Clause
"""The seed's sections 9-13 that need no connection tracking, offline.

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
import subprocess
import tempfile

from common import Uxt

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


def run(res, opts):
    for name, fn in SCENARIOS:
        scenario(res, name, fn, opts["bindir"])
