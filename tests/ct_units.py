# SPDX-License-Identifier: BSD-2-Clause
"""Connection tracking against the kernel.

Every case runs twice: on the kernel, in the test bed of
tests/packet_units.py (client -- dut -- server namespaces, two veth links),
with the case's rules loaded by iptables-legacy-restore in dut and its
datagrams sent as Ethernet frames from the client or the server (or by a
raw socket in dut, for locally generated ones); and through uxtables, with
tests/unit/ct_run.c, a libuxt namespace with the same host, driven with the
kernel's send times, saving and reloading its conntrack table after every
packet (the state file's round trip).

The ruleset of every case counts, in every chain of raw, mangle, filter
(and nat), the packets of each conntrack state (NEW, ESTABLISHED, RELATED,
INVALID, UNTRACKED), of each direction, with SEEN_REPLY and ASSURED, the
state match and a --ctexpire range; a case adds rules of its own first.

Compared, per packet: which rules' counters moved (iptables-legacy-save -c
before and after) and the datagrams that left dut on each link; per case:
the conntrack -E events (NEW and UPDATE in order, DESTROY as a set, the
timeouts within a second), and the table (conntrack -L) at the end, with
nf_conntrack_acct on (counters per direction).

    dut eth0 10.77.1.1/24 -- client 10.77.1.2
    dut eth1 10.77.2.1/24 -- server 10.77.2.2

Namespaces, the conntrack -E process and the sockets are removed at the
end, also on failure.  UXT_CT_CASES=a,b runs the cases whose names contain
a or b.
"""

import ctypes
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time

from common import ROOT, Uxt, have_root_netns
from log_units import Kmsg
from packet_units import (Bed, MSS1460, csum, describe, fragments, icmp, ip,
                          normalize, tcp, udp)

C, R, RS, S = "10.77.1.2", "10.77.1.1", "10.77.2.1", "10.77.2.2"
STATES = ("NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED")
CHAINS = (("raw", "PREROUTING"), ("raw", "OUTPUT"), ("mangle", "PREROUTING"),
          ("mangle", "INPUT"), ("mangle", "FORWARD"), ("mangle", "OUTPUT"),
          ("mangle", "POSTROUTING"), ("filter", "INPUT"), ("filter", "FORWARD"),
          ("filter", "OUTPUT"))
NAT_CHAINS = ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")
# the kernel's defaults that cases change, restored before each case
SYSCTLS = {"nf_conntrack_acct": 1, "nf_conntrack_checksum": 1,
           "nf_conntrack_tcp_loose": 1, "nf_conntrack_tcp_be_liberal": 0,
           "nf_conntrack_tcp_ignore_invalid_rst": 0,
           "nf_conntrack_tcp_max_retrans": 3,
           "nf_conntrack_udp_timeout": 30, "nf_conntrack_udp_timeout_stream": 120,
           "nf_conntrack_icmp_timeout": 30, "nf_conntrack_generic_timeout": 600,
           "nf_conntrack_tcp_timeout_close": 10,
           "nf_conntrack_tcp_timeout_time_wait": 120,
           "nf_conntrack_tcp_timeout_syn_sent": 120,
           "nf_conntrack_tcp_timeout_syn_recv": 60,
           "nf_conntrack_tcp_timeout_established": 432000,
           "nf_conntrack_tcp_timeout_fin_wait": 120,
           "nf_conntrack_tcp_timeout_close_wait": 60,
           "nf_conntrack_tcp_timeout_last_ack": 30,
           "nf_conntrack_tcp_timeout_max_retrans": 300,
           "nf_conntrack_tcp_timeout_unacknowledged": 300,
           "nf_conntrack_gre_timeout": 30, "nf_conntrack_gre_timeout_stream": 180,
           "nf_conntrack_log_invalid": 0, "nf_conntrack_timestamp": 0,
           "nf_conntrack_events": 2}
CLONE_NEWNET = 0x40000000


def base_rules():
    out = []
    for table, chain in CHAINS:
        pre = "-t %s -A %s " % (table, chain)
        out += [pre + "-m conntrack --ctstate " + st for st in STATES]
        out += [pre + "-m conntrack --ctdir ORIGINAL",
                pre + "-m conntrack --ctdir REPLY",
                pre + "-m conntrack --ctstatus SEEN_REPLY",
                pre + "-m conntrack --ctstatus ASSURED",
                pre + "-m state --state ESTABLISHED,RELATED",
                pre + "-m conntrack --ctexpire 100:1000"]
    for chain in NAT_CHAINS:
        out += ["-t nat -A %s -m conntrack --ctstate NEW" % chain,
                "-t nat -A %s -m conntrack --ctstate RELATED" % chain]
    return out


def restore_text(rules):
    """The rules (iptables command arguments) as one iptables-restore
    input replacing raw, mangle, nat and filter."""
    tables = {t: [] for t in ("raw", "mangle", "nat", "filter")}
    chains = {t: set() for t in tables}
    for r in rules:
        w = r.split()
        t = "filter"
        if w[0] == "-t":
            t, w = w[1], w[2:]
        if w[0] == "-N":
            chains[t].add(w[1])
            continue
        tables[t].append(" ".join(w))
    builtin = {"raw": ("PREROUTING", "OUTPUT"),
               "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
               "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
               "filter": ("INPUT", "FORWARD", "OUTPUT")}
    text = []
    for t, rl in tables.items():
        text.append("*" + t)
        text += [":%s ACCEPT [0:0]" % c for c in builtin[t]]
        text += [":%s - [0:0]" % c for c in sorted(chains[t])]
        text += rl
        text.append("COMMIT")
    return "\n".join(text) + "\n"


# Canonical entries and events (see tests/unit/ct_run.c)

