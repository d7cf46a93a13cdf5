# SPDX-License-Identifier: BSD-2-Clause
"""classify_units: the proof of architecture decision 8 -- with the
classifier forced on and forced off, every verdict, counter, log line and
hotdrop is the same, packet by packet (docs/classifier.md).

Each scenario is a ruleset, restored with uxt iptables-restore into a
private state directory, and a list of packets, each given to a hook with
its devices.  tests/unit/cls_run.c (linked with libuxt.a) loads the ruleset
into two namespaces, UXT_CLS_ON and UXT_CLS_OFF, runs every packet through
both and compares what they report: rules whose counters moved (with
TRACE's label), each table's verdict and deciding rule (a hotdrop is a DROP
at the rule whose match asked for it), LOG/TRACE lines, NFLOG messages,
packets the engine sent (REJECT), drops, the hook's verdict, the packet and
its mark afterwards; and at the end every counter of every table.

Scenarios:
- ClassBench rulesets (../shared/classbench, read at run time): every seed
  at 1k and acl1/fw1/ipc1 at 10k, converted as bench/run.py converts them,
  in FORWARD, with their trace's headers (a sample at 10k), some of them
  as fragments or with truncated transport headers;
- ClassBench mixed: the same rules in a user chain entered twice per walk,
  with LOG, limit, mark, interfaces and inverted addresses woven in;
- generated rulesets (seeded): inversions of every header field,
  interface wildcards, -f and ! -f, non-prefix masks, user chains with
  -j, -g and RETURN, tcp/udp matches first or after limit/mark/comment/
  multiport, inverted ports, LOG/NFLOG/MARK/TRACE/REJECT/TCPMSS targets, in
  raw, mangle and filter; packets at every hook: TCP with options, with bad
  data offsets, truncated at every length, UDP truncated, fragments at
  offset 0, 1 and beyond, IP options, ICMP, other protocols; a resync in
  the middle (classifiers built afresh from the synced ruleset).

The kernel_diff suite can run the whole packet path with the classifier
on against the kernel:  UXT_CLASSIFIER=on python3 tests/run.py --suite kernel_diff
"""

import os
import random
import shutil
import subprocess
import tempfile

from common import SHARED
from match_units import build_unit, icmp, ipv4, tcp, udp

CLASSBENCH = os.path.join(SHARED, "classbench", "rules")

HOOK_PRE, HOOK_IN, HOOK_FWD, HOOK_OUT, HOOK_POST = range(5)


# ----------------------------------------------------------------- driver

def restore(bindir, state, text):
    env = dict(os.environ, UXT_STATE=state, LC_ALL="C")
    p = subprocess.run([os.path.join(bindir, "iptables-restore")], input=text.encode(),
                       capture_output=True, env=env, timeout=600)
    if p.returncode:
        return p.stderr.decode("utf-8", "replace")
    return None


