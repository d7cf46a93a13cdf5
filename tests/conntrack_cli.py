# SPDX-License-Identifier: BSD-2-Clause
"""conntrack and uxt sysctl against conntrack-tools 1.4.7 and the kernel.

Compared, byte for byte unless said otherwise:

  command lines  a battery of good and bad conntrack command lines run on
                 an empty table: the real conntrack in a fresh namespace and
                 ours on a fresh state; exit status, stdout, stderr
  entries        the same crafted datagrams (TCP handshakes and half-open
                 connections, UDP with and without replies) forwarded by a
                 kernel router namespace (sent over veth with AF_PACKET)
                 and passed through libuxt's tracker by a small driver
                 (tests/unit/ct_build.c) that saves the table into a state
                 directory; then -L in every output form, -L with every
                 filter, -G, -C, -S (summed over CPUs), -U (mark), -D, -F,
                 each followed by -L
  events         conntrack -E (plain, -o timestamp,extended,id, -e and
                 filters) on both sides while the same datagrams pass and
                 -U, -D and -F run
  sysctl         uxt sysctl against sysctl(8) in a fresh namespace:
                 reading each key, -a, -n, -N, writes good and bad

Normalised: the entries' order in listings (the kernel's is its hash
order), timeouts (1 s apart at most), ids (the kernel's are hashes), the
[USERSPACE] port of events (the netlink port of the process that caused
them) and its progname, the per-CPU split of -S (summed).
Every namespace is removed at the end, also on failure.
"""

import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time
import uuid

from common import ROOT, Netns, Uxt, have_root_netns

# Command lines compared on an empty table

BAD_LINES = [
    "", "-h", "--help", "-V", "--version", "-X", "--foo", "-L -L",
    "-L -D", "-L foo", "-L expect", "-L e", "-L dying", "-L unconfirmed",
    "-Lconntrack", "-L conntrack", "-C", "-C expect", "-S", "-S expect",
    "-F", "-F expect", "-F -f ipv4", "-F -p tcp", "-D", "-G", "-G -p tcp",
    "-G -p tcp -s 1.2.3.4", "-G -p tcp -s 1.2.3.4 -d 1.2.3.5",
    "-G -p tcp -s 1.2.3.4 -d 1.2.3.5 --sport 1",
    "-G -p tcp -s 1.2.3.4 -d 1.2.3.5 --sport 1 --dport 2",
    "-G -p tcp -r 1.2.3.4 -q 1.2.3.5 --reply-port-src 1",
    "-G -p icmp -s 1.2.3.4 -d 1.2.3.5",
    "-G -p icmp -s 1.2.3.4 -d 1.2.3.5 --icmp-type 8 --icmp-code 0",
    "-U", "-U -m 5", "-U expect", "-A expect", "-I", "-I -p tcp",
    "-I -p tcp -s 1.2.3.4 -d 1.2.3.5", "-I -p tcp -s 1.2.3.4",
    "-I -p tcp -r 1.2.3.4 -t 10", "-I -p udp -s 1.2.3.4 -d 1.2.3.5 -t 10",
    "-I -p udp -s 1.2.3.4 -d 1.2.3.5 -t 10 --sport 5",
    "-I -p tcp -s 1.2.3.4 -d 1.2.3.5 -t 10 --sport 5 --dport 6",
    "-I -p icmp -s 1.2.3.4 -d 1.2.3.5 -t 10",
    "-D -s 1.2.3.4", "-D -p udp", "-D -m 5/0xff", "-D -t 5 -p tcp",
    "-L -w abc", "-L -w 70000", "-L -m abc", "-L -m 5/abc", "-L -t abc",
    "-L --zone", "-L -p", "-L -p foo", "-L -p tcp --sport",
    "-L --sport 5", "-L -p tcp --state FOO", "-L -p tcp --state LISTEN",
    "-L -p tcp --state established", "-L -s 1.2.3", "-L -s foo",
    "-L -s 1.2.3.4/33", "-L -s 1.2.3.4/24", "-L -s 1.2.3.4/x",
    "-L -r 1.2.3.4/24", "-L -q 1.2.3.4/1", "-L -f ipv6", "-L -f ipv5",
    "-L -f ipv4 -s ::1", "-L -s ::1", "-L -s ::1 -d 1.2.3.4",
    "-L -o foo", "-L -o xml,save", "-L -o save,id", "-L -o", "-L -e NEW",
    "-L -z", "-L -z -p tcp", "-L -u FOO", "-L -u ''", "-L -u ASSURED,",
    "-L -u ,ASSURED", "-L -u UNSET", "-L -u !ASSURED", "-L -u UNREPLIED",
    "-L -u SRC_NAT", "-L -u ASSURED,SEEN_REPLY,FIXED_TIMEOUT",
    "-L -n", "-L -g", "-L -j", "-L -n 1.2.3.4", "-L -n 1.2.3.4:80",
    "-L -n 1.2.3.4:", "-L -n 1.2.3.4:x", "-L -n 1.2.3.4:99999",
    "-L -j 1.2.3.4 -n", "-L -n [::1]:80", "-L -n []:80", "-L -n [::1",
    "-L -a 1.2.3.4", "-L -c 5", "-L -i 5", "-L -b 100",
    "-L --mask-src 255.0.0.0", "-L -s 1.2.3.4 --mask-src 255.0.0.0",
    "-L --orig-zone 1", "-L --reply-zone 1", "-L -p udp --dport 53",
    "-L -p icmp --icmp-type 8", "-L -p 6", "-L -p TCP", "-L -p ipv6-icmp",
    "-L -p 256", "-L -p 0x11", "-L -p sctp", "-L -p gre",
    "-L --src 10.0.0.1", "--dump", "--dump=expect", "-L --orig-src",
    "-L -p tcp --orig-port-src 1 --orig-port-dst 2",
    "-L -p tcp --reply-port-dst 1", "-L -p tcp --mask-port-src 1",
    "-L -p tcp --tuple-port-src 1", "-L --tuple-src 1.2.3.4",
    "-E -t 5", "-E -z", "-E -e FOO", "-E -u ASSURED", "-E -p tcp --state",
    "-C -p tcp", "-S -s 1.2.3.4", "-V -p tcp", "-h -p tcp", "-h -p udp",
    "-h -p icmp", "-h -p 99", "-h -p unknown", "-D -z", "-G -m 5",
    "-U -w 5", "-L -l foo", "-U --label-add foo",
    "-L dying -p tcp", "-E dying", "-D unconfirmed", "-L -Lexpect",
    "-p tcp", "-s 1.2.3.4", "-L extra words", "-L -", "-L !",
    "--dum", "--d", "--co", "--stat", "-L --src=1.2.3.4 --ds 1.2.3.5",
    "-L --mar 5", "-L --zo 1", "-L -p tcp --sp 80", "-L -p tcp --s 1.2.3.4",
    "-L -p tcp --st ESTABLISHED", "-Lp tcp", "-L -ptcp", "-Lz", "-LX",
    "-XL", "-L -- -s", "-L -s", "-L -m", "-L -o extended -o id",
    "-L -f ipv4 -f ipv6", "-L -p tcp -p udp", "-L -p tcp -p udp --dport 1",
    "-E -b", "-D -w abc", "-G -p tcp -s 1.2.3.4 -d 1.2.3.5 --sport 1 "
    "--dport 2 -w 7", "-G -p tcp -s 1.2.3.4 -d 1.2.3.5 --reply-port-src 1 "
    "--reply-port-dst 2", "-D expect -s 1.2.3.4 -d 1.2.3.5 -p tcp",
    "-G expect -s 1.2.3.4 -d 1.2.3.5 -p tcp", "-I expect",
    "-E -o xml -o save", "-L -u SEEN_REPLY -u ASSURED", "-L -e",
    "-L -n 1.2.3.4 -n 1.2.3.5", "-L -g 1.2.3.4:0", "-L -j 1.2.3.4:65535",
    "-U -p tcp --state FOO", "-D -p icmp --icmp-type x",
]