def canon_kernel(line):
    """(kind or None, canonical text, timeout or None) of a conntrack -L
    or -E line, or None for other lines."""
    w = line.split()
    kind = None
    if w and w[0] in ("[NEW]", "[UPDATE]", "[DESTROY]"):
        kind, w = w[0][1:-1], w[1:]
    if len(w) < 3:
        return None
    if w[0] == "ipv4":
        w = w[2:]
    try:
        proto = int(w[1])
    except ValueError:
        return None
    w = w[2:]
    t = None
    if w and w[0].isdigit():
        t, w = int(w[0]), w[1:]
    state = None
    if w and "=" not in w[0] and not w[0].startswith("["):
        state, w = w[0], w[1:]
    dirs = [{}, {}]
    d = -1
    flags = set()
    extra = {}
    for tok in w:
        if tok.startswith("["):
            flags.add(tok.strip("[]"))
            continue
        if "=" not in tok:
            continue
        k, v = tok.split("=", 1)
        if k == "src":
            d += 1
        if k in ("src", "dst", "sport", "dport", "type", "code", "id",
                 "packets", "bytes") and 0 <= d < 2:
            dirs[d][k] = v
        elif k in ("mark", "zone", "zone-orig", "zone-reply"):
            extra[k] = v
    if d < 1:
        return None

    def tup(x):
        s = "%s,%s" % (x.get("src"), x.get("dst"))
        if "sport" in x:
            s += ",p:%s,p:%s" % (x["sport"], x["dport"])
        elif "type" in x:
            s += ",type:%s,code:%s,id:%s" % (x["type"], x["code"], x["id"])
        return s

    parts = ["proto=%d" % proto]
    if state:
        parts.append("state=" + state)
    parts.append("o=" + tup(dirs[0]))
    if "packets" in dirs[0]:
        parts.append("oc=%s,%s" % (dirs[0]["packets"], dirs[0]["bytes"]))
    if "UNREPLIED" in flags:
        parts.append("unreplied")
    parts.append("r=" + tup(dirs[1]))
    if "packets" in dirs[1]:
        parts.append("rc=%s,%s" % (dirs[1]["packets"], dirs[1]["bytes"]))
    if "ASSURED" in flags:
        parts.append("assured")
    if "mark" in extra:
        parts.append("mark=" + extra["mark"])
    zone = extra.get("zone") or extra.get("zone-orig") or extra.get("zone-reply")
    if zone and zone != "0":
        parts.append("zone=" + zone)
    return kind, " ".join(parts), t


def canon_ours(text):
    """(canonical text without the timeout, timeout or None)"""
    m = re.search(r" t=(\d+)", text)
    if not m:
        return text, None
    return text[:m.start()] + text[m.end():], int(m.group(1))


def norm_log(text):
    """A log line without its MAC= field (the driver's datagrams have no
    link-layer header), the kernel's device names as the driver's."""
    text = re.sub(r"MAC=\S* ", "", text)
    return text.replace("=rc ", "=eth0 ").replace("=rs ", "=eth1 ")


def same_timeout(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1


# The kernel

class Kernel:
    def __init__(self):
        self.bed = Bed()
        self.evproc = None
        self.evfile = None
        self.evpos = 0
        self.raw = None
        self.udp = None
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self):
        b = self.bed
        b.sh(b.r, "sysctl -qw net.ipv4.icmp_echo_ignore_all=1 "
                  "net.netfilter.nf_conntrack_acct=1")
        # nf_conntrack_log_invalid logs from a namespace only with this
        subprocess.run(["sysctl", "-qw", "net.netfilter.nf_log_all_netns=1"],
                       capture_output=True)
        fd, self.evfile = tempfile.mkstemp(prefix="uxt-ct-events-")
        os.close(fd)
        with open(self.evfile, "w") as f:
            self.evproc = subprocess.Popen(
                ["ip", "netns", "exec", b.r, "conntrack", "-E"],
                stdout=f, stderr=subprocess.DEVNULL, start_new_session=True)
        # a raw socket for datagrams dut sends itself, and a UDP socket
        # so that datagrams to dut's port 7000 are taken quietly
        b.nsx.enter(b.r)
        try:
            self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                     socket.IPPROTO_RAW)
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("0.0.0.0", 7000))
            self.udp.setblocking(False)
        finally:
            b.nsx.leave()
        time.sleep(0.3)

    def sh(self, cmd, check=True):
        return self.bed.sh(self.bed.r, cmd, check)

    def counters(self):
        out = {}
        table = None
        nrules = {}
        text = self.sh("iptables-legacy-save -c")
        for line in text.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":"):
                m = re.match(r":(\S+) (\S+) \[(\d+):\d+\]", line)
                if m and m.group(2) != "-":
                    out[(table, m.group(1), "policy")] = int(m.group(3))
            elif line.startswith("["):
                m = re.match(r"\[(\d+):\d+\] -A (\S+)", line)
                if m:
                    key = (table, m.group(2))
                    nrules[key] = nrules.get(key, 0) + 1
                    out[(table, m.group(2), nrules[key])] = int(m.group(1))
        # policies are numbered as rules + 1
        fixed = {}
        for (t, c, n), v in out.items():
            if n == "policy":
                n = nrules.get((t, c), 0) + 1
            fixed[(t, c, n)] = v
        return fixed

    def events(self):
        with open(self.evfile) as f:
            f.seek(self.evpos)
            data = f.read()
            self.evpos = f.tell()
        return [l for l in data.splitlines() if l.strip()]

    def drain_udp(self):
        for _ in range(1000):
            try:
                self.udp.recv(70000)
            except BlockingIOError:
                break

    def run(self, case):
        b = self.bed
        sysctls = dict(SYSCTLS)
        sysctls.update(case.get("sysctl", {}))
        self.sh(" ".join("echo %s > /proc/sys/net/netfilter/%s;" % (v, k)
                         for k, v in sysctls.items()))
        rules = case["rules"] + ([] if case.get("nobase") else base_rules()) + \
            case.get("post_rules", [])
        p = subprocess.run(["ip", "netns", "exec", b.r, "iptables-legacy-restore"],
                           input=restore_text(rules).encode(), capture_output=True,
                           timeout=30)
        if p.returncode != 0:
            raise RuntimeError("restore: " + p.stderr.decode())
        self.sh("conntrack -F 2>/dev/null || true")
        time.sleep(0.15)
        self.events()
        b.drain()
        self.drain_udp()
        kmsg = Kmsg() if case.get("logs") else None
        t0 = time.monotonic()
        steps = []
        before = self.counters()
        for step in case["steps"]:
            if step[0] == "wait":
                time.sleep(step[1])
                continue
            side, dgram = step
            t = time.monotonic() - t0
            if side == "l":
                try:
                    self.raw.sendto(dgram, (socket.inet_ntoa(dgram[16:20]), 0))
                except PermissionError:
                    # dropped in OUTPUT: the socket gets EPERM
                    pass
            else:
                b.send("eth0" if side == "c" else "eth1", dgram)
            out = b.collect(0.02)
            after = self.counters()
            delta = {}
            for k, v in after.items():
                if v - before.get(k, 0) > 0:
                    delta[k] = v - before.get(k, 0)
            before = after
            steps.append({"t": t, "out": out, "delta": delta})
            self.drain_udp()
        t_end = time.monotonic() - t0
        logs = []
        if kmsg:
            try:
                logs = [norm_log(t) for lv, t in kmsg.read()
                        if t.startswith("nf_ct_proto_") and "SRC=10.77." in t]
            finally:
                kmsg.close()
        table = [canon_kernel(l) for l in
                 self.sh("conntrack -L 2>/dev/null").splitlines()]
        self.sh("conntrack -F 2>/dev/null || true")
        time.sleep(0.15)
        evs = [canon_kernel(l) for l in self.events()]
        return {"steps": steps, "t_end": t_end, "logs": logs,
                "table": [x for x in table if x],
                "events": [x for x in evs if x]}

    def close(self):
        if self.evproc:
            try:
                os.killpg(self.evproc.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.evproc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.evproc.pid, signal.SIGKILL)
            self.evproc = None
        for sk in (self.raw, self.udp):
            if sk:
                sk.close()
        self.raw = self.udp = None
        if self.evfile:
            try:
                os.unlink(self.evfile)
            except OSError:
                pass
            self.evfile = None
        self.bed.close()