def drive(prog, state, cmds):
    """Runs cls_run; returns (summary dict or None, output)."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:exitcode=99")
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1:exitcode=99")
    p = subprocess.run([prog, state], input=("\n".join(cmds) + "\n").encode(),
                       capture_output=True, env=env, timeout=3600)
    out = p.stdout.decode("utf-8", "replace")
    summary = None
    for line in out.splitlines():
        if line.startswith("SUMMARY "):
            w = line.split()[1:]
            summary = {w[i]: w[i + 1] for i in range(0, len(w) - 1, 2)}
    if p.returncode not in (0, 1) or summary is None:
        out += "\nexit %d\n%s" % (p.returncode, p.stderr.decode("utf-8", "replace")[-3000:])
        summary = None
    return summary, out


def packet_cmd(hook, indev, outdev, data, mark=0, t=1000000000):
    return "P %d %s %s %d %d %s" % (hook, indev or "-", outdev or "-", mark, t, data.hex())


class Scenario:
    def __init__(self, name, text, cmds, want=()):
        self.name = name
        self.text = text
        self.cmds = cmds
        # summary fields that must be positive (coverage of the scenario)
        self.want = want


def check(res, prog, workdir, sc):
    state = tempfile.mkdtemp(prefix="state-", dir=workdir)
    try:
        err = restore(sc.bindir, state, sc.text)
        if err:
            res.fail("classify_units %s: iptables-restore" % sc.name, err[-2000:])
            return
        summary, out = drive(prog, state, sc.cmds)
        name = "classify_units %s" % sc.name
        if summary is None:
            res.fail(name, out[-4000:])
            return
        ok = summary["differ"] == "0" and summary["counters"] == "same"
        detail = ""
        if not ok:
            detail = out[:6000]
        elif "ERROR" in out:
            ok, detail = False, out[-2000:]
        elif int(summary["chains"]) == 0:
            ok, detail = False, "the classifier was never built\n" + out[-500:]
        else:
            for field in sc.want:
                if int(summary[field]) == 0:
                    ok, detail = False, "the scenario exercised no %s" % field
        if ok:
            print("classify_units %s: %s packets, %s events (%s rule hits, %s hotdrops,"
                  " %s log lines) identical; %s classifiers, %s trees, %s bytes"
                  % (sc.name, summary["packets"], summary["events"], summary["rules"],
                     summary["hotdrops"], summary["logs"], summary["chains"],
                     summary["trees"], summary["bytes"]))
        res.check(name, ok, detail)
    finally:
        shutil.rmtree(state, ignore_errors=True)


# -------------------------------------------------------------- ClassBench

def classbench_lines(name):
    path = os.path.join(CLASSBENCH, name + ".xz")
    return subprocess.run(["xz", "-dc", path], check=True,
                          capture_output=True).stdout.decode().splitlines()


def ip2int(s):
    a, b, c, d = (int(x) for x in s.split("."))
    return a << 24 | b << 16 | c << 8 | d


def int2ip(v):
    return "%d.%d.%d.%d" % (v >> 24, v >> 16 & 255, v >> 8 & 255, v & 255)


def cb_rules(name):
    rules = []
    for line in classbench_lines(name):
        f = line.lstrip("@").split()
        if len(f) < 9:
            continue
        s, sl = f[0].split("/")
        d, dl = f[1].split("/")
        proto, pmask = (int(x, 16) for x in f[8].split("/"))
        rules.append((ip2int(s), int(sl), ip2int(d), int(dl), int(f[2]), int(f[4]),
                      int(f[5]), int(f[7]), proto if pmask else None))
    return rules


def cb_trace(name):
    out = []
    for line in classbench_lines(name + "_trace"):
        f = line.split()
        if len(f) >= 7:
            out.append((int(f[0]), int(f[1]), int(f[2]), int(f[3]), int(f[4])))
    return out


def cb_rule(r, i, chain, extra=""):
    """bench/run.py's conversion: prefixes, protocol, tcp/udp ports; every
    third rule DROP, the others ACCEPT."""
    src, sl, dst, dl, slo, shi, dlo, dhi, proto = r
    smask = (0xFFFFFFFF << (32 - sl)) & 0xFFFFFFFF if sl else 0
    dmask = (0xFFFFFFFF << (32 - dl)) & 0xFFFFFFFF if dl else 0
    line = "-A %s -s %s/%d -d %s/%d" % (chain, int2ip(src & smask), sl,
                                        int2ip(dst & dmask), dl)
    if proto in (6, 17):
        pname = "tcp" if proto == 6 else "udp"
        line += " -p %s -m %s" % (pname, pname)
        if (slo, shi) != (0, 65535):
            line += " --sport %d:%d" % (slo, shi) if slo != shi else " --sport %d" % slo
        if (dlo, dhi) != (0, 65535):
            line += " --dport %d:%d" % (dlo, dhi) if dlo != dhi else " --dport %d" % dlo
    elif proto is not None:
        line += " -p %d" % proto
    return line + extra


def cb_datagram(h, rng, damage):
    """A datagram of trace header h: TCP with ACK, UDP, or 20 zero bytes;
    when damage, a fragment or a truncated transport header instead."""
    src, dst, sport, dport, proto = h
    proto &= 0xFF
    if proto == 6:
        l4 = tcp(sport, dport, 0x10)
    elif proto == 17:
        l4 = udp(sport, dport, b"\0" * 12)
    else:
        l4 = bytes(20)
    kw = {}
    if damage:
        kind = rng.randrange(5)
        if kind == 0:
            l4 = l4[:rng.choice((0, 3, 7, 12, 19))]
        elif kind == 1:
            kw = {"frag": 1, "mf": True}
        elif kind == 2:
            kw = {"frag": rng.choice((2, 3, 185)), "mf": rng.random() < 0.5}
        elif kind == 3:
            kw = {"mf": True}                       # first fragment, whole header
            l4 = l4[:rng.choice((4, 8, 20))]
        else:
            kw = {"options": b"\x01" * 4 * rng.randrange(1, 11)}
    return ipv4(proto, l4, src=int2ip(src), dst=int2ip(dst), **kw)


def scenario_classbench(bindir, name, npk, rng):
    rules = cb_rules(name)
    trace = cb_trace(name)
    if len(trace) > npk:
        trace = rng.sample(trace, npk)
    lines = [cb_rule(r, i, "FORWARD", " -j DROP" if i % 3 == 0 else " -j ACCEPT")
             for i, r in enumerate(rules)]
    text = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            + "\n".join(lines) + "\nCOMMIT\n")
    cmds = []
    for i, h in enumerate(trace):
        d = cb_datagram(h, rng, rng.random() < 0.05)
        cmds.append(packet_cmd(HOOK_FWD, "eth0", "eth1", d, t=1000000000 + i * 1000))
    sc = Scenario("classbench %s (%d rules, %d packets)" % (name, len(rules), len(cmds)),
                  text, cmds, want=("rules",))
    sc.bindir = bindir
    return sc


def scenario_classbench_mixed(bindir, name, npk, rng):
    """The rules in a user chain BIG, entered twice per walk, with
    non-terminating targets, extra matches, interfaces and inversions."""
    rules = cb_rules(name)
    trace = cb_trace(name)
    if len(trace) > npk:
        trace = rng.sample(trace, npk)
    lines = []
    for i, r in enumerate(rules):
        x = rng.random()
        if x < 0.08:
            extra = " -j LOG --log-prefix \"cb%d \"" % i
        elif x < 0.12:
            extra = " -m limit --limit 50/sec --limit-burst 3 -j RETURN"
        elif x < 0.16:
            extra = " -m mark --mark 0x%x/0x3 -j ACCEPT" % rng.randrange(4)
        elif x < 0.20:
            extra = " -m comment --comment c%d -j RETURN" % i
        elif x < 0.45:
            extra = " -j RETURN"
        else:
            extra = " -j ACCEPT" if i % 2 else " -j DROP"
        line = cb_rule(r, i, "BIG", extra)
        y = rng.random()
        if y < 0.05:
            line = line.replace("-A BIG", "-A BIG -i eth%d" % rng.randrange(3))
        elif y < 0.08:
            line = line.replace("-A BIG", "-A BIG ! -o eth+")
        elif y < 0.11:
            line = line.replace(" -s ", " ! -s ", 1)
        elif y < 0.13:
            line = line.replace(" -d ", " ! -d ", 1)
        lines.append(line)
    text = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":BIG - [0:0]\n:SIDE - [0:0]\n"
            "-A FORWARD -j BIG\n"
            "-A FORWARD -m mark --mark 0x1/0x1 -j SIDE\n"
            "-A FORWARD -p tcp -j BIG\n"
            "-A FORWARD -g BIG\n"
            "-A SIDE -j LOG --log-prefix \"side \"\n"
            "-A SIDE -p udp -j BIG\n"
            + "\n".join("" + l for l in lines) + "\nCOMMIT\n")
    cmds = []
    for i, h in enumerate(trace):
        d = cb_datagram(h, rng, rng.random() < 0.08)
        dev_in = "eth%d" % rng.randrange(3)
        dev_out = rng.choice(("eth1", "ppp0", "eth2"))
        cmds.append(packet_cmd(HOOK_FWD, dev_in, dev_out, d, mark=rng.randrange(4),
                               t=1000000000 + i * 3000000))
        if i == len(trace) // 2:
            cmds.append("S")
    sc = Scenario("classbench mixed %s (%d rules, %d packets)" % (name, len(rules),
                                                                   len(trace)),
                  text, cmds, want=("rules", "logs"))
    sc.bindir = bindir
    return sc


# -------------------------------------------------------------- generated

NETS = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "10.2.0.0/16",
        "10.2.5.0/24", "192.168.0.0/16", "192.168.1.0/24", "192.168.1.7",
        "172.16.0.0/12", "0.0.0.0/0", "10.0.0.0/255.0.255.0", "10.1.0.0/255.255.0.255",
        "0.0.0.0/128.0.0.0", "10.1.2.0/25", "10.1.2.128/25"]
HOSTS = ["10.1.2.3", "10.1.2.200", "10.1.9.9", "10.2.5.1", "10.2.6.1", "10.9.1.2",
         "192.168.1.7", "192.168.1.8", "192.168.2.1", "172.16.4.4", "172.31.255.1",
         "8.8.8.8", "200.1.1.1", "10.0.2.0", "10.9.0.255"]
IFACES = ["eth0", "eth1", "eth+", "e+", "veth0", "ppp+", "lo"]
PKT_IFACES = ["eth0", "eth1", "eth10", "veth0", "ppp0", "lo", "wlan0"]
PORTS = ["22", "80", "443", "53", "1000:2000", "0:1023", "1024:", ":100", "8080",
         "0", "65535", "100:50"]
PKT_PORTS = [22, 80, 443, 53, 1000, 1500, 2000, 2001, 1023, 1024, 8080, 0, 65535, 99,
             100, 60]
# which devices a base chain's rules may name (iptables refuses the others)
CHAIN_DEVS = {"PREROUTING": "i", "INPUT": "i", "FORWARD": "io", "OUTPUT": "o",
              "POSTROUTING": "o"}
CHAIN_HOOK = {"PREROUTING": HOOK_PRE, "INPUT": HOOK_IN, "FORWARD": HOOK_FWD,
              "OUTPUT": HOOK_OUT, "POSTROUTING": HOOK_POST}
TABLE_CHAINS = {"raw": ["PREROUTING", "OUTPUT"],
                "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
                "filter": ["INPUT", "FORWARD", "OUTPUT"]}


def maybe_not(rng, p=0.25):
    return "! " if rng.random() < p else ""


def gen_ports(rng, proto):
    out = ""
    for opt in ("--sport", "--dport"):
        if rng.random() < 0.6:
            port = rng.choice(PORTS)
            if proto == "tcp" and port == "100:50":
                port = "50:100"        # libxt_tcp refuses min > max
            out += " %s%s %s" % (maybe_not(rng, 0.2), opt, port)
    return out


def gen_proto_match(rng, proto):
    if proto == "tcp":
        m = " -m tcp" + gen_ports(rng, proto)
        r = rng.random()
        if r < 0.2:
            m += " %s--syn" % maybe_not(rng, 0.3)
        elif r < 0.35:
            m += " %s--tcp-flags SYN,ACK,FIN %s" % (maybe_not(rng, 0.3),
                                                    rng.choice(("SYN", "ACK", "NONE")))
        elif r < 0.45:
            m += " %s--tcp-option %d" % (maybe_not(rng, 0.3), rng.choice((2, 8, 4)))
        return m
    if proto == "udp":
        return " -m udp" + gen_ports(rng, proto)
    if proto == "icmp":
        return " -m icmp %s--icmp-type %s" % (maybe_not(rng, 0.2),
                                               rng.choice(("8", "0", "3/1", "any")))
    return ""


def gen_other_match(rng, proto):
    r = rng.random()
    if r < 0.25:
        return " -m limit --limit %d/sec --limit-burst %d" % (rng.choice((1, 10, 100)),
                                                             rng.randrange(1, 5))
    if r < 0.5:
        return " -m mark %s--mark 0x%x/0x%x" % (maybe_not(rng, 0.3), rng.randrange(4), 3)
    if r < 0.65:
        return " -m comment --comment \"c%d\"" % rng.randrange(100)
    if r < 0.8 and proto in ("tcp", "udp"):
        return " -m multiport %s--dports 22,80,1000:2000" % maybe_not(rng, 0.2)
    return " -m iprange %s--src-range 10.1.2.0-10.1.2.100" % maybe_not(rng, 0.2)


def gen_rule(rng, table, chain, base, users, idx):
    parts = []
    devs = CHAIN_DEVS.get(base, "io")
    if rng.random() < 0.5:
        parts.append("%s-s %s" % (maybe_not(rng), rng.choice(NETS)))
    if rng.random() < 0.5:
        parts.append("%s-d %s" % (maybe_not(rng), rng.choice(NETS)))
    r = rng.random()
    proto = None
    if r < 0.35:
        proto = "tcp"
    elif r < 0.6:
        proto = "udp"
    elif r < 0.7:
        proto = "icmp"
    elif r < 0.75:
        parts.append("-p 47")
    elif r < 0.85:
        parts.append("! -p %s" % rng.choice(("tcp", "udp", "icmp")))
    if proto:
        parts.append("-p " + proto)
    if "i" in devs and rng.random() < 0.25:
        parts.append("%s-i %s" % (maybe_not(rng, 0.3), rng.choice(IFACES)))
    if "o" in devs and rng.random() < 0.25:
        parts.append("%s-o %s" % (maybe_not(rng, 0.3), rng.choice(IFACES)))
    if rng.random() < 0.12:
        parts.append("%s-f" % maybe_not(rng, 0.5))
    # matches: the protocol's first, or after others, or none
    matches = []
    if proto and rng.random() < 0.8:
        matches.append(gen_proto_match(rng, proto))
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        matches.insert(rng.randrange(len(matches) + 1), gen_other_match(rng, proto))
    parts += [m.strip() for m in matches]
    # the target
    r = rng.random()
    later = [u for u in users if u > chain] if chain in users else users
    if r < 0.15 and later:
        tgt = "-%s %s" % (rng.choice("jjg"), rng.choice(later))
    elif r < 0.25:
        tgt = "-j LOG --log-prefix \"%s%d \"" % (chain[:4], idx)
    elif r < 0.28:
        tgt = "-j NFLOG --nflog-group %d --nflog-prefix n%d" % (rng.randrange(1, 4), idx)
    elif r < 0.35 and table == "mangle":
        tgt = "-j MARK --set-xmark 0x%x/0x3" % rng.randrange(4)
    elif r < 0.38 and table == "raw":
        tgt = "-j TRACE"
    elif r < 0.42 and table == "filter" and proto == "tcp" and "--syn" not in " ".join(parts):
        tgt = "-j REJECT --reject-with tcp-reset"
    elif r < 0.45 and table == "filter":
        tgt = "-j REJECT --reject-with icmp-%s-unreachable" % rng.choice(("port", "host"))
    elif r < 0.48 and table == "mangle" and proto == "tcp" and not matches:
        parts.append("-m tcp --tcp-flags SYN,RST SYN")
        tgt = "-j TCPMSS --set-mss %d" % rng.choice((500, 1200))
    elif r < 0.55:
        tgt = "-j RETURN"
    elif r < 0.62:
        tgt = ""
    elif r < 0.66:
        tgt = "-j DROP"
    else:
        tgt = "-j ACCEPT"
    return ("-A %s %s %s" % (chain, " ".join(parts), tgt)).rstrip()


def gen_ruleset(rng, size):
    out = []
    for table in ("raw", "mangle", "filter"):
        out.append("*" + table)
        bases = TABLE_CHAINS[table]
        users = ["U%d" % i for i in range(4)] if table != "raw" else []
        for b in bases:
            out.append(":%s %s [0:0]" % (b, rng.choice(("ACCEPT", "ACCEPT", "DROP"))))
        for u in users:
            out.append(":%s - [0:0]" % u)
        # a user chain's rules may not name devices a chain that reaches
        # it cannot have; the filter's user chains are reached from
        # FORWARD only, mangle's from PREROUTING only
        home = "FORWARD" if table == "filter" else "PREROUTING"
        for b in bases:
            n = size if rng.random() < 0.5 else rng.randrange(3, 40)
            if table == "raw":
                n = min(n, 40)
            for i in range(n):
                line = gen_rule(rng, table, b, b, users if b == home else [], i)
                out.append(line)
        for u in users:
            for i in range(rng.randrange(2, size)):
                out.append(gen_rule(rng, table, u, home, users, i))
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def gen_packet(rng):
    proto = rng.choice((6, 6, 6, 17, 17, 1, 47, 50))
    sport, dport = rng.choice(PKT_PORTS), rng.choice(PKT_PORTS)
    kw = {"src": rng.choice(HOSTS), "dst": rng.choice(HOSTS)}
    if proto == 6:
        r = rng.random()
        if r < 0.1:
            l4 = tcp(sport, dport, rng.randrange(256), doff=rng.choice((0, 2, 4)))
        elif r < 0.2:
            l4 = tcp(sport, dport, 0x02, doff=rng.choice((6, 8, 15)))
        elif r < 0.3:
            l4 = tcp(sport, dport, 0x02, opts=bytes.fromhex("020405b40402080a"))
        else:
            l4 = tcp(sport, dport, rng.choice((0x02, 0x12, 0x10, 0x11, 0x04, 0x3f)))
        if rng.random() < 0.12:
            l4 = l4[:rng.randrange(len(l4))]
    elif proto == 17:
        l4 = udp(sport, dport, b"q" * rng.randrange(12))
        if rng.random() < 0.12:
            l4 = l4[:rng.randrange(8)]
    elif proto == 1:
        l4 = icmp(rng.choice((8, 0, 3, 11)), rng.choice((0, 1, 3)), payload=b"p" * 8)
    else:
        l4 = bytes(rng.randrange(24))
    r = rng.random()
    if r < 0.08:
        kw.update(frag=1, mf=rng.random() < 0.7)
    elif r < 0.16:
        kw.update(frag=rng.choice((2, 3, 100, 8191)), mf=rng.random() < 0.5)
    elif r < 0.22:
        kw.update(mf=True)
    elif r < 0.28:
        kw.update(options=b"\x01" * 4 * rng.randrange(1, 11))
    return ipv4(proto, l4, **kw)


def scenario_generated(bindir, seed, size, npk):
    rng = random.Random(seed)
    text = gen_ruleset(rng, size)
    cmds = []
    t = 1000000000
    for i in range(npk):
        hook = rng.randrange(5)
        indev = rng.choice(PKT_IFACES) if hook in (HOOK_PRE, HOOK_IN, HOOK_FWD) else None
        outdev = rng.choice(PKT_IFACES) if hook in (HOOK_FWD, HOOK_OUT, HOOK_POST) else None
        t += rng.choice((1000, 1000000, 50000000))
        cmds.append(packet_cmd(hook, indev, outdev, gen_packet(rng), mark=rng.randrange(4),
                               t=t))
        if i == npk // 2:
            cmds.append("S")
    sc = Scenario("generated seed %d (chains of up to %d rules, %d packets)"
                  % (seed, size, npk), text, cmds, want=("rules", "hotdrops", "logs"))
    sc.bindir = bindir
    return sc


# ------------------------------------------------------------------- run

def scenarios(bindir):
    rng = random.Random(20261125)
    for seed in range(1, 9):
        yield scenario_generated(bindir, seed, rng.choice((40, 120, 300)), 2500)
    seeds = sorted(n[:-3] for n in os.listdir(CLASSBENCH)
                   if n.endswith("_1k.xz"))
    for name in seeds:
        yield scenario_classbench(bindir, name, 3000, rng)
    for name in ("acl1_10k", "fw1_10k", "ipc1_10k"):
        if os.path.exists(os.path.join(CLASSBENCH, name + ".xz")):
            yield scenario_classbench(bindir, name, 1500, rng)
    for name in ("acl1_1k", "fw1_1k", "ipc1_1k"):
        yield scenario_classbench_mixed(bindir, name, 2000, rng)
    yield scenario_classbench_mixed(bindir, "fw1_10k", 800, rng)


def run(res, opts):
    if not os.path.isdir(CLASSBENCH):
        res.skip("classify_units", "no ClassBench files in %s" % CLASSBENCH)
        return
    workdir = tempfile.mkdtemp(prefix="uxt-cls-")
    try:
        prog, why = build_unit(opts["bindir"], workdir, "cls_run")
        if not prog:
            res.fail("classify_units: build tests/unit/cls_run.c", why)
            return
        for sc in scenarios(os.path.abspath(opts["bindir"])):
            check(res, prog, workdir, sc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    import argparse
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import Results
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build-asan/bin")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    r = Results(a.verbose)
    run(r, {"bindir": a.bin})
    print("%d passed, %d failed" % (r.passed, r.failed))
    sys.exit(1 if r.failed else 0)