def split(line):
    import shlex
    return shlex.split(line)


# Packets

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


IDENT = [100]


def ipv4(src, dst, proto, payload):
    IDENT[0] = (IDENT[0] + 1) & 0xFFFF
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), IDENT[0],
                    0x4000, 64, proto, 0, socket.inet_aton(src),
                    socket.inet_aton(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def l4csum(src, dst, proto, seg):
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!BBH", 0, proto, len(seg))
    return csum(ph + seg)


def tcp(src, dst, sp, dp, seq, ack, flags, win=29200, data=b""):
    t = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, win, 0,
                    0) + data
    c = l4csum(src, dst, 6, t)
    return ipv4(src, dst, 6, t[:16] + struct.pack("!H", c) + t[18:])


def udp(src, dst, sp, dp, data=b"hello"):
    u = struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data
    c = l4csum(src, dst, 17, u)
    return ipv4(src, dst, 17, u[:6] + struct.pack("!H", c or 0xFFFF) + u[8:])


def icmp_echo(src, dst, typ, ident, seq):
    m = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + b"x" * 16
    m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
    return ipv4(src, dst, 1, m)


C_IP, S_IP = "10.91.1.2", "10.91.2.2"
SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04


def scenario():
    """(direction, datagram) pairs: 'c' from the client side, 's' from
    the server side of the router."""
    c, s = C_IP, S_IP
    p = []
    # an established connection
    p += [("c", tcp(c, s, 41000, 80, 1000, 0, SYN)),
          ("s", tcp(s, c, 80, 41000, 5000, 1001, SYN | ACK)),
          ("c", tcp(c, s, 41000, 80, 1001, 5001, ACK)),
          ("c", tcp(c, s, 41000, 80, 1001, 5001, ACK | 0x08, data=b"GET /\r\n")),
          ("s", tcp(s, c, 80, 41000, 5001, 1008, ACK))]
    # half open
    p += [("c", tcp(c, s, 41001, 443, 7000, 0, SYN))]
    # SYN_RECV
    p += [("c", tcp(c, s, 41002, 22, 9000, 0, SYN)),
          ("s", tcp(s, c, 22, 41002, 3000, 9001, SYN | ACK))]
    # closed by the client
    p += [("c", tcp(c, s, 41003, 8080, 100, 0, SYN)),
          ("s", tcp(s, c, 8080, 41003, 200, 101, SYN | ACK)),
          ("c", tcp(c, s, 41003, 8080, 101, 201, ACK)),
          ("c", tcp(c, s, 41003, 8080, 101, 201, FIN | ACK)),
          ("s", tcp(s, c, 8080, 41003, 201, 102, ACK))]
    # UDP: unreplied, replied
    p += [("c", udp(c, s, 5000, 53)),
          ("c", udp(c, s, 5001, 123)),
          ("s", udp(s, c, 123, 5001)),
          ("c", udp(c, s, 5002, 9999)),
          ("c", udp(c, s, 5002, 9999))]
    # ICMP echo with its reply
    p += [("c", icmp_echo(c, s, 8, 0x1234, 1)),
          ("s", icmp_echo(s, c, 0, 0x1234, 1))]
    return p


SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for line in sys.stdin:
    s.send(bytes.fromhex(line.strip()))
    sys.stdout.write("ok\n"); sys.stdout.flush()