# uxtables

def build_driver(opts):
    """Compiles tests/unit/ct_run.c against the build's library."""
    bindir = os.path.abspath(opts["bindir"])
    build = os.path.dirname(bindir)
    lib = os.path.join(build, "libuxt.a")
    clidir = os.path.join(build, "obj", "src", "cli")
    if not os.path.exists(lib) or not os.path.isdir(clidir):
        return None, "no %s or %s" % (lib, clidir)
    objs = sorted(os.path.join(clidir, f) for f in os.listdir(clidir)
                  if f.endswith(".o") and f != "main.o")
    out = os.path.join(build, "ct_run")
    sanit = []
    with open(lib, "rb") as f:
        if b"__asan_" in f.read():
            sanit = ["-fsanitize=address,undefined",
                     "-fno-sanitize-recover=undefined"]
    cmd = ["cc", "-std=gnu11", "-D_GNU_SOURCE", "-g", "-O1", "-Wall", "-Wextra",
           "-Werror", "-I", os.path.join(ROOT, "src/lib"),
           "-I", os.path.join(ROOT, "src/lib/ct"),
           "-I", os.path.join(ROOT, "src/io"), "-I", os.path.join(ROOT, "src/cli"),
           os.path.join(ROOT, "tests/unit/ct_run.c"),
           os.path.join(ROOT, "tests/unit/driver_common.c")] + objs + \
        [lib, "-lpcap", "-lmnl", "-o", out] + sanit
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        return None, "cannot build the driver: " + p.stderr.decode()[-2000:]
    return out, None


def run_uxt(driver, case, kern):
    # every table exists, as the kernel's restore makes them
    rules = ["-t raw -P PREROUTING ACCEPT", "-t mangle -P PREROUTING ACCEPT",
             "-t nat -P PREROUTING ACCEPT", "-P INPUT ACCEPT"] + \
        case["rules"] + ([] if case.get("nobase") else base_rules()) + \
        case.get("post_rules", [])
    lines = ["rule " + r for r in rules]
    sysctls = dict(SYSCTLS)
    sysctls.update(case.get("sysctl", {}))
    lines += ["sysctl %s %s" % kv for kv in sysctls.items()]
    if case.get("limit"):
        lines.append("limit %d %d" % case["limit"])
    lines.append("go")
    i = 0
    for step in case["steps"]:
        if step[0] == "wait":
            continue
        side, dgram = step
        lines.append("time %.6f" % (100.0 + kern["steps"][i]["t"]))
        if side == "l":
            lines.append("send " + dgram.hex())
        else:
            lines.append("recv %s %s" % ("eth0" if side == "c" else "eth1",
                                         dgram.hex()))
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
        if line.startswith("log <5>nf_ct_proto_"):
            res["logs"].append(norm_log(line[7:]))
        if cur is None and w[0] in ("match", "nested", "xmit", "deliver", "drop",
                                    "log"):
            cur = {"out": {"eth0": [], "eth1": []}, "delta": {}}
        if w[0] == "nested":
            w = line.split(" ", 3)[1:]
        if w[0] == "match":
            # match TABLE CHAIN NUM (nested ones too: the kernel counts
            # what REJECT's replies match with the packet)
            t, c, n = line.split()[-3:]
            key = (t, c, int(n))
            cur["delta"][key] = cur["delta"].get(key, 0) + 1
        elif w[0] == "xmit":
            cur["out"].setdefault(w[1], []).append(bytes.fromhex(w[2]))
        elif w[0] == "end":
            res["steps"].append(cur or {"out": {"eth0": [], "eth1": []},
                                        "delta": {}})
            cur = None
    return res


def compare(case, kern, ours):
    diffs = []
    nk, no = len(kern["steps"]), len(ours["steps"])
    if nk != no:
        diffs.append("steps: kernel %d, uxtables %d" % (nk, no))
    for i in range(min(nk, no)):
        k, o = kern["steps"][i], ours["steps"][i]
        if k["delta"] != o["delta"]:
            kd = sorted("%s/%s/%s%s" % (t, c, n, "" if v == 1 else "x%d" % v)
                        for (t, c, n), v in k["delta"].items())
            od = sorted("%s/%s/%s%s" % (t, c, n, "" if v == 1 else "x%d" % v)
                        for (t, c, n), v in o["delta"].items())
            diffs.append("packet %d rules: kernel only %s; uxtables only %s" % (
                i + 1, sorted(set(kd) - set(od)), sorted(set(od) - set(kd))))
        for dev in ("eth0", "eth1"):
            kk = [normalize(d) for d in k["out"].get(dev, [])]
            oo = [normalize(d) for d in o["out"].get(dev, [])]
            if kk != oo:
                diffs.append("packet %d out %s: kernel %s; uxtables %s" % (
                    i + 1, dev, [describe(d) for d in kk], [describe(d) for d in oo]))
                for j in range(min(len(kk), len(oo))):
                    if kk[j] != oo[j]:
                        diffs.append("   kernel   %s" % kk[j][:80].hex())
                        diffs.append("   uxtables %s" % oo[j][:80].hex())
    # events: NEW/UPDATE in order, DESTROY as a set
    def split(evs):
        seq = [(k, txt, t) for k, txt, t in evs if k != "DESTROY"]
        des = sorted((txt, t) for k, txt, t in evs if k == "DESTROY")
        return seq, des
    ks, kd = split(kern["events"])
    os_, od = split(ours["events"])
    ok = len(ks) == len(os_) and all(
        a[0] == b[0] and a[1] == b[1] and same_timeout(a[2], b[2])
        for a, b in zip(ks, os_))
    if not ok:
        diffs.append("events differ:")
        diffs += ["  kernel   %s %s t=%s" % e for e in ks]
        diffs += ["  uxtables %s %s t=%s" % e for e in os_]
    ok = len(kd) == len(od) and all(
        a[0] == b[0] and same_timeout(a[1], b[1]) for a, b in zip(kd, od))
    if not ok:
        diffs.append("DESTROY events differ:")
        diffs += ["  kernel   %s t=%s" % e for e in kd]
        diffs += ["  uxtables %s t=%s" % e for e in od]
    if case.get("logs") and kern["logs"] != ours["logs"]:
        diffs.append("log lines differ:")
        diffs += ["  kernel   " + l for l in kern["logs"]]
        diffs += ["  uxtables " + l for l in ours["logs"]]
    kt = sorted((txt, t) for _, txt, t in kern["table"])
    ot = sorted((txt, t) for _, txt, t in ours["table"])
    ok = len(kt) == len(ot) and all(
        a[0] == b[0] and same_timeout(a[1], b[1]) for a, b in zip(kt, ot))
    if not ok:
        diffs.append("table differs:")
        diffs += ["  kernel   %s t=%s" % e for e in kt]
        diffs += ["  uxtables %s t=%s" % e for e in ot]
    return diffs


