#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Real traffic through a NAT router, captured, replayed through uxtables:
the rewritten datagrams uxtables puts out must be the ones the kernel put
on the wire, byte for byte, and the counters the kernel's.

The test bed is real_traffic's (client, router, server namespaces; links
of MTU 1500 and 1400; IPv6 off; one TCP segment per packet handed to the
device), with transmit checksum offload turned off on every veth: with it
on, a TCP or UDP datagram crosses the veth with only its pseudo-header sum
in the checksum field (CHECKSUM_PARTIAL), the capture shows that, and the
kernel's NAT updates such a sum differently from a complete one; nothing in
a capture says which a record had.  The router runs a conntrack ruleset
(ROUTER_RULES): MASQUERADE of what leaves towards the server, SNAT to one
port for UDP to 6002 (a range of one port is taken even when the original
port is free: the port changes, deterministically), DNAT of ROUTER_A:8080
(TCP) and ROUTER_A:8053 (UDP) to the server's 5001 and 6001, REDIRECT of
ROUTER_A:9000 to the router's own port 7001, and rules in every table
counting by ctstate, ctstatus and ctdir.  Nothing is left to chance: no
`--random`, MASQUERADE and SNAT keep free ports, the client's ports are
its own ephemeral ones, all distinct; so no normalisation is needed.

Real traffic (ping; TCP connections with data through MASQUERADE, DNAT,
REDIRECT, one refused by the server; UDP request/reply through MASQUERADE,
DNAT and the one-port SNAT, and to a closed port, whose ICMP error the
router translates back) while tcpdump captures the router on `-i any`:
what came in on rc0 from the client and on rs0 from the server, and what
went out of both.  Then, in the router's namespace (its host model), a
fresh state gets the same ruleset and `uxt replay -w OUT` is given the
received records and the datagrams the router's own socket sent (the
REDIRECT target's answers: the capture holds them after POSTROUTING put
port 9000 back; the socket sent them from 7001, which the test restores,
the only change made to any record).  Compared:

  out        uxt's -w records against every IPv4 datagram the capture
             shows leaving the router, per interface, byte for byte
             (addresses, ports, ICMP ids, the datagrams quoted in ICMP
             errors, every checksum);
  counters   iptables-save -c of uxt against the kernel's (the listing
             without counters, then every counter);
  conntrack  conntrack -L (with the NAT tuples) against the kernel's,
             taken right after the traffic (timeouts within a second).

Skipped, with the reason, when not root, without namespaces, or when
tcpdump, conntrack or iptables-legacy are missing.  Everything made is
removed at the end, also on failure.  Standalone:

    python3 tests/real_traffic_nat.py --bin build/bin [--keep DIR] [-v]