"""


class Router:
    """A kernel router K between two link-only namespaces: datagrams are
    sent into K from either side with AF_PACKET and forwarded; K tracks
    them (a conntrack rule in FORWARD)."""

    def __init__(self, acct):
        tag = uuid.uuid4().hex[:6]
        self.k = Netns("ctk" + tag)
        self.a = Netns("cta" + tag)
        self.b = Netns("ctb" + tag)
        self.senders = {}
        sh = lambda cmd: subprocess.run(cmd, shell=True, check=True,
                                        capture_output=True)
        for ns in (self.k, self.a, self.b):
            ns.run(["sysctl", "-w", "net.ipv6.conf.all.disable_ipv6=1"])
            ns.run(["sysctl", "-w", "net.ipv6.conf.default.disable_ipv6=1"])
            ns.run(["ip", "link", "set", "lo", "up"])
        sh("ip link add ka netns %s type veth peer name pa netns %s"
           % (self.k.name, self.a.name))
        sh("ip link add kb netns %s type veth peer name pb netns %s"
           % (self.k.name, self.b.name))
        self.mac = {}
        for ns, dev in ((self.k, "ka"), (self.k, "kb"), (self.a, "pa"),
                        (self.b, "pb")):
            ns.run(["ip", "link", "set", dev, "up"])
            _, out, _ = ns.run(["cat", "/sys/class/net/%s/address" % dev])
            self.mac[dev] = bytes.fromhex(out.strip().replace(":", ""))
        k = self.k
        k.run(["ip", "addr", "add", "10.91.1.1/24", "dev", "ka"])
        k.run(["ip", "addr", "add", "10.91.2.1/24", "dev", "kb"])
        k.run(["sysctl", "-w", "net.ipv4.ip_forward=1"])
        k.run(["sysctl", "-w", "net.ipv4.conf.all.rp_filter=0"])
        k.run(["sysctl", "-w", "net.ipv4.conf.all.send_redirects=0"])
        k.run(["ip", "neigh", "add", C_IP, "lladdr",
               self.mac["pa"].hex(":"), "dev", "ka", "nud", "permanent"])
        k.run(["ip", "neigh", "add", S_IP, "lladdr",
               self.mac["pb"].hex(":"), "dev", "kb", "nud", "permanent"])
        k.run(["iptables-legacy", "-A", "FORWARD", "-m", "conntrack",
               "--ctstate", "NEW,ESTABLISHED,RELATED,INVALID,UNTRACKED",
               "-j", "ACCEPT"])
        if acct:
            k.run(["sysctl", "-w", "net.netfilter.nf_conntrack_acct=1"])
        for side, ns, dev in (("c", self.a, "pa"), ("s", self.b, "pb")):
            self.senders[side] = subprocess.Popen(
                ["ip", "netns", "exec", ns.name, "python3", "-c", SENDER,
                 dev], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True)

    def send(self, side, dgram):
        dst = self.mac["ka"] if side == "c" else self.mac["kb"]
        src = self.mac["pa"] if side == "c" else self.mac["pb"]
        frame = dst + src + b"\x08\x00" + dgram
        p = self.senders[side]
        p.stdin.write(frame.hex() + "\n")
        p.stdin.flush()
        p.stdout.readline()

    def conntrack(self, args, timeout=20):
        return self.k.run(["conntrack"] + args, timeout=timeout)

    def close(self):
        for p in self.senders.values():
            try:
                p.stdin.close()
                p.wait(timeout=5)
            except Exception:
                p.kill()
        for ns in (self.k, self.a, self.b):
            ns.close()


# Normalisation

def tokens_equal(a, b):
    """Lines equal but for ids, the USERSPACE port and timeouts 1 s apart."""
    def norm(line):
        line = re.sub(r"\bid=\d+", "id=N", line)
        line = re.sub(r" \[USERSPACE\] portid=\d+( progname=\S+)?",
                      " [USERSPACE]", line)
        return line.split(" ")
    ta, tb = norm(a), norm(b)
    if len(ta) != len(tb):
        return False
    for i, (x, y) in enumerate(zip(ta, tb)):
        if x == y:
            continue
        if x.isdigit() and y.isdigit() and abs(int(x) - int(y)) <= 1 and \
                timeout_position(ta, i):
            continue
        if x.startswith("delta-time=") and y.startswith("delta-time=") and \
                abs(int(x[11:]) - int(y[11:])) <= 1:
            continue
        return False
    return True


def timeout_position(tok, i):
    """Whether token i is a timeout: after 'PROTO NUM' or after -t."""
    prev = [x for x in tok[:i] if x != ""][-2:]
    if prev[-1:] == ["-t"]:
        return True
    return len(prev) == 2 and prev[1].isdigit() and \
        re.match(r"^[a-z]+[0-9]*$", prev[0]) is not None and \
        prev[0] not in ("ipv4",)


def same_lines(a, b, ordered=False):
    la = [x for x in a.split("\n") if x != ""]
    lb = [x for x in b.split("\n") if x != ""]
    if not ordered:
        la, lb = sorted(la, key=sortkey), sorted(lb, key=sortkey)
    if len(la) != len(lb):
        return False
    return all(tokens_equal(x, y) for x, y in zip(la, lb))


def xml_norm(res, icmp=True):
    """-o xml: ids, timeouts, times of day, the USERSPACE port and the
    flows' order aside."""
    rc, out, err = res
    if not icmp:
        out = "\n".join(l for l in out.splitlines()
                        if 'protoname="icmp"' not in l) + "\n"
        err = re.sub(r"(\d+) flow events", "N flow events", err)
    out = re.sub(r" \[USERSPACE\] portid=\d+( progname=\S+)?",
                 " [USERSPACE]", out)
    out = re.sub(r"<id>\d+</id>", "<id>N</id>", out)
    out = re.sub(r"<timeout>\d+</timeout>", "<timeout>T</timeout>", out)
    out = re.sub(r"<when>.*?</when>", "<when/>", out)
    out = re.sub(r"<deltatime>\d+</deltatime>", "<deltatime/>", out)
    head = [l for l in out.splitlines() if not l.startswith("<flow")]
    flows = sorted(l for l in out.splitlines() if l.startswith("<flow"))
    return rc, "\n".join(head + flows), err


def normalise_line(line):
    line = re.sub(r"\bid=\d+", "id=N", line)
    line = re.sub(r" \[USERSPACE\] portid=\d+( progname=\S+)?",
                  " [USERSPACE]", line)
    line = re.sub(r"delta-time=\d+", "delta-time=N", line)
    tok = line.split(" ")
    return " ".join("T" if x.isdigit() and timeout_position(tok, i) else x
                    for i, x in enumerate(tok))


def sortkey(line):
    # without what may differ: ids, ports of processes, timeouts
    return normalise_line(line)


def stats_sum(text):
    tot = {}
    for line in text.splitlines():
        for k, v in re.findall(r"(\w+)=(\d+)", line):
            if k != "cpu":
                tot[k] = tot.get(k, 0) + int(v)
    return tot