# The cases

def T(src, dst, sport, dport, **kw):
    ipkw = {k: kw.pop(k) for k in ("ttl", "tos", "ident", "frag") if k in kw}
    return ip(src, dst, 6, tcp(src, dst, sport, dport, **kw), **ipkw)


def U(src, dst, sport, dport, data=b"hello", check="ok", **kw):
    return ip(src, dst, 17, udp(src, dst, sport, dport, data, check), **kw)


def I(src, dst, typ, code=0, ident=0x1234, seq=1, data=b"x" * 16, **kw):
    return ip(src, dst, 1, icmp(typ, code, struct.pack("!HH", ident, seq), data),
              **kw)


WS7 = b"\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x01\x03\x03\x07"
NOWS = b"\x02\x04\x05\xb4"


class Flow:
    """A TCP connection c -> s through dut with its sequence numbers."""

    def __init__(self, sport, dport=80, cseq=1000, sseq=5000, src=C, dst=S):
        self.sp, self.dp = sport, dport
        self.cs, self.ss = cseq, sseq
        self.src, self.dst = src, dst

    def c(self, flags, data=b"", seq=None, ack=None, win=64240, opts=b""):
        s = self.cs if seq is None else seq
        a = self.ss if ack is None else ack
        p = ("c", T(self.src, self.dst, self.sp, self.dp, seq=s, ack=a,
                    flags=flags, data=data, win=win, opts=opts))
        if seq is None:
            self.cs += len(data) + ("S" in flags) + ("F" in flags)
        return p

    def s(self, flags, data=b"", seq=None, ack=None, win=65160, opts=b""):
        s = self.ss if seq is None else seq
        a = self.cs if ack is None else ack
        p = ("s", T(self.dst, self.src, self.dp, self.sp, seq=s, ack=a,
                    flags=flags, data=data, win=win, opts=opts))
        if seq is None:
            self.ss += len(data) + ("S" in flags) + ("F" in flags)
        return p

    def handshake(self, opts_c=MSS1460, opts_s=MSS1460):
        return [self.c("S", opts=opts_c), self.s("SA", opts=opts_s), self.c("A")]


