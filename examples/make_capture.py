#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Writes examples/centos7-firewalld.pcap, the capture make demo replays.

    python3 examples/make_capture.py [OUT.pcap]

A few dozen packets of a CentOS 7 server's day, as `tcpdump -i any -w`
would record them on the host of examples/centos7-firewalld.host: Linux
cooked v2 (DLT_LINUX_SLL2), so each record says whether it was received
or sent, its packet type (host, broadcast, multicast) and the interface
index (1 lo, 2 enp0s3).  The packets are made here, not captured: every
header and checksum is what Linux would put on the wire (TCP SYNs carry
Linux's options, pings Linux's 56 bytes), addresses are private or
documentation ranges.  The output depends only on this script, so running
it again gives the same bytes.

The host: centos7, enp0s3 192.168.1.20/24 (MAC 08:00:27:5e:2a:10), gateway
and DNS 192.168.1.1, an admin's laptop 192.168.1.50, a Windows machine
192.168.1.77 on the LAN; 203.0.113.45 is a scanner on the Internet,
198.51.100.7 an outside ssh user, 198.51.100.80 a CentOS mirror.
"""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

ME = "192.168.1.20"
GW = "192.168.1.1"
LAPTOP = "192.168.1.50"
WIN = "192.168.1.77"
SCANNER = "203.0.113.45"
OUTSIDER = "198.51.100.7"
MIRROR = "198.51.100.80"

MAC = {
    ME: "08:00:27:5e:2a:10",
    GW: "52:54:00:aa:bb:01",
    LAPTOP: "3c:22:fb:11:22:33",
    WIN: "00:1c:42:77:77:77",
}

LO, ENP0S3 = 1, 2
# sll_pkttype
HOST, BROADCAST, MULTICAST, OUTGOING = 0, 1, 2, 4


def addr(a):
    return bytes(int(x) for x in a.split("."))


def mac(m):
    return bytes.fromhex(m.replace(":", ""))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


IP_ID = [0x3a10]


def ip(src, dst, proto, payload, ttl=64, df=True, tos=0):
    IP_ID[0] = (IP_ID[0] + 7) & 0xFFFF
    h = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), IP_ID[0],
                    0x4000 if df else 0, ttl, proto, 0, addr(src), addr(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def pseudo(src, dst, proto, length):
    return addr(src) + addr(dst) + struct.pack("!BBH", 0, proto, length)


def syn_opts(tsval, tsecr=0):
    # mss 1460, sackOK, TS, nop, wscale 7: what Linux sends with a SYN
    return (bytes.fromhex("020405b40402080a") + struct.pack("!II", tsval, tsecr) +
            bytes.fromhex("01030307"))


def ts_opts(tsval, tsecr):
    return bytes.fromhex("0101080a") + struct.pack("!II", tsval, tsecr)


FLAGS = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16}


def tcp(src, dst, sport, dport, flags, seq, ack=0, win=29200, opts=b"",
        data=b"", ttl=64):
    f = sum(FLAGS[c] for c in flags)
    off = (20 + len(opts)) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, f, win, 0,
                    0) + opts
    seg = h + data
    c = csum(pseudo(src, dst, 6, len(seg)) + seg)
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return ip(src, dst, 6, seg, ttl=ttl)


def udp(src, dst, sport, dport, data, ttl=64, df=True):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = csum(pseudo(src, dst, 17, len(seg)) + seg) or 0xFFFF
    seg = seg[:6] + struct.pack("!H", c) + seg[8:]
    return ip(src, dst, 17, seg, ttl=ttl, df=df)


def icmp(src, dst, typ, code, rest, data, ttl=64, df=True):
    m = struct.pack("!BBH", typ, code, 0) + rest + data
    m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
    return ip(src, dst, 1, m, ttl=ttl, df=df)


def ping_data(sec, usec):
    # Linux ping: a struct timeval and the bytes 0x10..0x37 (56 bytes)
    return struct.pack("<QQ", sec, usec) + bytes(range(0x10, 0x38))


def dns_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def dns_query(ident, name, qtype=1):
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + dns_name(name) + \
        struct.pack("!HH", qtype, 1)


def dns_answer(ident, name, a, ttl=300):
    return struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + dns_name(name) + \
        struct.pack("!HH", 1, 1) + struct.pack("!HHHIH", 0xC00C, 1, 1, ttl, 4) + addr(a)


def nbns_query(name):
    # NetBIOS name service, broadcast name query: the name padded to 15
    # characters plus the suffix byte, each half byte as a letter
    raw = name.upper().ljust(15).encode() + b"\x00"
    enc = bytes(c for b in raw for c in (0x41 + (b >> 4), 0x41 + (b & 15)))
    return struct.pack("!HHHHHH", 0x8a01, 0x0110, 1, 0, 0, 0) + b"\x20" + enc + \
        b"\x00" + struct.pack("!HH", 0x20, 1)


def dhcp_discover(client_mac, xid):
    # BOOTREQUEST, Ethernet, the magic cookie, DHCPDISCOVER, end
    return struct.pack("!BBBBIHHIIII16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, 0, 0, 0,
                       0, mac(client_mac), b"", b"") + \
        bytes.fromhex("63825363") + bytes.fromhex("350101") + b"\xff"


def ntp(mode, stratum=0, xmt=0):
    return struct.pack("!BBbb", (4 << 3) | mode, stratum, 6, -23) + bytes(36) + \
        struct.pack("!Q", xmt)


def arp_request(sender_mac, sender, target):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac(sender_mac),
                       addr(sender), bytes(6), addr(target))


T0 = 1488362400  # 2017-03-01 10:00:00 UTC, the days of CentOS 7.3


def packets():
    """(seconds after T0, ifindex, pkttype, link source MAC, protocol,
    bytes, what it is)"""
    p = []

    def rx(t, src_mac, data, what, kind=HOST, proto=0x0800, ifindex=ENP0S3):
        p.append((t, ifindex, kind, src_mac, proto, data, what))

    def tx(t, data, what, ifindex=ENP0S3):
        p.append((t, ifindex, OUTGOING, MAC[ME] if ifindex == ENP0S3 else
                  "00:00:00:00:00:00", 0x0800, data, what))

    # the laptop looks the server up, pings it, logs in with ssh
    rx(0.000, MAC[LAPTOP], arp_request(MAC[LAPTOP], LAPTOP, ME),
       "ARP who-has (not IPv4: skipped)", kind=BROADCAST, proto=0x0806)
    for i in (1, 2):
        t = 0.001 + (i - 1)
        rx(t, MAC[LAPTOP], icmp(LAPTOP, ME, 8, 0, struct.pack("!HH", 0x1a2b, i),
                                ping_data(T0 + int(t), 1000)), "ping in")
        tx(t + 0.0002, icmp(ME, LAPTOP, 0, 0, struct.pack("!HH", 0x1a2b, i),
                            ping_data(T0 + int(t), 1000)), "ping reply out")
    rx(3.000, MAC[LAPTOP], tcp(LAPTOP, ME, 52814, 22, "S", 1203344100, win=29200,
                               opts=syn_opts(811200)), "ssh SYN in")
    tx(3.0002, tcp(ME, LAPTOP, 22, 52814, "SA", 3011400200, 1203344101, win=28960,
                   opts=syn_opts(4021900, 811200)), "ssh SYN-ACK out")
    rx(3.0010, MAC[LAPTOP], tcp(LAPTOP, ME, 52814, 22, "A", 1203344101, 3011400201,
                                win=229, opts=ts_opts(811201, 4021900)), "ssh ACK in")
    banner = b"SSH-2.0-OpenSSH_7.4\r\n"
    rx(3.0012, MAC[LAPTOP], tcp(LAPTOP, ME, 52814, 22, "PA", 1203344101, 3011400201,
                                win=229, opts=ts_opts(811201, 4021900), data=banner),
       "ssh client banner in")
    tx(3.0050, tcp(ME, LAPTOP, 22, 52814, "PA", 3011400201, 1203344122, win=227,
                   opts=ts_opts(4021905, 811201), data=banner), "ssh server banner out")

    # yum: a DNS lookup, then the mirror over http
    q = dns_query(0x5c1e, "mirrorlist.centos.org")
    tx(10.000, udp(ME, GW, 41022, 53, q, df=False), "DNS query out")
    rx(10.012, MAC[GW], udp(GW, ME, 53, 41022,
                            dns_answer(0x5c1e, "mirrorlist.centos.org", MIRROR),
                            df=False), "DNS reply in")
    tx(10.013, tcp(ME, MIRROR, 48650, 80, "S", 2290011000, opts=syn_opts(4028913)),
       "http SYN out")
    rx(10.061, MAC[GW], tcp(MIRROR, ME, 80, 48650, "SA", 77001200, 2290011001,
                            win=28960, opts=syn_opts(93114000, 4028913), ttl=52),
       "http SYN-ACK in")
    tx(10.0612, tcp(ME, MIRROR, 48650, 80, "A", 2290011001, 77001201, win=229,
                    opts=ts_opts(4028961, 93114000)), "http ACK out")

    # chronyd asks the gateway for the time
    tx(20.000, udp(ME, GW, 39811, 123, ntp(3, xmt=0xdc61a2b000000000), df=False),
       "NTP query out")
    rx(20.001, MAC[GW], udp(GW, ME, 123, 39811, ntp(4, 2, 0xdc61a2b010000000),
                            df=False), "NTP reply in")

    # traceroute's first probe, and the port unreachable that answers it
    probe = udp(ME, GW, 33434, 33434, bytes(32), ttl=1, df=False)
    tx(30.000, probe, "traceroute probe out")
    rx(30.001, MAC[GW], icmp(GW, ME, 3, 3, bytes(4), probe[:28], df=False),
       "ICMP port unreachable in (about the probe)")

    # the Internet: a ping, a scan of closed ports, an odd TCP packet, and a
    # legitimate ssh user
    rx(40.000, MAC[GW], icmp(SCANNER, ME, 8, 0, struct.pack("!HH", 0x7001, 1),
                             ping_data(T0 + 40, 5), ttl=51), "ping in from the Internet")
    tx(40.0001, icmp(ME, SCANNER, 0, 0, struct.pack("!HH", 0x7001, 1),
                     ping_data(T0 + 40, 5)), "ping reply out")
    for i, port in enumerate((80, 3306, 23)):
        rx(41.000 + i * 0.1, MAC[GW], tcp(SCANNER, ME, 61001, port, "S", 901100 + i,
                                          win=1024, opts=bytes.fromhex("020405b4"),
                                          ttl=51), "SYN in to closed port %d" % port)
    rx(41.500, MAC[GW], udp(SCANNER, ME, 61002, 161, bytes.fromhex(
        "302602010104067075626c6963a019020101020100020100300e300c06082b060102010101000500"),
        ttl=51, df=False), "SNMP in (UDP 161, closed)")
    rx(41.600, MAC[GW], tcp(SCANNER, ME, 61003, 22, "SF", 901200, win=1024, ttl=51),
       "SYN+FIN in (invalid TCP flags)")
    rx(50.000, MAC[GW], tcp(OUTSIDER, ME, 50022, 22, "S", 550123000,
                            opts=syn_opts(17000123), ttl=49), "ssh SYN in from outside")

    # the LAN's broadcast and multicast chatter
    rx(60.000, MAC[WIN], udp(WIN, "192.168.1.255", 137, 137, nbns_query("WORKGROUP"),
                             ttl=128, df=False),
       "NetBIOS name query (subnet broadcast)", kind=BROADCAST)
    rx(60.500, "02:11:22:33:44:55", udp("0.0.0.0", "255.255.255.255", 68, 67,
                                        dhcp_discover("02:11:22:33:44:55", 0x3903f326),
                                        ttl=64, df=False),
       "DHCP discover (limited broadcast)", kind=BROADCAST)
    rx(61.000, MAC[WIN], udp(WIN, "224.0.0.251", 5353, 5353, dns_query(0, "_ipp._tcp.local", 12),
                             ttl=255, df=False), "mDNS query (multicast)", kind=MULTICAST)
    rx(61.500, MAC[WIN], udp(WIN, "239.255.255.250", 51900, 1900,
                             b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n",
                             ttl=4, df=False), "SSDP search (multicast)", kind=MULTICAST)

    # postfix delivers local mail to itself over lo
    tx(70.000, tcp("127.0.0.1", "127.0.0.1", 45678, 25, "S", 3100200300, win=43690,
                   opts=bytes.fromhex("0204ffd70402080a") + struct.pack("!II", 4088000, 0) +
                   bytes.fromhex("01030307")), "smtp SYN on lo", ifindex=LO)
    return p


def write(path):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 276))
        for t, ifindex, kind, src_mac, proto, data, _ in packets():
            hatype = 772 if ifindex == LO else 1
            sll2 = struct.pack("!HHIHBB8s", proto, 0, ifindex, hatype, kind, 6,
                               mac(src_mac) + bytes(2))
            us = round(t * 1e6)
            rec = sll2 + data
            f.write(struct.pack("<IIII", T0 + us // 1000000, us % 1000000, len(rec),
                                len(rec)) + rec)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE,
                                                             "centos7-firewalld.pcap")
    write(out)
    for i, (t, _, _, _, _, _, what) in enumerate(packets(), 1):
        print("%2d  %7.3f  %s" % (i, t, what))
    print("wrote", out)


if __name__ == "__main__":
    main()