# The suite

def build_driver(opts):
    bindir = os.path.abspath(opts["bindir"])
    build = os.path.dirname(bindir)
    lib = os.path.join(build, "libuxt.a")
    clidir = os.path.join(build, "obj", "src", "cli")
    if not os.path.exists(lib) or not os.path.isdir(clidir):
        return None, "no %s or %s" % (lib, clidir)
    objs = sorted(os.path.join(clidir, f) for f in os.listdir(clidir)
                  if f.endswith(".o") and f != "main.o")
    out = os.path.join(build, "ct_build")
    sanit = []
    with open(lib, "rb") as f:
        if b"__asan_" in f.read():
            sanit = ["-fsanitize=address,undefined",
                     "-fno-sanitize-recover=undefined"]
    cmd = ["cc", "-std=gnu11", "-D_GNU_SOURCE", "-g", "-O1", "-Wall",
           "-Wextra", "-Werror"] + \
        ["-I" + os.path.join(ROOT, d) for d in
         ("src/lib", "src/lib/ct", "src/io", "src/cli")] + \
        [os.path.join(ROOT, "tests/unit/ct_build.c")] + objs + \
        [lib, "-lpcap", "-lmnl", "-o", out] + sanit
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        return None, "cannot build the driver: " + p.stderr.decode()[-2000:]
    return out, None


def compare(res, name, real, ours, ordered=False, exact=False):
    """real and ours: (rc, out, err)."""
    rrc, rout, rerr = real
    orc, oout, oerr = ours
    if exact:
        ok = real == ours
    else:
        ok = rrc == orc and same_lines(rout, oout, ordered) and \
            same_lines(rerr, oerr, True)
    res.check(name, ok, diff_text(real, ours))
    return ok


def command_lines(res, uxt, ns):
    for line in BAD_LINES:
        args = split(line)
        uxt.reset()
        real = ns.run(["conntrack"] + args, timeout=20)
        ns.run(["conntrack", "-F"])
        ours = uxt.run("conntrack", args, timeout=20)
        # the usage names the program as it was called
        path = os.path.join(uxt.bindir, "conntrack")
        ours = (ours[0], ours[1].replace("Usage: %s " % path,
                                         "Usage: conntrack "),
                ours[2].replace("`%s'" % path, "`conntrack'"))
        if args[:1] in (["-S"], ["-S", "expect"]):
            res.check("cmdline %s" % line,
                      real[0] == ours[0] and
                      stats_sum(real[1]) == stats_sum(ours[1]) and
                      real[2] == ours[2],
                      "real %r\nours %r" % (real, ours))
            continue
        compare(res, "cmdline %s" % line, real, ours, exact=True)
    # -R / --load-file
    with tempfile.TemporaryDirectory() as d:
        files = {
            "good": "# comment\n\n  -D -p udp\n-F\n-U -s 1.2.3.4 -m 5\n",
            "list": "-D -p tcp\n-L\n", "count": "-C\n", "bad": "-D -X\n",
            "quotes": '-D -s "1.2.3.4" -p "udp"\n', "stats": "-S expect\n",
            "empty": "",
        }
        for name, text in files.items():
            path = os.path.join(d, name)
            with open(path, "w") as f:
                f.write(text)
            for flag in ("-R", "--load-file"):
                uxt.reset()
                real = ns.run(["conntrack", flag, path], timeout=20)
                ours = uxt.run("conntrack", [flag, path], timeout=20)
                compare(res, "cmdline %s <%s>" % (flag, name), real, ours,
                        exact=True)
        for args in (["-R"], ["-R", os.path.join(d, "missing")],
                     ["-L", "-R", os.path.join(d, "good")]):
            uxt.reset()
            compare(res, "cmdline %s" % " ".join(args),
                    ns.run(["conntrack"] + args, timeout=20),
                    uxt.run("conntrack", args, timeout=20), exact=True)
    # uxt conntrack is the same command
    a = uxt.run("conntrack", ["-V"])
    argv = [os.path.join(uxt.bindir, "uxt"), "conntrack", "-V"]
    p = subprocess.run(argv, capture_output=True, env=uxt.env)
    res.check("uxt conntrack -V", p.returncode == a[0] and
              p.stdout.decode() == a[1])


LISTINGS = [
    [], ["-o", "extended"], ["-o", "id"], ["-o", "extended,id"],
    ["-o", "save"], ["-o", "timestamp"], ["-o", "userspace"],
    ["-o", "ktimestamp"], ["-p", "tcp"], ["-p", "udp"], ["-p", "icmp"],
    ["-p", "tcp", "--state", "ESTABLISHED"],
    ["-p", "tcp", "--state", "SYN_SENT"], ["-p", "tcp", "--dport", "80"],
    ["-p", "tcp", "--sport", "41002"], ["-p", "udp", "--reply-port-src", "123"],
    ["-p", "udp", "--orig-port-dst", "53"], ["-s", C_IP], ["-d", S_IP],
    ["-s", "10.91.0.0/16"], ["-d", "10.91.2.0/24"], ["-s", "10.1.0.0/16"],
    ["-r", S_IP], ["-q", C_IP], ["-r", C_IP], ["-u", "ASSURED"],
    ["-u", "SEEN_REPLY"], ["-u", "UNREPLIED"], ["-u", "!ASSURED"],
    ["-u", "SEEN_REPLY,!ASSURED"], ["-m", "0"], ["-m", "1"], ["-w", "0"],
    ["-w", "1"], ["-f", "ipv4"], ["-f", "ipv6"], ["-n"], ["-g"], ["-j"],
    ["-p", "icmp", "--icmp-type", "8"], ["-p", "icmp", "--icmp-id", "4660"],
    ["dying"], ["unconfirmed"], ["-z"], [],
]


ROUTER_HOST = """forwarding on
iface lo index 1 type loopback
    addr 127.0.0.1/8
iface ka index 2 mac 02:00:00:00:91:01 mtu 1500
    addr 10.91.1.1/24
iface kb index 3 mac 02:00:00:00:91:02 mtu 1500
    addr 10.91.2.1/24
"""