def cases():
    out = []

    def case(name, steps, rules=(), **kw):
        d = {"name": name, "steps": steps, "rules": list(rules)}
        d.update(kw)
        out.append(d)

    # TCP
    f = Flow(40001)
    case("tcp-client-closes", f.handshake() + [
        f.c("PA", b"hello"), f.s("A"), f.s("PA", b"world!"), f.c("A"),
        f.c("FA"), f.s("A"), f.s("FA"), f.c("A")])
    f = Flow(40002)
    case("tcp-server-closes", f.handshake() + [
        f.c("PA", b"GET /"), f.s("A"), f.s("FA"), f.c("A"), f.c("FA"), f.s("A")])
    f = Flow(40003)
    case("tcp-both-fin", f.handshake() + [f.c("FA"), f.s("FA"), f.c("A"), f.s("A")])
    f = Flow(40004)
    case("tcp-rst-established", f.handshake() + [f.c("PA", b"x"), f.s("A"), f.c("R")])
    f = Flow(40005)
    case("tcp-rst-from-server", f.handshake() + [f.s("RA")])
    f = Flow(40006)
    case("tcp-closed-port", [f.c("S", opts=MSS1460),
                             ("s", T(S, C, 80, 40006, seq=0, ack=1001, flags="RA"))])
    f = Flow(40007)
    case("tcp-rst-bad-seq", f.handshake() + [f.c("PA", b"data"), f.s("A"),
                                             f.c("R", seq=900), f.c("A")])
    f = Flow(40008)
    case("tcp-rst-bad-seq-ignored", f.handshake() + [
        f.c("PA", b"data"), f.s("A"), f.c("R", seq=900)],
         sysctl={"nf_conntrack_tcp_ignore_invalid_rst": 1})
    f = Flow(40009)
    case("tcp-rst-inexact", f.handshake() + [
        f.c("PA", b"data"), f.s("A"), f.c("R", seq=1010), f.c("A")])
    f = Flow(40010)
    case("tcp-seq-over-window", f.handshake() + [
        f.c("PA", b"far", seq=1001 + 400000), f.c("PA", b"ok")])
    f = Flow(40011)
    case("tcp-ack-over", f.handshake() + [f.c("A", ack=5001 + 100000), f.c("PA", b"a")])
    # max_retrans and unacknowledged made different, to tell them apart
    caps = {"nf_conntrack_tcp_timeout_max_retrans": 200,
            "nf_conntrack_tcp_timeout_unacknowledged": 250}
    f = Flow(40012)
    case("tcp-retransmissions", f.handshake() + [
        f.c("PA", b"abc"), f.s("A")] + [f.s("PA", b"zz", seq=5001)] * 2,
         sysctl=caps)
    f = Flow(40039)
    case("tcp-retransmissions-cap", f.handshake() + [
        f.c("PA", b"abc"), f.s("A")] + [f.s("PA", b"zz", seq=5001)] * 5,
         sysctl=caps)
    f = Flow(40041)
    case("tcp-retransmitted-acks", f.handshake() + [
        f.c("PA", b"abc"), f.s("A")] + [f.s("A", seq=5001)] * 4, sysctl=caps)
    f = Flow(40013)
    case("tcp-loose-pickup", [f.c("PA", b"mid"), f.s("A"), f.c("A"), f.c("PA", b"more")])
    f = Flow(40014)
    case("tcp-loose-off", [f.c("PA", b"mid"), f.s("A")],
         sysctl={"nf_conntrack_tcp_loose": 0})
    f = Flow(40015)
    g = Flow(40015, cseq=90000)
    case("tcp-syn-reopens-time-wait", f.handshake() + [
        f.c("FA"), f.s("FA"), f.c("A")] + g.handshake())
    f = Flow(40051)
    g = Flow(40051, cseq=80000)
    case("tcp-syn-reopens-close", f.handshake() + [f.c("R")] + g.handshake())
    f = Flow(40052)
    g = Flow(40052, cseq=81000)
    case("tcp-syn-after-server-rst", f.handshake() + [f.s("R")] + g.handshake())
    f = Flow(40016)
    case("tcp-syn-retransmitted", [f.c("S", opts=MSS1460),
                                   f.c("S", seq=1000, opts=MSS1460), f.s("SA")])
    f = Flow(40017)
    case("tcp-synack-first", [f.s("SA"), f.c("A")])
    case("tcp-bad-flags", [("c", T(C, S, 40018, 80, flags="SF")),
                           ("c", T(C, S, 40019, 80, flags="")),
                           ("c", T(C, S, 40020, 80, flags="SR")),
                           ("c", T(C, S, 40021, 80, flags="FPU"))])
    case("tcp-bad-checksum", [("c", T(C, S, 40022, 80, flags="S", bad=True)),
                              ("s", T(S, C, 80, 40022, flags="S", bad=True))])
    case("tcp-bad-checksum-unchecked",
         [("c", T(C, S, 40023, 80, flags="S", bad=True))],
         sysctl={"nf_conntrack_checksum": 0})
    case("tcp-truncated", [("c", ip(C, S, 6, tcp(C, S, 40024, 80, flags="S")[:12])),
                           ("c", ip(C, S, 6, b"\x9c\x58"))])
    f = Flow(40025)
    case("tcp-window-scaling", f.handshake(WS7, WS7) + [
        f.c("PA", b"y" * 1000, win=2000), f.s("PA", b"z" * 1400, win=300),
        f.c("A", win=300), f.s("PA", b"w" * 1400), f.c("A")])
    f = Flow(40026)
    case("tcp-no-window-scaling", f.handshake(NOWS, NOWS) + [
        f.c("PA", b"q" * 100), f.s("A", win=50), f.c("PA", b"q" * 100)])
    f = Flow(40027)
    sack = b"\x01\x01\x05\x0a" + struct.pack("!II", 1001 + 200, 1001 + 300)
    case("tcp-sack", f.handshake() + [
        ("c", T(C, S, 40027, 80, seq=1001 + 200, ack=5001, flags="PA", data=b"s" * 100)),
        ("s", T(S, C, 80, 40027, seq=5001, ack=1001, flags="A", opts=sack))])
    f = Flow(40028)
    case("tcp-be-liberal", f.handshake() + [f.c("PA", b"far", seq=1001 + 400000)],
         sysctl={"nf_conntrack_tcp_be_liberal": 1})
    f = Flow(40029)
    case("tcp-simultaneous-open", [
        f.c("S", opts=MSS1460), ("s", T(S, C, 80, 40029, seq=5000, flags="S", opts=MSS1460)),
        ("c", T(C, S, 40029, 80, seq=1000, ack=5001, flags="SA", opts=MSS1460)),
        ("s", T(S, C, 80, 40029, seq=5001, ack=1001, flags="A"))])
    f = Flow(40030)
    case("tcp-unacknowledged", f.handshake() + [f.c("PA", b"unacked data")])
    f = Flow(40031)
    case("tcp-zero-window", f.handshake() + [f.c("PA", b"d"), f.s("A", win=0)],
         sysctl=caps)
    f = Flow(40042)
    case("tcp-all-acked", f.handshake() + [f.c("PA", b"d"), f.s("PA", b"e"), f.c("A")],
         sysctl=caps)
    f = Flow(40043)
    g = Flow(40043, cseq=70000)
    case("tcp-challenge-ack", f.handshake() + [
        f.c("FA"), f.s("FA"), g.c("S", opts=MSS1460),
        f.s("A", seq=5002, ack=1002), f.c("A", ack=5002)])
    f = Flow(40044)
    case("tcp-syn-resync", f.handshake() + [
        ("c", T(C, S, 40044, 80, seq=33333, flags="S", opts=WS7)),
        ("s", T(S, C, 80, 40044, seq=88888, ack=33334, flags="SA", opts=WS7)),
        ("c", T(C, S, 40044, 80, seq=33334, ack=88889, flags="A"))])
    f = Flow(40045)
    case("tcp-rst-to-ignored-syn", f.handshake() + [
        ("c", T(C, S, 40045, 80, seq=44444, flags="S", opts=MSS1460)),
        ("s", T(S, C, 80, 40045, seq=0, ack=44445, flags="RA"))])
    f = Flow(40046)
    case("tcp-ack-before-synack", [f.c("S", opts=MSS1460), f.s("A", ack=1001),
                                   f.s("SA"), f.c("A")])
    f = Flow(40047)
    case("tcp-fin-rst", f.handshake() + [f.c("FA"), f.s("A"), f.s("R")])
    f = Flow(40032)
    case("tcp-syn-in-established", f.handshake() + [
        f.c("S", seq=77777, opts=MSS1460), f.c("PA", b"z")])
    f = Flow(40033)
    case("tcp-close-timeout", f.handshake() + [f.c("R"), ("wait", 2.5)],
         sysctl={"nf_conntrack_tcp_timeout_close": 2})
    f = Flow(40035, dport=81)
    case("tcp-reject-reset", f.handshake() + [f.c("PA", b"x")],
         rules=["-A FORWARD -p tcp --dport 81 --tcp-flags PSH PSH "
                "-m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL "
                "-j REJECT --reject-with tcp-reset"])
    f = Flow(40036)
    case("tcp-syn-dropped", [f.c("S", opts=MSS1460), f.c("S", seq=1000, opts=MSS1460)],
         rules=["-A FORWARD -p tcp --dport 80 -m conntrack --ctstate NEW -j DROP"])
    f = Flow(40037)
    case("tcp-syn-sent-timeout", [f.c("S", opts=MSS1460), ("wait", 2.5)],
         sysctl={"nf_conntrack_tcp_timeout_syn_sent": 2})
    f = Flow(40038)
    case("tcp-fin-before-synack", [f.c("S", opts=MSS1460), f.c("FA")])

    # UDP
    case("udp-unreplied", [("c", U(C, S, 41000, 53)) for _ in range(3)])
    case("udp-replied", [("c", U(C, S, 41001, 53)), ("s", U(S, C, 53, 41001)),
                         ("c", U(C, S, 41001, 53))])
    case("udp-stream", [("c", U(C, S, 41002, 53)), ("s", U(S, C, 53, 41002)),
                        ("wait", 2.2), ("c", U(C, S, 41002, 53)),
                        ("s", U(S, C, 53, 41002))])
    case("udp-checksums", [("c", U(C, S, 41003, 53, check="bad")),
                           ("c", U(C, S, 41004, 53, check="zero")),
                           ("s", U(S, C, 53, 41004, check="bad"))])
    case("udp-truncated", [("c", ip(C, S, 17, struct.pack("!HHHH", 41005, 53, 40, 0) + b"ab")),
                           ("c", ip(C, S, 17, b"\xa0\x2d\x00"))])
    case("udp-to-dut", [("c", U(C, R, 41006, 7000)), ("c", U(C, R, 41006, 7000))])
    case("udp-dropped-before-confirm",
         [("c", U(C, S, 41007, 9)), ("c", U(C, S, 41007, 9)), ("c", U(C, S, 41008, 53))],
         rules=["-A FORWARD -p udp --dport 9 -j DROP"])
    case("udp-timeout", [("c", U(C, S, 41009, 53)), ("wait", 3.2),
                         ("c", U(C, S, 41010, 53))],
         sysctl={"nf_conntrack_udp_timeout": 2})
    lite = struct.pack("!HHHH", 41011, 53, 0, 0) + b"lite"
    lite = lite[:6] + struct.pack("!H", csum(socket.inet_aton(C) + socket.inet_aton(S) +
                                              struct.pack("!BBH", 0, 136, len(lite)) + lite)) + lite[8:]
    # the kernel checks UDP-Lite with protocol and length swapped in the
    # pseudo header (nf_ip_checksum_partial): a right checksum is INVALID,
    # one made that way passes
    lite2 = struct.pack("!HHHH", 41012, 53, 0, 0) + b"lite"
    lite2 = lite2[:6] + struct.pack("!H", csum(socket.inet_aton(C) + socket.inet_aton(S) +
                                                struct.pack("!BBH", 0, len(lite2) & 0xFF, 17) +
                                                lite2)) + lite2[8:]
    case("udplite", [("c", ip(C, S, 136, lite)), ("c", ip(C, S, 136, lite2)),
                     ("s", ip(S, C, 136, struct.pack("!HHHH", 53, 41012, 0, 0) + b"lite"))],
         sysctl={"nf_conntrack_checksum": 1})
    case("udplite-unchecked", [("c", ip(C, S, 136, lite))],
         sysctl={"nf_conntrack_checksum": 0})

    # ICMP
    case("icmp-echo", [("c", I(C, S, 8)), ("s", I(S, C, 0)), ("c", I(C, S, 8, seq=2)),
                       ("s", I(S, C, 0, seq=2))])
    case("icmp-echo-reply-unsolicited", [("s", I(S, C, 0, ident=0x4444))])
    case("icmp-types", [("c", I(C, S, 13)), ("c", I(C, S, 15)), ("c", I(C, S, 17)),
                        ("c", I(C, S, 9)), ("c", I(C, S, 19)), ("c", I(C, S, 14)),
                        ("s", I(S, C, 14))])
    case("icmp-bad-checksum", [("c", ip(C, S, 1, b"\x08\x00\x00\x00\x12\x34\x00\x01"))])
    udp_q = U(C, S, 41020, 53, ttl=63)
    case("icmp-error-related", [
        ("c", U(C, S, 41020, 53)),
        ("s", ip(S, C, 1, icmp(3, 3, data=udp_q[:28]))),
        ("s", ip(S, C, 1, icmp(3, 3, data=U(C, S, 41021, 53, ttl=63)[:28]))),
        ("s", ip(S, "10.77.1.3", 1, icmp(3, 3, data=udp_q[:28]))),
        ("c", ip(C, S, 1, icmp(11, 0, data=U(S, C, 53, 41020)[:28])))])
    f = Flow(40040)
    syn_q = T(C, S, 40040, 80, seq=1000, flags="S")
    case("icmp-error-tcp", [f.c("S"), ("s", ip(S, C, 1, icmp(3, 1, data=syn_q[:28])))])
    case("icmp-error-notrack", [
        ("c", U(C, S, 41022, 5353)),
        ("s", ip(S, C, 1, icmp(3, 3, data=U(C, S, 41022, 5353, ttl=63)[:28])))],
         rules=["-t raw -A PREROUTING -p udp --dport 5353 -j NOTRACK"])
    case("icmp-reject-related", [("c", U(C, S, 41023, 6001))],
         rules=["-A FORWARD -p udp --dport 6001 -j REJECT"])
    case("icmp-echo-to-dut", [("c", I(C, R, 8, ident=0x99))])
    echo_q = I(C, S, 8, ident=0x77, ttl=63)
    case("icmp-error-about-echo", [
        ("c", I(C, S, 8, ident=0x77)), ("s", ip(S, C, 1, icmp(11, 0, data=echo_q[:28]))),
        ("s", ip(S, C, 1, icmp(3, 1, data=echo_q[:24])))])
    frag_q = U(C, S, 41024, 53, ttl=63, frag=0x0004)
    case("icmp-error-odd-inner", [
        ("c", U(C, S, 41024, 53)),
        ("s", ip(S, C, 1, icmp(3, 3, data=frag_q[:28]))),
        ("s", ip(S, C, 1, icmp(3, 3, data=U(C, S, 41024, 53, ttl=63)[:22]))),
        ("s", ip(S, C, 1, icmp(4, 0, data=U(C, S, 41024, 53, ttl=63)[:28]))),
        ("s", ip(S, C, 1, icmp(12, 0, b"\x14\0\0\0", data=U(C, S, 41024, 53, ttl=63)[:28])))])
    # a related ICMP error through a nat hook has its checksum checked
    # (nf_nat_icmp_reply_translation), and dropped there when it is wrong
    q = U(C, S, 41025, 53, ttl=63)[:28]
    bad = bytearray(icmp(3, 3, data=q))
    bad[2] ^= 0x55
    case("icmp-error-nat-checksum", [
        ("c", U(C, S, 41025, 53)),
        ("l", ip(RS, C, 1, bytes(bad), ident=0x3001)),
        ("l", ip(RS, C, 1, icmp(3, 3, data=q), ident=0x3002)),
        ("l", ip(RS, C, 1, icmp(5, 1, b"\x0a\x4d\x01\x09", data=q), ident=0x3003))])
    case("icmp-timeout", [("c", I(C, S, 8, ident=0x55)), ("wait", 2.5)],
         sysctl={"nf_conntrack_icmp_timeout": 2})

    # NOTRACK, CT, zones, marks
    case("notrack", [("c", U(C, S, 41030, 53)), ("s", U(S, C, 53, 41030))],
         rules=["-t raw -A PREROUTING -p udp -j NOTRACK"])
    case("ct-notrack", [("c", U(C, S, 41031, 53))],
         rules=["-t raw -A PREROUTING -p udp -j CT --notrack"])
    case("ct-zone-both", [("c", U(C, S, 41032, 53)), ("s", U(S, C, 53, 41032))],
         rules=["-t raw -A PREROUTING -p udp -j CT --zone 5"])
    case("ct-zone-one-way", [("c", U(C, S, 41033, 53)), ("s", U(S, C, 53, 41033))],
         rules=["-t raw -A PREROUTING -i rc -p udp -j CT --zone 6"],
         ours_rules=["-t raw -A PREROUTING -i eth0 -p udp -j CT --zone 6"])
    case("ct-zone-orig", [("c", U(C, S, 41034, 53)), ("s", U(S, C, 53, 41034))],
         rules=["-t raw -A PREROUTING -i rc -p udp -j CT --zone-orig 7"],
         ours_rules=["-t raw -A PREROUTING -i eth0 -p udp -j CT --zone-orig 7"])
    case("ct-zone-mark", [("c", U(C, S, 41035, 53)), ("s", U(S, C, 53, 41035))],
         rules=["-t raw -A PREROUTING -p udp -j MARK --set-mark 0x10009",
                "-t raw -A PREROUTING -p udp -j CT --zone mark"])
    case("ct-ctevents", [("c", U(C, S, 41036, 53)), ("s", U(S, C, 53, 41036))],
         rules=["-t raw -A PREROUTING -p udp -j CT --ctevents new,destroy"])
    case("connmark", [("c", U(C, S, 41037, 53)), ("s", U(S, C, 53, 41037)),
                      ("c", U(C, S, 41037, 53))],
         rules=["-t mangle -A PREROUTING -m connmark --mark 0x5 -j MARK --set-mark 0x77",
                "-t mangle -A PREROUTING -m conntrack --ctstate NEW -j CONNMARK --set-mark 0x5",
                "-t mangle -A FORWARD -m mark --mark 0x77 -j CONNMARK --save-mark --mask 0xf0",
                "-t mangle -A POSTROUTING -j CONNMARK --restore-mark",
                "-t mangle -A POSTROUTING -m mark --mark 0x75",
                "-t mangle -A POSTROUTING -m connmark ! --mark 0x75"])
    case("conntrack-options", [("c", U(C, S, 41038, 53)), ("s", U(S, C, 53, 41038))],
         rules=["-A FORWARD -m conntrack --ctproto udp --ctorigsrc 10.77.1.0/24 "
                "--ctorigdstport 53 --ctreplsrcport 50:60 --ctrepldst 10.77.1.2",
                "-A FORWARD -m conntrack ! --ctproto tcp ! --ctorigsrcport 41038",
                "-A FORWARD -m conntrack --ctstate NEW,ESTABLISHED --ctstatus NONE",
                "-A FORWARD -m conntrack ! --ctstatus CONFIRMED",
                "-A FORWARD -m conntrack ! --ctstate INVALID --ctexpire 29:30",
                "-A FORWARD -m conntrack --ctreplsrc 10.77.2.0/24 ! --ctorigdst 10.77.2.2"])

    # nf_conntrack_log_invalid: the kernel's log lines of invalid packets
    f = Flow(40048)
    case("log-invalid", [
        ("c", T(C, S, 40049, 80, flags="SF")), ("c", ip(C, S, 1, icmp(19, 0))),
        ("c", U(C, S, 41050, 53, check="bad")),
        ("c", ip(C, S, 17, struct.pack("!HHHH", 41051, 53, 40, 0) + b"ab")),
        ("c", ip(C, S, 6, tcp(C, S, 40050, 80, flags="S")[:12] + b"\x40\x02" +
                 tcp(C, S, 40050, 80, flags="S")[14:]))] +
        f.handshake() + [f.c("PA", b"far", seq=1001 + 400000),
                         f.c("S", seq=99999, opts=MSS1460), f.c("PA", b"ok"),
                         f.s("A", ack=1001 + 300000),
                         ("s", ip(S, "10.77.1.3", 1, icmp(3, 3, data=T(C, S, 40048, 80, seq=1003, ttl=63)[:28])))],
         sysctl={"nf_conntrack_log_invalid": 255}, logs=True)

    # other protocols
    case("generic", [("c", ip(C, S, 99, b"abcdef")), ("s", ip(S, C, 99, b"ghijkl")),
                     ("c", ip(C, S, 99, b"mnop"))])
    case("gre", [("c", ip(C, S, 47, b"\x00\x00\x08\x00" + b"i" * 20)),
                 ("s", ip(S, C, 47, b"\x00\x00\x08\x00" + b"j" * 20))])

    # fragments: reassembled at -400, cut again on the way out
    big = U(C, S, 41040, 53, data=bytes(range(256)) * 4, ident=0x4242)
    # (as senders cut them, the first pieces the largest: frag.c models
    # the kernel's slow path, which cuts them again the same way)
    case("fragments", [("c", fr) for fr in fragments(big, [528])] +
         [("s", U(S, C, 53, 41040))])
    big = U(C, S, 41041, 53, data=bytes(range(256)) * 2, ident=0x4343)
    case("fragments-no-conntrack",
         [("c", fr) for fr in fragments(big, [256])],
         rules=["-t raw -A PREROUTING -f", "-t raw -A PREROUTING ! -f",
                "-A FORWARD -f", "-A FORWARD -p udp"], nobase=True)

    # sent by dut itself
    # (dut's port 7000 has a quiet socket)
    case("local-udp", [("l", U(RS, S, 7000, 53, ident=0x2001)),
                       ("s", U(S, RS, 53, 7000)), ("l", U(RS, S, 7000, 53, ident=0x2004))])
    # dut's own TCP would answer the SYN/ACK with a reset: it is dropped in
    # filter INPUT, after the counting rules and before confirm, so its
    # events wait for the next packet that gets there
    case("local-tcp", [("l", T(RS, S, 42001, 80, seq=1000, flags="S", opts=MSS1460, ident=0x2002)),
                       ("s", T(S, RS, 80, 42001, seq=5000, ack=1001, flags="SA", opts=MSS1460)),
                       ("l", T(RS, S, 42001, 80, seq=1001, ack=5001, flags="A", ident=0x2003)),
                       ("l", T(RS, S, 42001, 80, seq=1001, ack=5001, flags="PA", data=b"hi",
                               ident=0x2004)),
                       ("s", T(S, RS, 80, 42001, seq=5001, ack=1003, flags="A"))],
         post_rules=["-A INPUT -p tcp --sport 80 -j DROP"])
    return [c for c in out if c]