"""

import argparse
import collections
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Results, Uxt, have_root_netns  # noqa: E402
from conntrack_cli import same_lines  # noqa: E402
from real_traffic import (AGENT, Bed, Broken, Capture, ROUTER_A,  # noqa: E402
                          SERVER, LO_IFINDEX, counter_diffs,
                          describe, diff_lines, ip_fields, normalize_save,
                          read_pcap, save_entries, write_pcap, _raise_interrupt)

REDIRECT_PORT, REDIRECT_TO = 9000, 7001

ROUTER_RULES = """\
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -i rc0 -p tcp -m tcp --dport 8080
-A PREROUTING -i rc0 -p tcp -m tcp --dport 9000
-A PREROUTING -p icmp -m icmp --icmp-type 3
-A OUTPUT -p tcp -m tcp --sport 7001
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -m conntrack --ctstate NEW
-A PREROUTING -m conntrack --ctstate ESTABLISHED --ctdir REPLY
-A PREROUTING -m conntrack --ctstate RELATED
-A PREROUTING -m conntrack --ctstate INVALID
-A INPUT -m conntrack --ctstate DNAT
-A FORWARD -m conntrack --ctstate DNAT
-A FORWARD -m conntrack --ctstatus ASSURED
-A OUTPUT -m conntrack --ctstate ESTABLISHED
-A POSTROUTING -m conntrack --ctstate SNAT
-A POSTROUTING -m conntrack --ctstate DNAT
-A POSTROUTING -m conntrack --ctstate NEW
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i rc0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.201.2.2:5001
-A PREROUTING -i rc0 -p udp -m udp --dport 8053 -j DNAT --to-destination 10.201.2.2:6001
-A PREROUTING -i rc0 -p tcp -m tcp --dport 9000 -j REDIRECT --to-ports 7001
-A PREROUTING -i rc0
-A INPUT -p tcp
-A POSTROUTING -o rs0 -p udp -m udp --dport 6002 -j SNAT --to-source 10.201.2.1:41000
-A POSTROUTING -o rs0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 7001
-A INPUT -m conntrack --ctstate ESTABLISHED
-A FORWARD -m conntrack --ctstate RELATED -j ACCEPT
-A FORWARD -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL -j ACCEPT
-A FORWARD -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j ACCEPT
-A FORWARD -i rc0 -m conntrack --ctstate NEW -m conntrack --ctorigdst 10.201.1.1 -j ACCEPT
-A FORWARD -i rc0 -m conntrack --ctstate NEW -j ACCEPT
-A FORWARD -m conntrack --ctstate INVALID
-A OUTPUT -m conntrack --ctstate ESTABLISHED -m conntrack --ctstatus SEEN_REPLY
COMMIT
"""


def traffic_plan():
    """[(kind, argument, expectation)], run by the client in order."""
    S, R = SERVER, ROUTER_A
    ops = [
        # MASQUERADE: the client's port is kept
        ({"op": "tcp", "dst": S, "port": 5001, "send": 3000}, "echo"),
        ({"op": "tcp", "dst": S, "port": 5001, "send": 100}, "echo"),
        # DNAT of the router's port 8080 to the server, then MASQUERADE
        ({"op": "tcp", "dst": R, "port": 8080, "send": 2000}, "echo"),
        # REDIRECT to the router's own port
        ({"op": "tcp", "dst": R, "port": REDIRECT_PORT, "send": 500}, "echo"),
        # refused by the server: its reset goes back through the NAT
        ({"op": "tcp", "dst": S, "port": 5004}, "refused"),
        ({"op": "udp", "dst": S, "port": 6001, "size": 100, "count": 3}, "reply"),
        ({"op": "udp", "dst": R, "port": 8053, "size": 60, "count": 2}, "reply"),
        # SNAT to one port: the source port changes
        ({"op": "udp", "dst": S, "port": 6002, "size": 30, "count": 2}, "reply"),
        # closed: the server's port unreachable is translated back
        ({"op": "udp", "dst": S, "port": 6003, "count": 1}, "refused"),
    ]
    return [("ping", ["-c", "3", S], 3), ("agent", ops, None),
            ("ping", ["-c", "2", "-s", "1000", S], 2)]


# Turns off transmit checksum offload on a device (the legacy ethtool
# ioctl, ETHTOOL_STXCSUM), so that datagrams cross the veth with their
# complete checksums (see the docstring).
TXCSUM_OFF = r'''
import ctypes, fcntl, socket, struct, sys
SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for dev in sys.argv[1:]:
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
    ifr = struct.pack("16sP16x", dev.encode(), ctypes.addressof(value))
    fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
'''


class NatSuite:
    def __init__(self, res, bindir, keep=None):
        self.res = res
        self.bindir = os.path.abspath(bindir)
        self.keep = keep
        self.bed = None

    def name(self, what):
        return "real_traffic_nat: " + what

    def path(self, name):
        return os.path.join(self.workdir, name)

    def kernel_run(self):
        bed = self.bed
        for role, devs in (("client", ["eth0"]), ("router", ["rc0", "rs0"]),
                           ("server", ["eth0"])):
            bed.run(role, [sys.executable, "-c", TXCSUM_OFF] + devs)
        agent = self.path("agent.py")
        with open(agent, "w") as f:
            f.write(AGENT)
        bed.start_agent("server", agent, {"tcp": [5001], "udp": [6001, 6002],
                                          "deadline": 300})
        bed.start_agent("router", agent, {"tcp": [REDIRECT_TO], "deadline": 300})
        bed.run("router", ["iptables-legacy-restore"], stdin=ROUTER_RULES.encode())
        cap = Capture(bed, "router", self.path("router.pcap"))
        wrong = []
        for kind, arg, want in traffic_plan():
            if kind == "ping":
                p = bed.run("client", ["ping", "-n", "-q", "-i", "0.05", "-W", "1"] + arg,
                            timeout=30, check=False)
                out = p.stdout.decode("utf-8", "replace")
                if "%d received" % want not in out:
                    wrong.append("ping %s: %s" % (" ".join(arg), out.strip()))
            else:
                p = bed.run("client", [sys.executable, agent, "client",
                                       json.dumps([op for op, _ in arg])],
                            timeout=120, check=False)
                try:
                    got = json.loads(p.stdout.decode())
                except ValueError:
                    wrong.append("agent: exit %d %s" % (p.returncode, p.stderr.decode()))
                    continue
                for (op, exp), g in zip(arg, got):
                    if g != exp:
                        wrong.append("%s: %s (want %s)" % (json.dumps(op), g, exp))
        ct_time = time.time()
        kct = bed.run("router", ["conntrack", "-L"], check=False).stdout.decode()
        # a last ping over lo tells when tcpdump has written everything
        pattern = uuid.uuid4().hex[:16]
        bed.run("router", ["ping", "-n", "-q", "-c", "1", "-W", "2", "-p", pattern,
                           "127.0.0.1"], check=False)
        cap.wait_for(bytes.fromhex(pattern) * 2, 2, timeout=15)
        stats = cap.stop()
        self.res.check(self.name("traffic went as planned"), not wrong, "\n".join(wrong))
        ksave = bed.run("router", ["iptables-legacy-save", "-c"]).stdout.decode()
        return stats, ksave, kct, ct_time

    def local_send(self, r):
        """Whether an outgoing record is the router's own (the REDIRECT
        target's socket), and if so the datagram its socket sent."""
        f = ip_fields(r.ip)
        if f["proto"] != 6 or f["src"] != ROUTER_A or f["off"] or f["mf"]:
            return None
        ihl = f["ihl"]
        if struct.unpack("!H", r.ip[ihl:ihl + 2])[0] != REDIRECT_PORT:
            return None
        ip = bytearray(r.ip)
        struct.pack_into("!H", ip, ihl, REDIRECT_TO)
        # the port is part of the checksummed segment: one's complement
        # difference, as the kernel's incremental update
        old = struct.unpack("!H", ip[ihl + 16:ihl + 18])[0]
        s = (~old & 0xFFFF) + (~REDIRECT_PORT & 0xFFFF) + REDIRECT_TO
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        struct.pack_into("!H", ip, ihl + 16, ~s & 0xFFFF)
        return bytes(ip)

    def compare(self, stats, ksave, kct, ct_time):
        res = self.res
        header, endian, recs = read_pcap(self.path("router.pcap"))
        lo_in = sum(1 for r in recs if r.ifindex == LO_IFINDEX and not r.out)
        res.check(self.name("capture complete (%d records)" % len(recs)),
                  stats["dropped"] == 0 and stats["captured"] == len(recs) and
                  stats["received"] == stats["captured"] + lo_in,
                  "tcpdump: %s; %d records, %d on lo" % (stats, len(recs), lo_in))
        given, want, nlocal = [], collections.Counter(), 0
        for r in recs:
            if not r.ipv4:
                continue
            if r.out or r.ifindex == LO_IFINDEX:
                want[(r.ifindex, r.ip)] += 1
            if not r.out:
                given.append(r)
                continue
            sent = self.local_send(r)
            if sent is not None:
                nlocal += 1
                r.raw = r.raw[:20] + sent
                r.ip = sent
                given.append(r)
        kinds = collections.Counter(ip_fields(k[1])["proto"] for k in want.elements())
        if not (kinds[1] and kinds[6] and kinds[17] and nlocal):
            res.fail(self.name("capture holds ICMP, TCP, UDP and the router's own"),
                     "%s, %d of the router's own" % (dict(kinds), nlocal))
        inp = self.path("replay-in.pcap")
        write_pcap(inp, header, endian, given)
        state = self.path("state")
        os.makedirs(state)
        u = Uxt(self.bindir, state, self.bed.ns["router"])
        rc, _, err = u.run("iptables-restore", [], stdin=ROUTER_RULES.encode())
        if rc:
            res.fail(self.name("uxt iptables-restore"), err)
            return
        wout = self.path("uxt-out.pcap")
        rc, out, err = u.run("uxt", ["replay", "--json", "-w", wout, inp], timeout=300)
        with open(self.path("replay.json"), "w") as f:
            f.write(out)
        objs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        bad = [o for o in objs if o.get("summary") is None and
               not str(o.get("reason")).startswith("skipped: not IPv4")]
        if not res.check(self.name("uxt replay of %d records (%d of the router's own)"
                                   % (len(given), nlocal)),
                         rc == 0 and len(objs) == len(given) and not bad,
                         "exit %d, %d objects; skipped: %s\n%s" % (
                             rc, len(objs), [o.get("reason") for o in bad][:8],
                             err[-2000:])):
            return
        got = collections.Counter()
        if os.path.exists(wout):
            for r in read_pcap(wout)[2]:
                if r.ipv4:
                    got[(r.ifindex, r.ip)] += 1
        missing = list((want - got).elements())
        extra = list((got - want).elements())

        def show(items):
            return "\n  ".join("if%d %s %s" % (i, describe(ip), ip.hex()[:120])
                               for i, ip in items[:10])
        res.check(self.name("%d datagrams out after NAT, byte for byte" % sum(want.values())),
                  not missing and not extra,
                  "%d only on the kernel's wire:\n  %s\n%d only in uxt's -w output:\n  %s"
                  % (len(missing), show(missing), len(extra), show(extra)))
        rc, usave, err = u.run("iptables-save", ["-c"])
        with open(self.path("uxt.save"), "w") as f:
            f.write(usave)
        with open(self.path("kernel.save"), "w") as f:
            f.write(ksave)
        with open(self.path("kernel.conntrack"), "w") as f:
            f.write(kct)
        kent, kskel = save_entries(normalize_save(ksave))
        uent, uskel = save_entries(normalize_save(usave))
        res.check(self.name("iptables-save -c listing, counters aside"),
                  kskel == uskel, diff_lines(kskel, uskel))
        for send, what in ((False, "receive path"), (True, "send path")):
            diffs, n = counter_diffs(kent, uent, send)
            res.check(self.name("%d counters of the %s equal to the kernel's" % (n, what)),
                      not diffs, "\n".join(diffs))
        u.env["UXT_TIME"] = "%.6f" % ct_time
        rc, uct, err = u.run("conntrack", ["-L"])
        # the closing ping over lo came after the kernel's listing
        uct = "".join(l + "\n" for l in uct.splitlines()
                      if not (l.startswith("icmp") and "src=127.0.0.1" in l))
        res.check(self.name("conntrack -L with the NAT tuples equal to the kernel's"),
                  rc == 0 and same_lines(kct, uct),
                  "kernel:\n%suxtables:\n%s%s" % (kct, uct, err))

    def run(self):
        self.workdir = self.keep or tempfile.mkdtemp(prefix="uxt-realnat-")
        os.makedirs(self.workdir, exist_ok=True)
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            self.bed = Bed(self.workdir)
            self.bed.setup()
            stats, ksave, kct, ct_time = self.kernel_run()
            self.compare(stats, ksave, kct, ct_time)
        except (Broken, OSError, subprocess.SubprocessError, ValueError) as e:
            self.res.fail(self.name("test bed"), "%s\n%s" % (e, traceback.format_exc()))
        finally:
            signal.signal(signal.SIGTERM, old_term)
            if self.bed is not None:
                self.bed.close()
            if self.keep:
                print("real_traffic_nat: files kept in %s" % self.workdir)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)


def unavailable(bindir):
    why = have_root_netns()
    if why:
        return why
    missing = [t for t in ("tcpdump", "ping", "conntrack", "iptables-legacy-restore",
                           "iptables-legacy-save") if not shutil.which(t)]
    if missing:
        return "missing: " + ", ".join(missing)
    return None


def run(res, opts):
    why = unavailable(opts["bindir"])
    if why:
        res.skip("real_traffic_nat", why)
        return
    NatSuite(res, opts["bindir"]).run()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--keep", metavar="DIR", default=None)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    res = Results(a.verbose)
    why = unavailable(a.bin)
    if why:
        res.skip("real_traffic_nat", why)
    else:
        NatSuite(res, a.bin, keep=a.keep).run()
    line = "%d passed, %d failed" % (res.passed, res.failed)
    if res.skipped:
        line += ", %d skipped" % res.skipped
    print(line)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