def write_sll2(path, records):
    """records: (time, ifindex, datagram) as a Linux cooked v2 capture."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 276))
        for t, ifindex, dgram in records:
            sll = struct.pack("!HHIHBB8s", 0x0800, 0, ifindex, 1, 0, 6,
                              b"\x02\x00\x00\x00\x91\x09\x00\x00")
            data = sll + dgram
            f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6),
                                len(data), len(data)))
            f.write(data)


class TimedUxt:
    """Our commands at the wall clock (UXT_TIME = now): a replayed table
    is otherwise shown at its capture's last time."""

    def __init__(self, uxt):
        self.uxt = uxt
        self.state = uxt.state
        self.bindir = uxt.bindir

    def run(self, prog, args, **kw):
        self.uxt.env["UXT_TIME"] = "%.6f" % time.time()
        try:
            return self.uxt.run(prog, args, **kw)
        finally:
            del self.uxt.env["UXT_TIME"]


def entries(res, uxt, driver, acct, mode="driver"):
    r = Router(acct)
    try:
        lines = ["events " + uxt.state]
        records = []
        if acct:
            lines.append("sysctl nf_conntrack_acct 1")
        for side, dgram in scenario():
            t = time.time()
            r.send(side, dgram)
            lines.append("time %.6f" % t)
            lines.append("fwd " + dgram.hex())
            records.append((t, 2 if side == "c" else 3, dgram))
            time.sleep(0.005)
        lines.append("save " + uxt.state)
        tag = "acct " if acct else ""
        if mode == "replay":
            tag = "replay " + tag
            with tempfile.TemporaryDirectory() as d:
                cap, host = os.path.join(d, "c.pcap"), os.path.join(d, "h")
                write_sll2(cap, records)
                with open(host, "w") as f:
                    f.write(ROUTER_HOST)
                steps = [("iptables", ["-A", "FORWARD", "-m", "conntrack",
                                       "--ctstate", "NEW,ESTABLISHED,RELATED,"
                                       "INVALID,UNTRACKED", "-j", "ACCEPT"])]
                if acct:
                    steps.append(("uxt", ["sysctl", "-w",
                                          "net.netfilter.nf_conntrack_acct=1"]))
                steps.append(("uxt", ["replay", cap, "--host", host]))
                for prog, args in steps:
                    rc, out, err = uxt.run(prog, args, timeout=120)
                    if rc != 0:
                        res.fail("%sentries: %s %s" % (tag, prog, args[0]),
                                 out + err)
                        return
            uxt = TimedUxt(uxt)
        else:
            p = subprocess.run([driver], input="\n".join(lines) + "\n",
                               capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                res.fail("entries: driver", p.stderr)
                return
        _, kl, _ = r.conntrack(["-L"])
        icmp = any(l.startswith("icmp") for l in
                   uxt.run("conntrack", ["-L"])[1].splitlines())
        for args in LISTINGS:
            name = "%s-L %s" % (tag, " ".join(args))
            if not icmp and "icmp" in args:
                res.skip(name, "libuxt tracks no ICMP yet")
                continue
            real = r.conntrack(["-L"] + args)
            ours = uxt.run("conntrack", ["-L"] + args)
            if not icmp:
                real = (real[0], "\n".join(l for l in real[1].splitlines()
                                           if not l.startswith("icmp") and
                                           "icmp " not in l) + "\n",
                        re.sub(r"\d+ flow entries",
                               lambda m: "%d flow entries" %
                               ours_count(ours), real[2]))
            compare(res, name, real, ours)
        for args in (["-o", "xml"], ["-o", "xml,id"], ["-p", "tcp", "-o", "xml"],
                     ["-p", "sctp", "-o", "xml"]):
            if not icmp:
                break
            compare(res, "%s-L %s" % (tag, " ".join(args)),
                    xml_norm(r.conntrack(["-L"] + args)),
                    xml_norm(uxt.run("conntrack", ["-L"] + args)), exact=True)
        res.check(tag + "-C", r.conntrack(["-C"])[1].strip() ==
                  uxt.run("conntrack", ["-C"])[1].strip() or not icmp)
        # -G
        for args in (["-p", "tcp", "-s", C_IP, "-d", S_IP, "--sport", "41000",
                      "--dport", "80"],
                     ["-p", "tcp", "-r", S_IP, "-q", C_IP, "--reply-port-src",
                      "80", "--reply-port-dst", "41000"],
                     ["-p", "udp", "-s", C_IP, "-d", S_IP, "--sport", "5000",
                      "--dport", "53"],
                     ["-p", "udp", "-s", C_IP, "-d", S_IP, "--sport", "5000",
                      "--dport", "54"],
                     ["-p", "tcp", "-s", C_IP, "-d", S_IP, "--sport", "41000",
                      "--dport", "80", "-w", "3"],
                     ["-p", "tcp", "-s", S_IP, "-d", C_IP, "--sport", "80",
                      "--dport", "41000", "-o", "extended"],
                     ["-p", "tcp", "-s", C_IP, "-d", S_IP, "--sport", "41000",
                      "--dport", "80", "-o", "xml"],
                     ["-p", "tcp", "-s", C_IP, "-d", S_IP, "--sport", "41000",
                      "--dport", "80", "-o", "save"]):
            real = r.conntrack(["-G"] + args)
            ours = uxt.run("conntrack", ["-G"] + args)
            if "xml" in args:
                real, ours = xml_norm(real), xml_norm(ours)
            compare(res, "%s-G %s" % (tag, " ".join(args)), real, ours)
        # -U, -D, -F, each followed by -L
        for cmd in (["-U", "-p", "udp", "-m", "5"],
                    ["-U", "-p", "udp", "-s", C_IP, "-m", "5"],
                    ["-U", "-p", "tcp", "-s", C_IP, "--dport", "80", "-m",
                     "0x30/0xf0"],
                    ["-U", "-d", S_IP, "-p", "tcp", "-t", "50"],
                    ["-U", "-r", S_IP, "-p", "udp", "-u", "ASSURED"],
                    ["-U", "-m", "5"],
                    ["-D", "-p", "udp", "--dport", "53"],
                    ["-D", "-m", "5"], ["-D", "-p", "tcp", "--state", "SYN_SENT"],
                    ["-D", "-s", "10.1.1.1"], ["-L", "-m", "0x30/0xf0"],
                    ["-D", "-p", "tcp", "-d", S_IP],
                    ["-F"], ["-C"]):
            if not icmp and cmd[0] in ("-U", "-D", "-F", "-C") and \
                    not any(x in cmd for x in ("tcp", "udp")):
                # icmp entries would be part of the result
                continue
            real = r.conntrack(cmd)
            ours = uxt.run("conntrack", cmd)
            if cmd[0] == "-U":
                # 1.4.7 prints some of the entries it updated (the others'
                # replies get lost on its second socket): ours prints all
                rl = [x for x in normalise_use(real[1]).splitlines() if x]
                ol = [x for x in normalise_use(ours[1]).splitlines() if x]
                ok = real[0] == ours[0] and real[2] == ours[2] and \
                    all(any(tokens_equal(x, y) for y in ol) for x in rl)
                res.check("%s%s" % (tag, " ".join(cmd)), ok,
                          "real %r\nours %r" % (real, ours))
            else:
                compare(res, "%s%s" % (tag, " ".join(cmd)),
                        (real[0], normalise_use(real[1]), real[2]),
                        (ours[0], normalise_use(ours[1]), ours[2]))
            la = r.conntrack(["-L"])
            lb = uxt.run("conntrack", ["-L"])
            if not icmp:
                la = (la[0], "\n".join(l for l in la[1].splitlines()
                                       if not l.startswith("icmp")) + "\n",
                      lb[2])
            compare(res, "%s%s; -L" % (tag, " ".join(cmd)), la, lb)
    finally:
        r.close()


def ours_count(ours):
    m = re.search(r"(\d+) flow entries", ours[2])
    return int(m.group(1)) if m else 0


def normalise_use(text):
    # -U prints the entry while the kernel's dump holds a reference to some
    return re.sub(r"\buse=\d+", "use=N", text)


class Listener:
    """conntrack -E in the background; its output goes to a file, so that
    a long stream never fills a pipe."""

    def __init__(self, argv, env=None):
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen(argv, stdout=self.out, stderr=self.err,
                                  env=env)

    def stop(self):
        time.sleep(0.3)
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        res = []
        for f in (self.out, self.err):
            f.seek(0)
            res.append(f.read().decode())
            f.close()
        return self.p.returncode, res[0], res[1]


EVENT_OPTS = [[], ["-o", "timestamp"], ["-o", "extended,id"], ["-o", "xml"],
              ["-o", "xml,timestamp"], ["-o", "ktimestamp"],
              ["-b", "100000"], ["-p", "tcp", "--dport", "80"],
              ["-u", "ASSURED"], ["-f", "ipv6"], ["-d", "10.91.2.0/24"],
              ["-e", "NEW"], ["-e", "UPDATES,DESTROY"], ["-p", "udp"],
              ["-p", "tcp", "--state", "ESTABLISHED"], ["-s", C_IP],
              ["-m", "5"], ["-o", "save"]]


def events(res, uxt, driver, mode="driver"):
    r = Router(False)
    lis = []
    try:
        for opt in EVENT_OPTS:
            lis.append((opt, Listener(["ip", "netns", "exec", r.k.name,
                                       "conntrack", "-E"] + opt),
                        Listener([os.path.join(uxt.bindir, "conntrack"),
                                  "-E"] + opt, env=uxt.env)))
        time.sleep(0.5)
        lines = ["events " + uxt.state]
        times = []
        for side, dgram in scenario():
            t = time.time()
            r.send(side, dgram)
            times.append(t)
            lines.append("time %.6f" % t)
            lines.append("fwd " + dgram.hex())
            time.sleep(0.005)
        lines.append("save " + uxt.state)
        tag = ""
        if mode == "replay":
            tag = "replay "
            records = []
            for line in lines:
                if line.startswith("time "):
                    t = float(line[5:])
                elif line.startswith("fwd "):
                    d = bytes.fromhex(line[4:])
                    records.append((t, 2 if d[12:16] == socket.inet_aton(C_IP)
                                    else 3, d))
            with tempfile.TemporaryDirectory() as dd:
                cap, host = os.path.join(dd, "c.pcap"), os.path.join(dd, "h")
                write_sll2(cap, records)
                with open(host, "w") as f:
                    f.write(ROUTER_HOST)
                rc, out, err = uxt.run("uxt", ["replay", cap, "--host", host],
                                       timeout=120)
                if rc != 0:
                    res.fail("events: replay", out + err)
                    return
            uxt = TimedUxt(uxt)
        else:
            p = subprocess.run([driver], input="\n".join(lines) + "\n",
                               capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                res.fail("events: driver", p.stderr)
                return
        icmp = any(l.startswith("icmp") for l in
                   uxt.run("conntrack", ["-L"])[1].splitlines())
        for cmd in (["-U", "-p", "udp", "-s", C_IP, "-m", "5"],
                    ["-D", "-p", "tcp", "--dport", "443"], ["-F"]):
            r.conntrack(cmd)
            uxt.run("conntrack", cmd)
        for opt, kl, ul in lis:
            real, ours = kl.stop(), ul.stop()
            if not icmp and "xml" not in " ".join(opt):
                kept = [l for l in real[1].splitlines() if " icmp " not in l]
                n = len(kept)
                real = (real[0], "\n".join(kept) + "\n",
                        re.sub(r"\d+ flow events", "%d flow events" % n,
                               real[2]))
            real = (real[0], strip_tms(real[1], times), real[2])
            ours = (ours[0], strip_tms(ours[1], times), ours[2])
            if "xml" in " ".join(opt):
                compare(res, "%s-E %s" % (tag, " ".join(opt)),
                        xml_norm(real, icmp), xml_norm(ours, icmp), exact=True)
                continue
            compare_events(res, "%s-E %s" % (tag, " ".join(opt)), real, ours)
    finally:
        for _, kl, ul in lis:
            for l in (kl, ul):
                if l.p.poll() is None:
                    l.p.kill()
                    l.p.wait()
        r.close()


def compare_events(res, name, real, ours):
    """The events of packets in order; those of conntrack -U/-D/-F (with
    [USERSPACE]) as sets, since -F empties the table in its hash order."""
    def parts(text):
        a = "\n".join(l for l in text.splitlines() if "USERSPACE" not in l)
        b = "\n".join(l for l in text.splitlines() if "USERSPACE" in l)
        return a + "\n", b + "\n"
    ra, rb = parts(real[1])
    oa, ob = parts(ours[1])
    ok = real[0] == ours[0] and same_lines(ra, oa, True) and \
        same_lines(rb, ob, False) and same_lines(real[2], ours[2], True)
    res.check(name, ok, diff_text(real, ours))


def diff_text(real, ours):
    import difflib
    d = list(difflib.unified_diff(
        (real[1] + "--- stderr\n" + real[2]).splitlines(),
        (ours[1] + "--- stderr\n" + ours[2]).splitlines(),
        "real rc=%d" % real[0], "ours rc=%d" % ours[0], lineterm="", n=1))
    return "\n".join(d) + "\n"


def strip_tms(text, times):
    """-o timestamp: the kernel's event time is when it handled the
    datagram, ours the time the test recorded when sending it: both must
    be within 1 s of a recorded time; then the stamp is dropped."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^\[(\d+)\.(\d{6})\]\t(.*)$", line)
        if m:
            t = int(m.group(1)) + int(m.group(2)) / 1e6
            ok = any(abs(t - x) < 1.0 for x in times) or \
                abs(t - time.time()) < 30
            line = ("[T]\t" if ok else "[BAD %s]\t" % t) + m.group(3)
        out.append(line)
    return "\n".join(out) + ("\n" if out else "")


def usys(uxt, args):
    """uxt sysctl ARGS (sysctl is a subcommand, not a name of the binary)."""
    return uxt.run("uxt", ["sysctl"] + list(args))


SYSCTL_WRITES = [
    "net.netfilter.nf_conntrack_tcp_timeout_established=100",
    "net.netfilter.nf_conntrack_tcp_timeout_established=abc",
    "net.netfilter.nf_conntrack_tcp_timeout_established=",
    "net.netfilter.nf_conntrack_tcp_timeout_established= 7",
    "net.netfilter.nf_conntrack_tcp_timeout_established=0x10",
    "net.netfilter.nf_conntrack_tcp_timeout_established=2147483648",
    "net.netfilter.nf_conntrack_tcp_timeout_established=+5",
    "net.netfilter.nf_conntrack_acct=1", "net.netfilter.nf_conntrack_acct=2",
    "net.netfilter.nf_conntrack_tcp_loose=5",
    "net.netfilter.nf_conntrack_tcp_max_retrans=255",
    "net.netfilter.nf_conntrack_tcp_max_retrans=256",
    "net.netfilter.nf_conntrack_udp_timeout=60",
    "net.netfilter.nf_conntrack_buckets=100",
    "net.netfilter.nf_conntrack_max=100", "net.netfilter.nf_conntrack_count=5",
    "net.netfilter.foo=1", "net/netfilter/nf_conntrack_checksum=0",
]


def sysctl(res, uxt, ns):
    _, out, _ = ns.run(["sysctl", "-a"])
    real = {}
    for line in out.splitlines():
        if line.startswith("net.netfilter.") and " = " in line:
            k, v = line.split(" = ", 1)
            real[k] = v
    rc, ours_all, err = usys(uxt, ["-a"])
    ours = dict(l.split(" = ", 1) for l in ours_all.splitlines() if " = " in l)
    for k, v in sorted(ours.items()):
        res.check("sysctl default %s" % k, real.get(k) == v,
                  "real %r ours %r" % (real.get(k), v))
    keys = sorted(ours)
    res.check("sysctl -a order", [k for k in real if k in ours] == keys)
    reads = [["net.netfilter.nf_conntrack_tcp_timeout_established"],
             ["-n", "net.netfilter.nf_conntrack_max"],
             ["-N", "net.netfilter.nf_conntrack_max"],
             ["net/netfilter/nf_conntrack_acct"],
             ["net.netfilter.foo"],
             ["net.netfilter.nf_conntrack_udp_timeout",
              "net.netfilter.nf_conntrack_icmp_timeout"]]
    for args in reads:
        compare(res, "sysctl %s" % " ".join(args), ns.run(["sysctl"] + args),
                usys(uxt, args), ordered=True, exact=True)
    for w in SYSCTL_WRITES:
        real = ns.run(["sysctl", "-w", w])
        ours = usys(uxt, ["-w", w])
        compare(res, "sysctl -w %s" % w, real, ours, exact=True)
        k = w.split("=", 1)[0].replace("/", ".")
        if k[len("net.netfilter."):] in [x[len("net.netfilter."):] for x in keys]:
            compare(res, "sysctl -w %s; read" % w, ns.run(["sysctl", k]),
                    usys(uxt, [k]), exact=True)
    compare(res, "sysctl -w missing =",
            ns.run(["sysctl", "-w", "net.netfilter.nf_conntrack_acct"]),
            usys(uxt, ["-w", "net.netfilter.nf_conntrack_acct"]),
            exact=True)
    # a setting changes what the table does: timeouts of new entries
    res.check("sysctl persists", usys(uxt, [
        "-n", "net.netfilter.nf_conntrack_udp_timeout"])[1] == "60\n")


def expiry(res, uxt, driver):
    """An entry whose time is up: gone from -L, and a [DESTROY] without
    the time left, on both sides (udp timeout 2 s)."""
    uxt.reset()
    r = Router(False)
    lis = []
    try:
        r.k.run(["sysctl", "-w", "net.netfilter.nf_conntrack_udp_timeout=2"])
        rc, out, err = usys(uxt, ["-w",
                                  "net.netfilter.nf_conntrack_udp_timeout=2"])
        res.check("expiry: uxt sysctl -w", rc == 0, out + err)
        for opt in ([], ["-e", "DESTROY"]):
            lis.append((opt, Listener(["ip", "netns", "exec", r.k.name,
                                       "conntrack", "-E"] + opt),
                        Listener([os.path.join(uxt.bindir, "conntrack"),
                                  "-E"] + opt, env=uxt.env)))
        time.sleep(0.5)
        dgram = udp(C_IP, S_IP, 6000, 7)
        t = time.time()
        r.send("c", dgram)
        p = subprocess.run([driver], input="load %s\nevents %s\ntime %.6f\n"
                           "fwd %s\nsave %s\n" % (uxt.state, uxt.state, t,
                                                  dgram.hex(), uxt.state),
                           capture_output=True, text=True, timeout=60)
        res.check("expiry: driver", p.returncode == 0, p.stderr)
        compare(res, "expiry: -L before", r.conntrack(["-L"]),
                uxt.run("conntrack", ["-L"]))
        time.sleep(3.5)
        compare(res, "expiry: -L after", r.conntrack(["-L"]),
                uxt.run("conntrack", ["-L"]))
        for opt, kl, ul in lis:
            compare_events(res, "expiry: -E %s" % " ".join(opt), kl.stop(),
                           ul.stop())
    finally:
        for _, kl, ul in lis:
            for l in (kl, ul):
                if l.p.poll() is None:
                    l.p.kill()
                    l.p.wait()
        r.close()


def udp_flows(first, n, t0):
    """Driver lines for n one-datagram UDP flows (n [NEW] events)."""
    lines = ["time %.6f" % t0]
    for i in range(first, first + n):
        src = "10.%d.%d.%d" % (100 + i // 65536, (i // 256) % 256, i % 256)
        lines.append("fwd " + udp(src, S_IP, 1024 + i % 60000, 53).hex())
    return lines


def event_log(res, uxt, driver):
    """The bounded log: a follower keeps up across a rotation; one stopped
    for two rotations says it lost events (1.4.7's ENOBUFS warning) and
    goes on."""
    uxt.reset()
    cmd = [os.path.join(uxt.bindir, "conntrack"), "-E", "-e", "NEW"]
    lis = Listener(cmd, env=uxt.env)
    try:
        time.sleep(0.3)
        n = 30000
        lines = ["events " + uxt.state] + udp_flows(0, n, time.time())
        p = subprocess.run([driver], input="\n".join(lines) + "\n",
                           capture_output=True, text=True, timeout=300)
        time.sleep(1.0)
        rc, out, err = lis.stop()
        rotated = os.path.exists(os.path.join(uxt.state, "ct-events.1"))
        res.check("event log: %d events across a rotation" % n,
                  p.returncode == 0 and rotated and rc == 0 and
                  len(out.splitlines()) == n and "WARNING" not in err and
                  err.endswith("%d flow events have been shown.\n" % n),
                  "rotated %s rc %d lines %d err %r" %
                  (rotated, rc, len(out.splitlines()), err[-300:]))
        lis = Listener(cmd, env=uxt.env)
        time.sleep(0.3)
        lis.p.send_signal(signal.SIGSTOP)
        lines = ["load " + uxt.state, "events " + uxt.state] + \
            udp_flows(n, 2 * n, time.time()) + ["save " + uxt.state]
        p = subprocess.run([driver], input="\n".join(lines) + "\n",
                           capture_output=True, text=True, timeout=300)
        lis.p.send_signal(signal.SIGCONT)
        time.sleep(1.0)
        rc, out, err = lis.stop()
        got = len(out.splitlines())
        res.check("event log: a stopped follower loses events and says so",
                  p.returncode == 0 and rc == 0 and 0 < got < 2 * n and
                  "WARNING: We have hit ENOBUFS!" in err and
                  err.endswith("%d flow events have been shown.\n" % got),
                  "rc %d lines %d err %r" % (rc, got, err[-300:]))
        size = sum(os.path.getsize(os.path.join(uxt.state, f))
                   for f in os.listdir(uxt.state) if f.startswith("ct-events"))
        res.check("event log: bounded (%d bytes)" % size, size <= 2 * 4 << 20)
    finally:
        if lis.p.poll() is None:
            lis.p.send_signal(signal.SIGCONT)
            lis.p.kill()
            lis.p.wait()


def run(res, opts):
    why = have_root_netns()
    if why:
        res.skip("conntrack_cli", why)
        return
    if subprocess.run(["which", "conntrack"], capture_output=True).returncode:
        res.skip("conntrack_cli", "conntrack (conntrack-tools) missing")
        return
    uxt = Uxt(opts["bindir"])
    if not os.path.exists(os.path.join(uxt.bindir, "conntrack")):
        res.skip("conntrack_cli", "no conntrack in %s" % uxt.bindir)
        return
    try:
        with Netns("ctcli") as ns:
            command_lines(res, uxt, ns)
        with Netns("ctsys") as ns:
            uxt.reset()
            sysctl(res, uxt, ns)
        driver, why = build_driver(opts)
        if not driver:
            res.skip("conntrack_cli entries and events", why)
            return
        for acct in (False, True):
            uxt.reset()
            entries(res, uxt, driver, acct)
        # the whole path: uxt replay of the datagrams, then conntrack
        for acct in (False, True):
            uxt.reset()
            entries(res, uxt, driver, acct, "replay")
        uxt.reset()
        events(res, uxt, driver)
        uxt.reset()
        uxt.run("iptables", ["-A", "FORWARD", "-m", "conntrack", "--ctstate",
                             "NEW,ESTABLISHED,RELATED,INVALID,UNTRACKED",
                             "-j", "ACCEPT"])
        events(res, uxt, driver, "replay")
        expiry(res, uxt, driver)
        event_log(res, uxt, driver)
    finally:
        uxt.close()


if __name__ == "__main__":
    import argparse
    import sys
    from common import Results
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build-asan/bin")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    r = Results(a.v)
    run(r, {"bindir": a.bin})
    print("%d passed, %d failed, %d skipped" % (r.passed, r.failed,
                                                r.skipped))
    sys.exit(1 if r.failed else 0)