# What the kernel cannot show inside a namespace (nf_conntrack_max is
# read-only there) and the front doors: checked against expectations.

def ours_only(res, driver, opts):
    def drive(lines):
        p = subprocess.run([driver], input="\n".join(lines) + "\n",
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    base = ["rule -A FORWARD -m conntrack --ctstate NEW",
            "rule -A FORWARD -m conntrack --ctstate INVALID"]
    # table full: non-ASSURED entries of the scanned buckets make room
    # (one bucket here: all of them), else the packet is dropped with the
    # kernel's log line
    lines = base + ["limit 2 1", "go"]
    for i, t in enumerate((1, 2, 3)):
        lines += ["time %d" % (100 + t),
                  "recv eth0 " + U(C, S, 43000 + i, 53).hex()]
    lines += ["stats"]
    rc, out, err = drive(lines)
    ok = rc == 0 and out.count("event DESTROY") == 2 and \
        "early_drop=2" in out and "count=1" in out and "table full" not in out
    res.check("ct_units limit-early-drop", ok, out[-3000:] + err[-2000:])
    lines = base + ["limit 2 1", "go", "time 100",
                    "recv eth0 " + U(C, S, 43010, 53).hex(),
                    "recv eth1 " + U(S, C, 53, 43010).hex(),
                    "recv eth0 " + U(C, S, 43011, 53).hex(),
                    "recv eth1 " + U(S, C, 53, 43011).hex(),
                    "time 103",
                    "recv eth0 " + U(C, S, 43010, 53).hex(),
                    "recv eth0 " + U(C, S, 43011, 53).hex(),
                    "recv eth0 " + U(C, S, 43012, 53).hex(),
                    "stats", "time 104", "stats"]
    rc, out, err = drive(lines)
    ok = rc == 0 and "log <4>nf_conntrack: table full, dropping packet" in out and \
        "drop conntrack: table full" in out and "drop=1" in out and \
        out.count("count=2") == 2
    res.check("ct_units limit-drop", ok, out[-3000:] + err[-2000:])

    # the table through uxt inject: saved with the counters, loaded by the
    # next run; the clock never runs backward for it
    u = Uxt(opts["bindir"])
    try:
        host = os.path.join(u.state, "host.txt")
        with open(host, "w") as f:
            f.write("forwarding on\niface lo type loopback\n"
                    "    addr 127.0.0.1/8 scope host\n"
                    "iface eth0\n    addr 10.9.1.1/24\n"
                    "iface eth1\n    addr 10.9.2.1/24\n")
        for st in ("NEW", "ESTABLISHED", "INVALID"):
            u.ipt("-A FORWARD -m conntrack --ctstate " + st)
        fwd = "-i eth0 -s 10.9.1.2 -d 10.9.2.2 -p udp --sport 1000 --dport 53"
        rev = "-i eth1 -s 10.9.2.2 -d 10.9.1.2 -p udp --sport 53 --dport 1000"
        steps = [(fwd, 1000), (rev, 1001), (fwd, 1100), (rev, 1050)]
        ok, log = True, []
        for args, t in steps:
            rc, out, err = u.run("uxt", "inject --host %s --time %d %s" % (host, t, args))
            log.append("%s @%d: %d %s%s" % (args, t, rc, out, err))
            ok = ok and rc == 0
        rc, out, err = u.ipt("-L FORWARD -v -x -n")
        counts = [l.split()[0] for l in out.splitlines()[2:]]
        # NEW at 1000, ESTABLISHED at 1001, NEW again at 1100 (expired
        # at 1031), ESTABLISHED at 1050 (moved back with the clock)
        ok = ok and counts == ["2", "2", "0"] and \
            os.path.exists(os.path.join(u.state, "conntrack"))
        res.check("ct_units front-door-persistence", ok,
                  "\n".join(log) + "\n" + out)
        with open(os.path.join(u.state, "conntrack"), "r+b") as f:
            f.seek(40)
            f.write(b"\xff" * 8)
        rc, out, err = u.run("uxt", "inject --host %s --time 1200 %s" % (host, fwd))
        res.check("ct_units front-door-damaged-file",
                  rc != 0 and "conntrack state file is damaged" in err,
                  "exit %d: %s%s" % (rc, out, err))
    finally:
        u.close()


def run(res, opts):
    driver, why = build_driver(opts)
    if not driver:
        res.fail("ct_units: driver", why)
        return
    if not os.environ.get("UXT_CT_CASES"):
        ours_only(res, driver, opts)
    allc = cases()
    only = os.environ.get("UXT_CT_CASES")
    if only:
        allc = [c for c in allc if any(w in c["name"] for w in only.split(","))]
    why = have_root_netns()
    if why:
        for c in allc:
            res.skip("ct_units " + c["name"], why)
        return
    try:
        kern = Kernel()
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        for c in allc:
            res.skip("ct_units " + c["name"], "no test bed: %s" % e)
        return
    try:
        for c in allc:
            name = "ct_units " + c["name"]
            try:
                k = kern.run(c)
            except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                res.fail(name, "kernel side: %s" % e)
                continue
            oc = dict(c)
            if c.get("ours_rules"):
                oc["rules"] = c["ours_rules"]
            o = run_uxt(driver, oc, k)
            if o["rc"] != 0:
                res.fail(name, "driver exit %d: %s" % (o["rc"], o["stderr"][-2000:]))
                continue
            diffs = compare(c, k, o)
            res.check(name, not diffs, "\n".join(diffs))
    finally:
        kern.close()


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
