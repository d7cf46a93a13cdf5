#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Real traffic, captured in namespaces, replayed through uxtables: the
counters must be the ones the kernel gave the same traffic with the same
ruleset.

The test bed is three network namespaces joined by two veth pairs:

    client eth0 ------- rc0  router  rs0 ------- eth0 server
    10.201.1.2/24   10.201.1.1/24  10.201.2.1/24   10.201.2.2/24
          (link A, MTU 1500)             (link B, MTU 1400)

The router forwards; it has no route to 10.201.9.0/24 (it answers that
with "network unreachable"); client and server route everything through it.
IPv6 is off everywhere, ICMP errors are not rate limited (icmp_ratemask 0;
uxtables does not model the limiter), and every veth has gso_max_segs 1, so
that TCP hands the device one segment at a time (otherwise OUTPUT, and the
capture, see GSO "super packets" of up to 64 kB that the device cuts up
later, and nothing in a capture says that a record was one).

Each namespace gets its own ruleset (iptables-legacy-restore), without
connection tracking: raw, mangle and filter (on the router also security)
chains at every hook they have, counting distinct traffic (ICMP types, TCP
ports and flags, --syn, UDP ports, multiport, iprange, -s/-d, -i/-o, -f,
MARK and mark, a user chain with RETURN, a goto, LOG with prefixes, DROPs
on the receive path, a FORWARD policy DROP).  tcpdump captures each
namespace on `-i any` (Linux cooked v2: direction and interface index)
while real tools make real traffic: ping (56, 1000 and 3000 bytes, the last
fragmented; TTL 1: time exceeded; DF above the router's 1400 MTU:
fragmentation needed; an unrouted address: network unreachable), TCP
connections with data (the kernel's TCP through Python sockets), aborted
ones (RST), to closed ports (RST) and to filtered ports, UDP request/reply
(one size fragmented), to closed ports (port unreachable) and to filtered
ports, traffic to the router itself and from it, and traffic over lo.  A
last ping over lo with a pattern of the run tells when tcpdump has written
everything.  Then the kernel's counters (iptables-legacy-save -c) and LOG
lines (/dev/kmsg, the lines whose prefix carries this run's token;
nf_log_all_netns is set for the run) are taken.

Three scenarios, one per capture: "router" (forwarded traffic and the
router's own), "server" and "client" (an end host's own traffic, lo
included).  Each inside the namespace that was captured (so that uxt's host
model is that host: its ifindexes, addresses, routes, forwarding): the same
ruleset into a fresh UXT_STATE with uxt's iptables-restore, the capture
through `uxt replay --json --log FILE -w OUT`, and compared:

  capture    complete: tcpdump's "received by filter" == "captured" + the
             lo copies libpcap's "any" device discards, none dropped;
  replay     exit status 0, every IPv4 record replayed but the pieces of
             datagrams the host sent (replayed whole) and the leaving copies
             of what the router forwarded (recognised), ARP skipped;
  counters   iptables-save -c of uxt against the kernel's, only the
             "# Generated/Completed" comments removed: the listing without
             counters equal, then every rule and policy counter (packets
             and bytes), in two checks: the receive path (PREROUTING,
             INPUT, FORWARD, user chains) and the send path (OUTPUT,
             POSTROUTING);
  log        the LOG lines, as multisets (skipped, with the reason, when
             the kernel's log is not complete: fewer lines than its LOG
             rules counted, which happens only when another process turns
             nf_log_all_netns off during the run);
  out        what left the host: uxt's -w records against the capture's
             outgoing IPv4 records and its lo records, per interface, byte
             for byte (for the ICMP errors the router makes while
             forwarding, the IP ID and header checksum are left out of the
             comparison: the kernel draws the ID at random).

What uxt replay is given: the capture as it is.  On the router a
forwarded datagram is captured twice, as it came in and as it left (and so
is an ICMP error the router makes about a datagram it forwards: time
exceeded, fragmentation needed, network unreachable).  uxt replay forwards
the received record (or makes the error) as the kernel did and recognises
the leaving copy as what it sent itself: that record must be reported
"skipped: sent by the replay itself", once for each such copy; the "out"
comparison checks that uxt made exactly those.

What the capture shows differently from what the hooks saw, and how it is
accounted for:

  - Received fragments: the kernel reassembles them before INPUT (without
    connection tracking PREROUTING and FORWARD see the fragments); uxt
    does the same, from the fragments as captured.
  - Sent fragments: a datagram the host's own stack sends larger than the
    device MTU (the 3000-byte pings and their replies, the 2000-byte UDP
    datagrams) passes OUTPUT and POSTROUTING whole and is fragmented after
    them; the capture holds only the fragments.  uxt replay puts them back
    together and replays the datagram whole with its last piece (the other
    pieces are reported "skipped: a fragment of a datagram this host
    sent"), then fragments it as it leaves, as the kernel did.
  - A packet on lo is captured once (received; libpcap drops the outgoing
    copy): uxt takes it through the whole local path, OUTPUT, POSTROUTING,
    PREROUTING, INPUT, as the kernel did.
  - No captured host drops what it sends in OUTPUT or POSTROUTING: a
    datagram dropped there never reaches the capture.

Skipped, with the reason, when not root, when namespaces cannot be made,
or when tcpdump, ping or iptables-legacy are missing; anything else that
goes wrong is a failure.  Everything made (namespaces, processes, files,
the nf_log_all_netns setting) is undone at the end, also on failure and on
SIGTERM.  Standalone:

    python3 tests/real_traffic.py --bin build/bin [--keep DIR] [-v]

(--keep DIR keeps the captures, rulesets, replay inputs and outputs, and
both sides' iptables-save -c in DIR.)
"""

import argparse
import collections
import errno
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Results, Uxt, have_root_netns  # noqa: E402

NET = "10.201"
CLIENT = NET + ".1.2"
ROUTER_A = NET + ".1.1"
ROUTER_B = NET + ".2.1"
SERVER = NET + ".2.2"
UNROUTED = NET + ".9.9"
MTU_A, MTU_B = 1500, 1400

CMD_TIMEOUT = 30
NF_LOG_ALL_NETNS = "/proc/sys/net/netfilter/nf_log_all_netns"
LINKTYPE_LINUX_SLL2 = 276
PACKET_OUTGOING = 4
ETH_P_IP = 0x0800
ICMP_ERRORS = (3, 4, 5, 11, 12)
LO_IFINDEX = 1
_NS_NAME = re.compile(r"^rt[crs]-(\d+)-[0-9a-f]+$")


class Broken(Exception):
    """Something of the test bed or the traffic went wrong (a failure)."""


# ---------------------------------------------------------------------------
# The rulesets.  "@" in a LOG prefix becomes this run's token and the role's
# letter, so that the kernel log lines of this run (and of this namespace)
# can be told from any other.  No rule drops what the host itself sends.

ROUTER_RULES = """\
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -i rc0 -p icmp -m icmp --icmp-type 8
-A PREROUTING -i rs0 -p icmp -m icmp --icmp-type 0
-A PREROUTING -p icmp -m icmp --icmp-type 3
-A PREROUTING -f
-A PREROUTING -i rc0 -p tcp -m tcp --syn
-A PREROUTING -i rs0 -p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK
-A PREROUTING -p tcp -m tcp --tcp-flags RST RST
-A PREROUTING -p udp -m udp --dport 6001:6009
-A PREROUTING -i lo
-A OUTPUT -p icmp -m icmp --icmp-type 0
-A OUTPUT -p icmp -m icmp --icmp-type 3/4
-A OUTPUT -p icmp -m icmp --icmp-type 11
-A OUTPUT -p icmp -m icmp --icmp-type 3/0
-A OUTPUT -p icmp -m icmp --icmp-type 3/3
-A OUTPUT -p tcp -m tcp --sport 7001
-A OUTPUT -o lo
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 5001 -j MARK --set-mark 0x11
-A PREROUTING -p tcp -m tcp --sport 5001 -j MARK --set-mark 0x12
-A PREROUTING -p udp -m multiport --dports 6001,6002,7002 -j MARK --set-xmark 0x20/0xf0
-A PREROUTING -m mark --mark 0x11
-A PREROUTING -m mark ! --mark 0x0
-A INPUT -d 10.201.1.1/32
-A INPUT -d 10.201.2.1/32
-A INPUT -m mark --mark 0x20/0xf0
-A FORWARD -i rc0 -o rs0
-A FORWARD -i rs0 -o rc0
-A FORWARD -p tcp -m mark --mark 0x12 -m tcp --tcp-flags FIN FIN
-A OUTPUT -s 10.201.1.1/32
-A OUTPUT -s 10.201.2.1/32
-A OUTPUT -p tcp -j MARK --set-xmark 0x7/0xffffffff
-A POSTROUTING -o rc0
-A POSTROUTING -o rs0
-A POSTROUTING -m mark --mark 0x7
-A POSTROUTING -p icmp -m iprange --dst-range 10.201.2.2-10.201.2.9 -m icmp --icmp-type 8
-A POSTROUTING -m iprange ! --src-range 10.201.1.0-10.201.1.255
COMMIT
*security
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp
-A FORWARD -p icmp
-A OUTPUT -p tcp
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:fw_icmp - [0:0]
:fw_tcp - [0:0]
:fw_udp - [0:0]
:udp_ok - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 8 -j LOG --log-prefix "@in-ping "
-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A INPUT -p tcp -m multiport --dports 7001,7003 -j ACCEPT
-A INPUT -p udp -m multiport --dports 7002,7004
-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG ACK
-A FORWARD -p icmp -j fw_icmp
-A FORWARD -p tcp -j fw_tcp
-A FORWARD -p udp -j fw_udp
-A FORWARD -f -j ACCEPT
-A FORWARD -d 10.201.9.0/24 -i rc0 -j LOG --log-prefix "@noroute "
-A fw_icmp -s 10.201.1.0/24 -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A fw_icmp -p icmp -m icmp --icmp-type 0 -j ACCEPT
-A fw_icmp -p icmp -m icmp --icmp-type 3 -j LOG --log-prefix "@fw-unreach "
-A fw_icmp -p icmp -m icmp --icmp-type 3 -j ACCEPT
-A fw_icmp -j RETURN
-A fw_tcp -p tcp -m tcp --dport 5001 --syn -j LOG --log-prefix "@syn5001 " --log-tcp-sequence --log-tcp-options
-A fw_tcp -p tcp -m tcp --dport 5009 -j DROP
-A fw_tcp -p tcp -m multiport --dports 5001:5004,5101 -j ACCEPT
-A fw_tcp -p tcp -m multiport --sports 5001:5004,5101 -j ACCEPT
-A fw_tcp -j RETURN
-A fw_udp -p udp -m udp --dport 6009 -j DROP
-A fw_udp -p udp -m udp --dport 6001:6003 -g udp_ok
-A fw_udp -p udp -m udp --sport 6001:6002 -j ACCEPT
-A fw_udp -p udp -m multiport --ports 6101 -j ACCEPT
-A udp_ok -m iprange --src-range 10.201.1.2-10.201.1.5 -j ACCEPT
-A udp_ok -j LOG --log-prefix "@udp-other "
-A OUTPUT -o lo -j ACCEPT
-A OUTPUT -d 10.201.1.2/32 -p icmp -m icmp --icmp-type 0 -j LOG --log-prefix "@out-reply "
-A OUTPUT -p tcp -m tcp --sport 7001 -j ACCEPT
-A OUTPUT -p tcp -m tcp --tcp-flags RST RST
COMMIT
"""

SERVER_RULES = """\
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -i eth0 -p tcp -m tcp --tcp-flags SYN,RST,ACK SYN
-A PREROUTING -i eth0 -f
-A PREROUTING -i lo
-A PREROUTING -p icmp -m icmp --icmp-type 8
-A OUTPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK
-A OUTPUT -o lo -p icmp
-A OUTPUT -p icmp -m icmp --icmp-type 3/3
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p udp -m multiport --dports 6001,6002 -j MARK --set-mark 0x1
-A PREROUTING -p tcp -m tcp --dport 5001:5003 -j MARK --set-mark 0x2
-A INPUT -m mark --mark 0x1
-A INPUT -p tcp -m mark --mark 0x2 -m tcp --tcp-flags FIN,ACK FIN,ACK
-A INPUT -s 127.0.0.0/8
-A FORWARD -j LOG --log-prefix "@fwd "
-A OUTPUT -p tcp -m tcp --sport 5001 -j MARK --set-mark 0x3
-A OUTPUT -m mark --mark 0x3
-A POSTROUTING -o eth0 -p udp -m udp --sport 6001:6002
-A POSTROUTING -o lo
-A POSTROUTING -m iprange --dst-range 10.201.1.1-10.201.1.9
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:icmp_in - [0:0]
:svc - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p icmp -j icmp_in
-A INPUT -p tcp -m tcp --dport 5009 -j DROP
-A INPUT -p udp -m udp --dport 6009 -j DROP
-A INPUT -p tcp -m multiport --dports 5001:5004 -j svc
-A INPUT -p udp -m multiport --dports 6001:6003 -g svc
-A INPUT -p tcp -m tcp --sport 5101 -j ACCEPT
-A INPUT -f -j ACCEPT
-A INPUT -s 10.201.1.0/24 -j LOG --log-prefix "@in-other "
-A icmp_in -p icmp -m icmp --icmp-type 8 -j LOG --log-prefix "@ping "
-A icmp_in -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A icmp_in -p icmp -m icmp --icmp-type 0 -j ACCEPT
-A icmp_in -j RETURN
-A svc -p tcp -m tcp --syn -j LOG --log-prefix "@syn " --log-tcp-options
-A svc -p tcp -m tcp --tcp-flags RST RST -j ACCEPT
-A svc -p tcp -m tcp --dport 5001 -j ACCEPT
-A svc -p udp -m udp --dport 6002 -j LOG --log-prefix "@udp6002 " --log-ip-options
-A svc -j RETURN
-A OUTPUT -o lo -j ACCEPT
-A OUTPUT -p tcp -m tcp --tcp-flags RST RST
-A OUTPUT -p icmp -m icmp --icmp-type 3/3 -j LOG --log-prefix "@unreach "
-A OUTPUT -p tcp -m tcp --sport 5001:5003 -j ACCEPT
-A OUTPUT -p udp -m udp --sport 6001:6002
-A OUTPUT -d 10.201.1.2/32
COMMIT
"""

CLIENT_RULES = """\
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p icmp -m icmp --icmp-type 11
-A PREROUTING -p icmp -m icmp --icmp-type 3/4
-A PREROUTING -f
-A OUTPUT -d 10.201.2.2/32 -p icmp -m icmp --icmp-type 8
-A OUTPUT -p tcp -m tcp --syn
-A OUTPUT -p udp -m udp --dport 6001:6009
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -s 10.201.1.1/32 -i eth0
-A PREROUTING -s 10.201.2.1/32 -i eth0
-A INPUT -p icmp -m icmp --icmp-type 0 -m iprange --src-range 10.201.2.1-10.201.2.2
-A OUTPUT -p tcp -m multiport --dports 5001,5002,5003,7001 -j MARK --set-mark 0x5
-A OUTPUT -m mark --mark 0x5
-A POSTROUTING -p tcp -m mark --mark 0x5 -m tcp --tcp-flags PSH PSH
-A POSTROUTING -o eth0
-A POSTROUTING -o lo
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:replies - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -s 10.201.2.1/32 -p icmp -m icmp --icmp-type 0 -j DROP
-A INPUT -p icmp -m icmp --icmp-type 11 -j LOG --log-prefix "@ttl "
-A INPUT -p icmp -m icmp --icmp-type 3/4 -j LOG --log-prefix "@fragneed "
-A INPUT -p icmp -m icmp --icmp-type 3/0
-A INPUT -p icmp -m icmp --icmp-type 3/3
-A INPUT -j replies
-A replies -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG RST,ACK -j LOG --log-prefix "@rst "
-A replies -p tcp -m multiport --sports 5001:5004,7001,7003 -j ACCEPT
-A replies -p udp -m udp --sport 6001:6002 -j ACCEPT
-A replies -p tcp -m tcp --dport 5101 -j ACCEPT
-A replies -f -j ACCEPT
-A replies -j RETURN
-A OUTPUT -o lo
-A OUTPUT -p tcp -m tcp --dport 5001 --tcp-flags FIN FIN
-A OUTPUT -p udp -m multiport --dports 6003,7004
-A OUTPUT -d 10.201.9.9/32 -j LOG --log-prefix "@noroute "
-A OUTPUT -p tcp -m tcp --sport 5101
COMMIT
"""


# ---------------------------------------------------------------------------
# The traffic helper: servers and clients made of the kernel's own sockets,
# run inside a namespace with `ip netns exec`.  Every wait is bounded.

AGENT = r'''
import errno, json, select, socket, sys, time

def serve(spec):
    deadline = time.time() + spec["deadline"]
    listen, udp, conns = [], [], []
    for port in spec.get("tcp", []):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(32)
        listen.append(s)
    for port in spec.get("udp", []):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", port))
        udp.append(u)
    print("ready", flush=True)
    while time.time() < deadline:
        r, _, _ = select.select(listen + udp + conns, [], [], 0.5)
        for s in r:
            if s in listen:
                c, _ = s.accept()
                c.settimeout(3)
                conns.append(c)
            elif s in udp:
                data, peer = s.recvfrom(65535)
                s.sendto(data, peer)
            else:
                try:
                    data = s.recv(65536)
                    if data:
                        s.sendall(data)
                        continue
                except OSError:
                    pass
                conns.remove(s)
                s.close()

def tcp(op):
    s = socket.socket()
    s.settimeout(op.get("timeout", 3))
    try:
        s.connect((op["dst"], op["port"]))
    except ConnectionRefusedError:
        s.close()
        return "refused"
    except socket.timeout:
        s.close()
        return "timeout"
    data = bytes((i * 7 + 3) & 0xFF for i in range(op.get("send", 0)))
    got = b""
    try:
        s.sendall(data)
        if op.get("abort"):
            while len(got) < len(data):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         bytes([1, 0, 0, 0, 0, 0, 0, 0]))
            s.close()
            return "reset" if got == data else "short %d" % len(got)
        s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except OSError as e:
        s.close()
        return "error %s" % errno.errorcode.get(e.errno, e.errno)
    s.close()
    return "echo" if got == data else "short %d" % len(got)

def udp(op):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(op.get("timeout", 2))
    s.connect((op["dst"], op["port"]))
    out = []
    data = bytes((i * 11 + 5) & 0xFF for i in range(op.get("size", 64)))
    for _ in range(op.get("count", 1)):
        try:
            s.send(data)
            reply = s.recv(65536)
            out.append("reply" if reply == data else "bad reply")
        except ConnectionRefusedError:
            out.append("refused")
        except socket.timeout:
            out.append("timeout")
        time.sleep(0.005)
    s.close()
    return ",".join(sorted(set(out)))

def client(ops):
    res = []
    for op in ops:
        res.append({"tcp": tcp, "udp": udp}[op["op"]](op))
        time.sleep(0.01)
    print(json.dumps(res), flush=True)

if sys.argv[1] == "serve":
    serve(json.loads(sys.argv[2]))
else:
    client(json.loads(sys.argv[2]))
'''


def sh(argv, stdin=None, timeout=CMD_TIMEOUT, check=True):
    p = subprocess.run(argv, input=stdin, capture_output=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise Broken("%s: exit %d: %s" % (
            " ".join(argv), p.returncode,
            p.stderr.decode("utf-8", "replace").strip()))
    return p


def remove_stale():
    """Deletes the namespaces of runs that were killed before they could
    clean up (their pid is gone)."""
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return
    for name in names:
        m = _NS_NAME.match(name)
        if not m:
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        sh(["ip", "netns", "del", name], check=False)


# ---------------------------------------------------------------------------
# Captures: classic pcap, Linux cooked v2, IPv4

class Record:
    """One record of a capture; ip is its datagram (without link padding)."""
    __slots__ = ("sec", "frac", "orig", "raw", "ifindex", "pkttype", "proto",
                 "ip")

    def __init__(self, sec, frac, orig, data):
        self.sec, self.frac, self.orig = sec, frac, orig
        self.raw = data
        self.proto, _r, self.ifindex, _ht, self.pkttype, _al = \
            struct.unpack("!HHIHBB", data[:12])
        ip = data[20:]
        if self.proto == ETH_P_IP and len(ip) >= 20:
            tot = struct.unpack("!H", ip[2:4])[0]
            if 20 <= tot <= len(ip):
                ip = ip[:tot]
        self.ip = ip

    @property
    def ipv4(self):
        return self.proto == ETH_P_IP and len(self.ip) >= 20 and \
            self.ip[0] >> 4 == 4

    @property
    def out(self):
        return self.pkttype == PACKET_OUTGOING

    def data(self):
        return self.raw


def read_pcap(path):
    """(global header, [Record])"""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 24:
        raise Broken("%s: %d bytes, not a capture" % (path, len(raw)))
    magic = struct.unpack("<I", raw[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        raise Broken("%s: not a classic pcap file" % path)
    linktype = struct.unpack(e + "I", raw[20:24])[0] & 0x0FFFFFFF
    if linktype != LINKTYPE_LINUX_SLL2:
        raise Broken("%s: link type %d, not Linux cooked v2" % (
            path, linktype))
    recs, pos = [], 24
    while pos + 16 <= len(raw):
        sec, frac, incl, orig = struct.unpack(e + "IIII", raw[pos:pos + 16])
        pos += 16
        if pos + incl > len(raw) or incl < 20:
            raise Broken("%s: truncated record at offset %d" % (path, pos))
        recs.append(Record(sec, frac, orig, raw[pos:pos + incl]))
        pos += incl
    return raw[:24], e, recs


def write_pcap(path, header, endian, recs):
    with open(path, "wb") as f:
        f.write(header)
        for r in recs:
            d = r.data()
            f.write(struct.pack(endian + "IIII", r.sec, r.frac, len(d),
                                r.orig))
            f.write(d)


def ip_fields(ip):
    ihl = (ip[0] & 15) * 4
    tot, ident, frag = struct.unpack("!HHH", ip[2:8])
    return {"ihl": ihl, "tot": tot, "id": ident, "df": bool(frag & 0x4000),
            "mf": bool(frag & 0x2000), "off": (frag & 0x1FFF) * 8,
            "ttl": ip[8], "proto": ip[9], "src": socket.inet_ntoa(ip[12:16]),
            "dst": socket.inet_ntoa(ip[16:20])}


def icmp_error_inner_dst(ip):
    """The destination of the datagram an ICMP error quotes, or None when
    ip is not a (first-fragment) ICMP error."""
    f = ip_fields(ip)
    if f["proto"] != 1 or f["off"] or len(ip) < f["ihl"] + 8 + 20:
        return None
    if ip[f["ihl"]] not in ICMP_ERRORS:
        return None
    inner = ip[f["ihl"] + 8:]
    return socket.inet_ntoa(inner[16:20])


def describe(ip):
    f = ip_fields(ip)
    s = "%s > %s proto %d len %d id %d ttl %d" % (
        f["src"], f["dst"], f["proto"], f["tot"], f["id"], f["ttl"])
    if f["mf"] or f["off"]:
        s += " frag %d%s" % (f["off"], "+" if f["mf"] else "")
    elif f["proto"] in (6, 17) and len(ip) >= f["ihl"] + 4:
        sp, dp = struct.unpack("!HH", ip[f["ihl"]:f["ihl"] + 4])
        s += " %d > %d" % (sp, dp)
        if f["proto"] == 6 and len(ip) >= f["ihl"] + 14:
            fl = ip[f["ihl"] + 13]
            s += " [%s]" % "".join(c for i, c in enumerate("FSRPAU")
                                   if fl >> i & 1)
    elif f["proto"] == 1 and len(ip) >= f["ihl"] + 2:
        s += " icmp %d/%d" % (ip[f["ihl"]], ip[f["ihl"] + 1])
    return s


# ---------------------------------------------------------------------------
# The test bed

class Bed:
    """client - router - server; built by setup(), removed by close()."""

    def __init__(self, workdir):
        self.workdir = workdir
        tag = "%d-%s" % (os.getpid(), uuid.uuid4().hex[:6])
        self.ns = {"client": "rtc-" + tag, "router": "rtr-" + tag,
                   "server": "rts-" + tag}
        self.made = []
        self.procs = []

    def ip(self, *args):
        sh(["ip"] + list(args))

    def exec_argv(self, role, argv):
        return ["ip", "netns", "exec", self.ns[role]] + list(argv)

    def run(self, role, argv, stdin=None, timeout=CMD_TIMEOUT, check=True):
        return sh(self.exec_argv(role, argv), stdin=stdin, timeout=timeout,
                  check=check)

    def setup(self):
        remove_stale()
        for role in ("client", "router", "server"):
            sh(["ip", "netns", "add", self.ns[role]])
            self.made.append(self.ns[role])
            # before any link exists, so that none gets IPv6
            self.run(role, ["sysctl", "-q", "-w",
                            "net.ipv6.conf.all.disable_ipv6=1",
                            "net.ipv6.conf.default.disable_ipv6=1",
                            "net.ipv4.icmp_ratemask=0"])
            self.ip("-n", self.ns[role], "link", "set", "lo", "up")
        c, r, s = self.ns["client"], self.ns["router"], self.ns["server"]
        self.ip("link", "add", "rc0", "netns", r, "mtu", str(MTU_A), "type",
                "veth", "peer", "name", "eth0", "netns", c, "mtu", str(MTU_A))
        self.ip("link", "add", "rs0", "netns", r, "mtu", str(MTU_B), "type",
                "veth", "peer", "name", "eth0", "netns", s, "mtu", str(MTU_B))
        for ns, dev, addr in ((c, "eth0", CLIENT), (r, "rc0", ROUTER_A),
                              (r, "rs0", ROUTER_B), (s, "eth0", SERVER)):
            self.ip("-n", ns, "addr", "add", addr + "/24", "dev", dev)
            # one TCP segment per packet handed to the device (see above)
            self.ip("-n", ns, "link", "set", dev, "gso_max_segs", "1", "up")
        self.ip("-n", c, "route", "add", "default", "via", ROUTER_A)
        self.ip("-n", s, "route", "add", "default", "via", ROUTER_B)
        self.run("router", ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])

    def start_agent(self, role, agent, spec):
        """A server of the agent in role's namespace, once it listens."""
        p = subprocess.Popen(
            self.exec_argv(role, [sys.executable, agent, "serve",
                                  json.dumps(spec)]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(p)
        r, _, _ = select.select([p.stdout], [], [], 10)
        line = p.stdout.readline() if r else b""
        if line.strip() != b"ready":
            raise Broken("agent server in %s did not start: %s %s" % (
                role, line, p.stderr.read1(4096) if p.poll() is not None
                else b""))

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        self.procs = []
        for ns in reversed(self.made):
            sh(["ip", "netns", "del", ns], check=False)
        self.made = []


class Capture:
    """tcpdump -i any in a namespace, writing Linux cooked v2 records."""

    def __init__(self, bed, role, path):
        self.path = path
        self.err = b""
        # -U: every record written at once; -B: a large ring (kB), so that
        # nothing is dropped; no --immediate-mode (whose fixed-size ring
        # slots of the full snapshot length hold few packets)
        self.p = subprocess.Popen(
            bed.exec_argv(role, ["tcpdump", "-i", "any", "-y", "LINUX_SLL2",
                                 "-U", "-n", "-s", "262144", "-B", "65536",
                                 "-w", path]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        bed.procs.append(self.p)
        deadline = time.time() + 10
        while b"listening on" not in self.err and time.time() < deadline:
            r, _, _ = select.select([self.p.stderr], [], [], 0.2)
            if r:
                chunk = os.read(self.p.stderr.fileno(), 4096)
                if not chunk:
                    break
                self.err += chunk
        if b"listening on" not in self.err:
            raise Broken("tcpdump in %s did not start: %s" % (
                role, self.err.decode("utf-8", "replace")))

    def wait_for(self, needle, count, timeout):
        """Waits (bounded) until the file holds needle count times."""
        deadline = time.time() + timeout
        while True:
            try:
                with open(self.path, "rb") as f:
                    if f.read().count(needle) >= count:
                        return
            except OSError:
                pass
            if time.time() >= deadline:
                raise Broken("tcpdump did not write the closing ping within "
                             "%d s (%s)" % (timeout, self.path))
            time.sleep(0.1)

    def stop(self):
        """Stops tcpdump (SIGINT, bounded); returns its statistics."""
        self.p.send_signal(signal.SIGINT)
        try:
            _, rest = self.p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=10)
            raise Broken("tcpdump did not stop on SIGINT")
        self.err += rest or b""
        text = self.err.decode("utf-8", "replace")
        stats = {}
        for key, word in (("captured", "captured"),
                          ("received", "received by filter"),
                          ("dropped", "dropped by kernel")):
            m = re.search(r"(\d+) packets? %s" % word, text)
            if not m:
                raise Broken("tcpdump statistics missing: " + text)
            stats[key] = int(m.group(1))
        return stats


class Kmsg:
    """The kernel log records, written after start(), whose text starts
    with mark, as (level, text).  A thread reads /dev/kmsg all along, so
    that the other suites' logging (kernel_diff, log_units) does not
    overwrite this run's records before they are read."""

    def __init__(self, mark):
        self.mark = mark
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)
        self.overruns = 0
        self.lines = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            self._read()
            if self.stopping.is_set():
                return
            select.select([self.fd], [], [], 0.05)

    def _read(self):
        while True:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.EPIPE:      # overwritten: read on
                    self.overruns += 1
                    continue
                raise
            head, _, body = rec.decode("utf-8", "replace").partition(";")
            try:
                prio = int(head.split(",")[0])
            except ValueError:
                continue
            text = body.split("\n", 1)[0]
            if prio >> 3 == 0 and text.startswith(self.mark):
                self.lines.append((prio & 7, text))

    def stop(self):
        """Stops reading; returns the lines."""
        if self.thread is not None:
            self.stopping.set()
            self.thread.join(timeout=10)
            self.thread = None
        return self.lines

    def close(self):
        self.stop()
        os.close(self.fd)


# ---------------------------------------------------------------------------
# The traffic

def traffic_plan():
    """[(role, kind, argument, expectation)]: what runs, in order.  Kinds:
    "ping" (arguments of ping; expectation: least number of replies) and
    "agent" (client operations; expectation per operation, None: any)."""
    S, C = SERVER, CLIENT
    ping = []
    for size, count in ((56, 5), (1000, 3), (3000, 3)):
        ping.append(("client", "ping", ["-c", str(count), "-s", str(size), S],
                     count))
    client_ops = [
        ({"op": "tcp", "dst": S, "port": 5001, "send": 3000}, "echo"),
        ({"op": "tcp", "dst": S, "port": 5001, "send": 3000}, "echo"),
        ({"op": "tcp", "dst": S, "port": 5001, "send": 6000}, "echo"),
        ({"op": "tcp", "dst": S, "port": 5001, "send": 10}, "echo"),
        ({"op": "tcp", "dst": S, "port": 5002, "send": 200}, "echo"),
        ({"op": "tcp", "dst": S, "port": 5002, "send": 0}, "echo"),
        ({"op": "tcp", "dst": S, "port": 5003, "send": 100, "abort": True},
         "reset"),
        ({"op": "tcp", "dst": S, "port": 5003, "send": 1500, "abort": True},
         "reset"),
        ({"op": "tcp", "dst": S, "port": 5004}, "refused"),
        ({"op": "tcp", "dst": S, "port": 5004}, "refused"),
        ({"op": "tcp", "dst": S, "port": 5004}, "refused"),
        # dropped by the router: one SYN, then the socket is closed
        ({"op": "tcp", "dst": S, "port": 5009, "timeout": 0.3}, "timeout"),
        ({"op": "tcp", "dst": S, "port": 5009, "timeout": 0.3}, "timeout"),
        ({"op": "tcp", "dst": ROUTER_A, "port": 7001, "send": 500}, "echo"),
        ({"op": "tcp", "dst": ROUTER_B, "port": 7001, "send": 50}, "echo"),
        ({"op": "tcp", "dst": ROUTER_A, "port": 7003}, "refused"),
        ({"op": "tcp", "dst": ROUTER_A, "port": 7003}, "refused"),
        ({"op": "udp", "dst": S, "port": 6001, "size": 100, "count": 10},
         "reply"),
        ({"op": "udp", "dst": S, "port": 6001, "size": 1, "count": 2},
         "reply"),
        ({"op": "udp", "dst": S, "port": 6002, "size": 2000, "count": 3},
         "reply"),
        ({"op": "udp", "dst": S, "port": 6003, "count": 3}, "refused"),
        ({"op": "udp", "dst": S, "port": 6009, "count": 2, "timeout": 0.3},
         "timeout"),
        ({"op": "udp", "dst": ROUTER_A, "port": 7002, "count": 3}, "reply"),
        ({"op": "udp", "dst": ROUTER_B, "port": 7004, "count": 2}, "refused"),
        ({"op": "tcp", "dst": "127.0.0.1", "port": 5101, "send": 700}, "echo"),
        ({"op": "udp", "dst": CLIENT, "port": 6101, "count": 2}, "reply"),
    ]
    server_ops = [
        ({"op": "tcp", "dst": C, "port": 5101, "send": 1000}, "echo"),
        ({"op": "tcp", "dst": C, "port": 5101, "send": 1000}, "echo"),
        ({"op": "udp", "dst": C, "port": 6101, "count": 3}, "reply"),
        ({"op": "tcp", "dst": "127.0.0.1", "port": 5001, "send": 2000},
         "echo"),
        ({"op": "tcp", "dst": S, "port": 5002, "send": 300}, "echo"),
        ({"op": "tcp", "dst": "127.0.0.1", "port": 5004}, "refused"),
        ({"op": "udp", "dst": S, "port": 6001, "count": 2}, "reply"),
        ({"op": "udp", "dst": "127.0.0.1", "port": 6003}, "refused"),
    ]
    router_ops = [
        ({"op": "tcp", "dst": S, "port": 5001, "send": 1000}, "echo"),
        ({"op": "udp", "dst": C, "port": 6101, "count": 2}, "reply"),
    ]
    return ping + [
        ("client", "ping", ["-c", "2", "-t", "1", S], 0),       # time exceeded
        ("client", "ping", ["-c", "2", UNROUTED], 0),    # net unreachable
        ("client", "ping", ["-c", "3", ROUTER_A], 3),
        ("client", "ping", ["-c", "3", ROUTER_B], 0),            # client drops
        ("client", "agent", client_ops, None),
        ("client", "ping", ["-c", "2", "127.0.0.1"], 2),
        ("server", "ping", ["-c", "3", C], 0),       # the router drops
        ("server", "ping", ["-c", "3", "127.0.0.1"], 3),
        ("server", "ping", ["-c", "2", S], 2),
        ("server", "agent", server_ops, None),
        ("router", "ping", ["-c", "2", C], 2),
        ("router", "ping", ["-c", "2", "127.0.0.1"], 2),
        ("router", "agent", router_ops, None),
        # last: the client learns the path MTU from it
        ("client", "ping", ["-c", "1", "-M", "do", "-s", "1450", S], 0),
    ]


def make_traffic(bed, agent):
    """Runs the plan; returns the list of things that did not go as
    planned (empty when all did)."""
    wrong = []
    for role, kind, arg, want in traffic_plan():
        if kind == "ping":
            argv = ["ping", "-n", "-q", "-i", "0.05", "-W", "1"] + arg
            p = bed.run(role, argv, timeout=30, check=False)
            out = p.stdout.decode("utf-8", "replace")
            m = re.search(r"(\d+) received", out)
            got = int(m.group(1)) if m else -1
            if p.returncode not in (0, 1) or got < want:
                wrong.append("%s: %s: exit %d, %d replies (want %d): %s" % (
                    role, " ".join(argv), p.returncode, got, want,
                    (out + p.stderr.decode("utf-8", "replace")).strip()))
        else:
            ops = [op for op, _ in arg]
            p = bed.run(role, [sys.executable, agent, "client",
                               json.dumps(ops)], timeout=120, check=False)
            try:
                results = json.loads(p.stdout.decode())
            except ValueError:
                wrong.append("%s: agent failed: exit %d: %s" % (
                    role, p.returncode, p.stderr.decode("utf-8", "replace")))
                continue
            for (op, exp), got in zip(arg, results):
                if exp is not None and got != exp:
                    wrong.append("%s: %s: %s (want %s)" % (
                        role, json.dumps(op), got, exp))
    return wrong


# ---------------------------------------------------------------------------
# One scenario: a captured namespace and its ruleset

class Scenario:
    def __init__(self, name, role, rules, local_addrs, what):
        self.name = name
        self.role = role
        self.rules = rules
        self.local = set(local_addrs)
        self.what = what
        self.capture = None
        self.kernel_save = None
        self.kernel_log = None

    def is_local(self, addr):
        return addr in self.local or addr.startswith("127.")

    def made_by_forwarding(self, ip):
        """An outgoing datagram this host did not send from its own stack:
        a forwarded one, or an ICMP error about a datagram being forwarded
        (uxt makes both itself, from the received record)."""
        f = ip_fields(ip)
        if not self.is_local(f["src"]):
            return True
        inner = icmp_error_inner_dst(ip)
        return inner is not None and not self.is_local(inner)


def normalize_save(text):
    return [line for line in text.splitlines()
            if not line.startswith("# Generated by") and
            not line.startswith("# Completed on")]


SEND_CHAINS = ("OUTPUT", "POSTROUTING")
_POLICY = re.compile(r"^:(\S+) (\S+) \[(\d+):(\d+)\]$")
_RULE = re.compile(r"^\[(\d+):(\d+)\] -A (\S+) (.*)$")


def save_entries(lines):
    """The counters of an iptables-save -c listing: {(table, chain, n):
    (counters, text)} (n "policy" for a policy), and the listing without
    counters (its structure)."""
    entries, skeleton = {}, []
    table, seen = None, collections.Counter()
    for line in lines:
        if line.startswith("*"):
            table = line[1:]
        m = _POLICY.match(line)
        if m and table:
            entries[(table, m.group(1), "policy")] = (
                "[%s:%s]" % (m.group(3), m.group(4)), m.group(2))
            skeleton.append(":%s %s" % (m.group(1), m.group(2)))
            continue
        m = _RULE.match(line)
        if m and table:
            seen[(table, m.group(3))] += 1
            n = seen[(table, m.group(3))]
            entries[(table, m.group(3), n)] = (
                "[%s:%s]" % (m.group(1), m.group(2)),
                "-A %s %s" % (m.group(3), m.group(4)))
            skeleton.append("-A %s %s" % (m.group(3), m.group(4)))
            continue
        skeleton.append(line)
    return entries, skeleton


def counter_diffs(want, got, send):
    """Lines naming the counters that differ, of the send path (OUTPUT,
    POSTROUTING) or of the receive path (everything else); and how many
    were compared."""
    out, n = [], 0
    for key in sorted(set(want) | set(got), key=str):
        if (key[1] in SEND_CHAINS) != send:
            continue
        n += 1
        w, g = want.get(key), got.get(key)
        if w != g:
            text = (w or g)[1]
            out.append("%s %s %s: kernel %s, uxt %s   (%s)" % (
                key[0], key[1], "policy" if key[2] == "policy" else
                "rule %d" % key[2], w[0] if w else "-", g[0] if g else "-",
                text))
    return out, n


def log_rule_total(save_text):
    """Packets counted by the LOG rules of an iptables-save -c listing."""
    n = 0
    for line in save_text.splitlines():
        m = re.match(r"^\[(\d+):\d+\] .* -j LOG\b", line)
        if m:
            n += int(m.group(1))
    return n


def diff_lines(want, got, label_want="kernel", label_got="uxt"):
    import difflib
    return "\n".join(difflib.unified_diff(want, got, label_want, label_got,
                                          lineterm="", n=1))


class Suite:
    def __init__(self, res, bindir, keep=None):
        self.res = res
        self.bindir = os.path.abspath(bindir)
        self.keep = keep
        self.token = uuid.uuid4().hex[:5]
        self.workdir = None
        self.bed = None
        self.kmsg = None
        self.old_log_all = None
        roles = {"router": "r", "server": "s", "client": "c"}
        self.scenarios = [
            Scenario("router", "router",
                     self.prefixed(ROUTER_RULES, roles["router"]),
                     (ROUTER_A, ROUTER_B),
                     "forwarded traffic and the router's own"),
            Scenario("server", "server",
                     self.prefixed(SERVER_RULES, roles["server"]), (SERVER,),
                     "an end host's own traffic: services, lo, "
                     "connections it opens"),
            Scenario("client", "client",
                     self.prefixed(CLIENT_RULES, roles["client"]), (CLIENT,),
                     "an end host's own traffic: connections, pings, "
                     "fragments it sends, lo"),
        ]

    def prefixed(self, rules, letter):
        return rules.replace('"@', '"%s%s-' % (self.token, letter))

    def path(self, name):
        return os.path.join(self.workdir, name)

    def name(self, sc, what):
        return "real_traffic %s: %s" % (sc.name, what)

    # --- the kernel side ----------------------------------------------------

    def kernel_run(self):
        bed = self.bed
        agent = self.path("agent.py")
        with open(agent, "w") as f:
            f.write(AGENT)
        bed.start_agent("server", agent, {"tcp": [5001, 5002, 5003],
                                          "udp": [6001, 6002],
                                          "deadline": 600})
        bed.start_agent("client", agent, {"tcp": [5101], "udp": [6101],
                                          "deadline": 600})
        bed.start_agent("router", agent, {"tcp": [7001], "udp": [7002],
                                          "deadline": 600})
        for sc in self.scenarios:
            with open(self.path(sc.name + ".rules"), "w") as f:
                f.write(sc.rules)
            bed.run(sc.role, ["iptables-legacy-restore"],
                    stdin=sc.rules.encode())
        for sc in self.scenarios:
            sc.capture = Capture(bed, sc.role, self.path(sc.name + ".pcap"))
        t0 = time.time()
        wrong = make_traffic(bed, agent)
        took = time.time() - t0
        # A last ping over lo in each captured namespace, with a pattern of
        # this run: once tcpdump has written it, it has written everything
        # before it (its ring hands a block over when it is full or 1 s
        # old).  It is traffic like any other: counted by both sides.
        pattern = uuid.uuid4().hex[:16]
        for sc in self.scenarios:
            p = bed.run(sc.role, ["ping", "-n", "-q", "-c", "1", "-W", "2",
                                  "-p", pattern, "127.0.0.1"], check=False)
            if p.returncode != 0:
                wrong.append("%s: the closing ping over lo failed: %s" % (
                    sc.role, p.stdout.decode("utf-8", "replace")))
        for sc in self.scenarios:
            sc.capture.wait_for(bytes.fromhex(pattern) * 2, 2, timeout=15)
        stats = {sc.name: sc.capture.stop() for sc in self.scenarios}
        self.res.check("real_traffic traffic went as planned (%.1fs)" % took,
                       not wrong, "\n".join(wrong))
        for sc in self.scenarios:
            rc = bed.run(sc.role, ["iptables-legacy-save", "-c"])
            sc.kernel_save = rc.stdout.decode()
            with open(self.path(sc.name + ".kernel.save"), "w") as f:
                f.write(sc.kernel_save)
        log_ok = False
        if self.old_log_all is not None:
            with open(NF_LOG_ALL_NETNS) as f:
                log_ok = f.read().strip() == "1"
        # LOG lines are printed while the packet passes the rule: all are
        # in the log by now
        lines = self.kmsg.stop() if self.kmsg else []
        for sc in self.scenarios:
            mark = "%s%s-" % (self.token, sc.role[0])
            sc.kernel_log = ["<%d>%s" % (lv, t) for lv, t in lines
                             if t.startswith(mark)]
            if not log_ok or self.kmsg is None:
                sc.kernel_log = None
        return stats

    # --- the uxt side ------------------------------------------------------

    def replay_input(self, sc, recs):
        """The records uxt replay is given: all but the leaving copies of
        what the host forwarded (see the docstring).  Also counts the
        outgoing fragments of datagrams the host sent itself (given as
        captured): (records, [records, datagrams])."""
        out, frag_keys, left_out, nfrag = [], set(), 0, 0
        for r in recs:
            if r.out and r.ipv4 and sc.made_by_forwarding(r.ip):
                # the received record of the same datagram is replayed
                # first: uxt forwards it (or makes the ICMP error) as the
                # kernel did, recognises this record as what it sent and
                # skips it; compare_out() checks what it puts out
                left_out += 1
            elif r.out and r.ipv4:
                # Fragments of a datagram this host sent: the kernel's
                # OUTPUT and POSTROUTING counted the datagram, once, whole
                # (ip_finish_output fragments it after POSTROUTING); the
                # capture cannot show it otherwise.  Given as captured:
                # uxt replay has to make the datagram of them, as it does
                # of received fragments before INPUT.  Counted only to say
                # so when the send-path counters differ.
                f = ip_fields(r.ip)
                if f["mf"] or f["off"]:
                    nfrag += 1
                    frag_keys.add((f["src"], f["dst"], f["proto"], f["id"]))
            out.append(r)
        return out, left_out, [nfrag, len(frag_keys)]

    def compare_scenario(self, sc, tstats):
        res = self.res
        pcap = self.path(sc.name + ".pcap")
        header, endian, recs = read_pcap(pcap)
        lo_in = sum(1 for r in recs if r.ifindex == LO_IFINDEX and not r.out)
        st = tstats[sc.name]
        res.check(self.name(sc, "capture complete (%d records)" % len(recs)),
                  st["dropped"] == 0 and st["captured"] == len(recs) and
                  st["received"] == st["captured"] + lo_in and len(recs) > 0,
                  "tcpdump: %s; %d records in the file, %d on lo" % (
                      st, len(recs), lo_in))
        ipv4 = [r for r in recs if r.ipv4]
        given, left_out, frag_sent = self.replay_input(sc, recs)
        inp = self.path(sc.name + ".replay-in.pcap")
        write_pcap(inp, header, endian, given)
        print("real_traffic %s (%s): %d records, %d IPv4 (%d received, %d "
              "sent, %d of them fragments of %d datagrams it sent); %d "
              "leaving copies of forwarded datagrams; %d given to "
              "uxt replay" % (
                  sc.name, sc.what, len(recs), len(ipv4),
                  sum(1 for r in ipv4 if not r.out),
                  sum(1 for r in ipv4 if r.out), frag_sent[0], frag_sent[1],
                  left_out, len(given)), flush=True)

        state = self.path(sc.name + ".state")
        os.makedirs(state)
        u = Uxt(self.bindir, state, self.bed.ns[sc.role])
        rc, _, err = u.run("iptables-restore", [], stdin=sc.rules.encode())
        if rc != 0:
            res.fail(self.name(sc, "uxt iptables-restore"),
                     "exit %d: %s" % (rc, err))
            return
        wout = self.path(sc.name + ".uxt-out.pcap")
        logf = self.path(sc.name + ".uxt.log")
        rc, out, err = u.run("uxt", ["replay", "--json", "--log", logf,
                                     "-w", wout, inp], timeout=300)
        with open(self.path(sc.name + ".replay.json"), "w") as f:
            f.write(out)
        objs = []
        for line in out.splitlines():
            try:
                objs.append(json.loads(line))
            except ValueError:
                pass
        skipped = [o for o in objs if o.get("summary") is None]
        held = [o for o in skipped if str(o.get("reason")).startswith(
            "skipped: a fragment of a datagram this host sent")]
        own = [o for o in skipped if str(o.get("reason")).startswith(
            "skipped: sent by the replay itself")]
        bad_skips = [o for o in skipped
                     if o not in held and o not in own and
                     not str(o.get("reason")).startswith("skipped: not IPv4")]
        n_ipv4_given = sum(1 for r in given if r.ipv4)
        # each datagram this host sent in fragments is replayed whole with
        # its last piece; each forwarded copy is recognised as uxt's own
        want_held = frag_sent[0] - frag_sent[1]
        res.check(self.name(sc, "uxt replay of %d IPv4 records (%d pieces "
                            "held for their datagram, %d forwarded copies "
                            "recognised)" % (n_ipv4_given, want_held,
                                             left_out)),
                  rc == 0 and len(objs) == len(given) and not bad_skips and
                  len(held) == want_held and len(own) == left_out and
                  len(objs) - len(skipped) + len(held) + len(own) ==
                  n_ipv4_given,
                  "exit %d, %d objects for %d records, %d IPv4; held %d, "
                  "own %d; other skips: %s\n%s" % (
                      rc, len(objs), len(given), n_ipv4_given, len(held),
                      len(own), [o.get("reason") for o in bad_skips][:10],
                      err[-3000:]))
        if rc != 0:
            return

        # counters
        rc, usave, err = u.run("iptables-save", ["-c"])
        with open(self.path(sc.name + ".uxt.save"), "w") as f:
            f.write(usave)
        want_lines = normalize_save(sc.kernel_save)
        got_lines = normalize_save(usave)
        if rc != 0:
            res.fail(self.name(sc, "uxt iptables-save -c"), err)
            return
        want, kskel = save_entries(want_lines)
        got, uskel = save_entries(got_lines)
        res.check(self.name(sc, "iptables-save -c listing, counters aside, "
                            "equal to the kernel's"),
                  kskel == uskel, diff_lines(kskel, uskel))
        for send, what in ((False, "receive path (PREROUTING, INPUT, "
                            "FORWARD, user chains)"),
                           (True, "send path (OUTPUT, POSTROUTING)")):
            diffs, n = counter_diffs(want, got, send)
            note = ""
            res.check(self.name(sc, "%d counters of the %s equal to the "
                                "kernel's" % (n, what)),
                      not diffs, "\n".join(diffs) + note)

        # LOG lines
        ulog = []
        if os.path.exists(logf):
            with open(logf) as f:
                ulog = [line.rstrip("\n") for line in f if line.strip()]
        expected_lines = log_rule_total(sc.kernel_save)
        if sc.kernel_log is None:
            res.skip(self.name(sc, "LOG lines"),
                     "no kernel log (no /dev/kmsg, or nf_log_all_netns "
                     "turned off by another process)")
        elif len(sc.kernel_log) < expected_lines:
            # the kernel's LOG rules matched more often than the log shows:
            # records lost on the kernel's side, not a uxt difference
            res.skip(self.name(sc, "LOG lines"),
                     "kernel log incomplete: %d lines for %d LOG matches "
                     "(%d /dev/kmsg overruns; nf_log_all_netns changed by "
                     "another process?)" % (len(sc.kernel_log),
                                             expected_lines,
                                             self.kmsg.overruns))
        else:
            kc = collections.Counter(sc.kernel_log)
            uc = collections.Counter(ulog)
            missing = list((kc - uc).elements())
            extra = list((uc - kc).elements())
            res.check(self.name(sc, "%d LOG lines equal to the kernel's" %
                                len(sc.kernel_log)),
                      not missing and not extra,
                      "only in the kernel's log:\n  %s\nonly in uxt's:\n  %s"
                      % ("\n  ".join(missing[:10]), "\n  ".join(extra[:10])))

        # what left the host
        self.compare_out(sc, recs, wout)

    def out_key(self, sc, ifindex, ip):
        inner = icmp_error_inner_dst(ip)
        ip = bytearray(ip)
        if inner is not None and sc.is_local(ip_fields(ip)["src"]) and \
                not sc.is_local(inner):
            # an ICMP error the router makes about a datagram it forwards:
            # the kernel draws its IP ID at random (uxt counts up)
            struct.pack_into("!H", ip, 4, 0)
            struct.pack_into("!H", ip, 10, 0)
        return (ifindex, bytes(ip))

    def compare_out(self, sc, recs, wout):
        want = collections.Counter()
        for r in recs:
            if r.ipv4 and (r.out or r.ifindex == LO_IFINDEX):
                want[self.out_key(sc, r.ifindex, r.ip)] += 1
        got = collections.Counter()
        if os.path.exists(wout):
            _, _, urecs = read_pcap(wout)
            for r in urecs:
                if r.ipv4:
                    got[self.out_key(sc, r.ifindex, r.ip)] += 1
        missing = list((want - got).elements())
        extra = list((got - want).elements())

        def show(items):
            return "\n  ".join("if%d %s" % (i, describe(ip))
                               for i, ip in items[:12])
        self.res.check(
            self.name(sc, "%d datagrams out, byte for byte" %
                      sum(want.values())),
            not missing and not extra,
            "%d only in the capture:\n  %s\n%d only in uxt's -w output:\n  %s"
            % (len(missing), show(missing), len(extra), show(extra)))

    # --- the whole run -----------------------------------------------------

    def run(self):
        self.workdir = self.keep or tempfile.mkdtemp(prefix="uxt-real-")
        os.makedirs(self.workdir, exist_ok=True)
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
        t0 = time.time()
        try:
            try:
                with open(NF_LOG_ALL_NETNS) as f:
                    self.old_log_all = f.read().strip()
                with open(NF_LOG_ALL_NETNS, "w") as f:
                    f.write("1")
                self.kmsg = Kmsg(self.token)
            except OSError as e:
                print("real_traffic: LOG lines not compared: %s" % e)
                self.kmsg = None
            self.bed = Bed(self.workdir)
            self.bed.setup()
            tstats = self.kernel_run()
            for sc in self.scenarios:
                try:
                    self.compare_scenario(sc, tstats)
                except (Broken, OSError, subprocess.SubprocessError,
                        ValueError, struct.error) as e:
                    self.res.fail(self.name(sc, "comparison"),
                                  "%s\n%s" % (e, traceback.format_exc()))
        except (Broken, OSError, subprocess.SubprocessError) as e:
            self.res.fail("real_traffic test bed", "%s\n%s" % (
                e, traceback.format_exc()))
        finally:
            signal.signal(signal.SIGTERM, old_term)
            if self.bed is not None:
                self.bed.close()
            if self.kmsg is not None:
                self.kmsg.close()
            if self.old_log_all is not None:
                try:
                    with open(NF_LOG_ALL_NETNS, "w") as f:
                        f.write(self.old_log_all)
                except OSError:
                    pass
            if self.keep:
                print("real_traffic: files kept in %s" % self.workdir)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        print("real_traffic: %.1fs" % (time.time() - t0))


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def unavailable(bindir):
    why = have_root_netns()
    if why:
        return why
    missing = [t for t in ("tcpdump", "ping", "iptables-legacy-restore",
                           "iptables-legacy-save", "sysctl")
               if not shutil.which(t)]
    if missing:
        return "missing: " + ", ".join(missing)
    if not os.access(os.path.join(bindir, "uxt"), os.X_OK):
        return "no uxt binary in " + bindir
    return None


def run(res, opts):
    why = unavailable(opts["bindir"])
    if why:
        res.skip("real_traffic", why)
        return
    Suite(res, opts["bindir"]).run()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--keep", metavar="DIR", default=None,
                    help="keep captures, rulesets and outputs in DIR")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    res = Results(a.verbose)
    why = unavailable(a.bin)
    if why:
        res.skip("real_traffic", why)
    else:
        try:
            Suite(res, a.bin, keep=a.keep).run()
        except KeyboardInterrupt:
            print("real_traffic: interrupted (namespaces removed)")
            return 130
    line = "%d passed, %d failed" % (res.passed, res.failed)
    if res.skipped:
        line += ", %d skipped" % res.skipped
    print(line)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
