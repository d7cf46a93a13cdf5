# SPDX-License-Identifier: BSD-2-Clause
"""Bytes of packets: building IPv4/TCP/UDP/ICMP datagrams (well-formed or
not), fragmenting, checksums, a one-line decoding for reports, and the pcap
files exchanged with uxt replay (Ethernet in, Linux cooked v2 and DLT_NFLOG
out)."""

import socket
import struct

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806

LINKTYPE_ETHERNET = 1
LINKTYPE_NFLOG = 239
LINKTYPE_LINUX_SLL2 = 276

TCP_FLAGS = "FSRPAUEC"   # bit 0 = FIN ... bit 7 = CWR


def ip2b(a):
    return socket.inet_aton(a)


def b2ip(b):
    return socket.inet_ntoa(b)


def csum(data, start=0):
    if len(data) % 2:
        data += b"\0"
    s = start + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def pseudo_sum(src, dst, proto, length):
    b = ip2b(src) + ip2b(dst) + struct.pack("!BBH", 0, proto, length)
    return sum(struct.unpack("!6H", b))


# --- transport headers ----------------------------------------------------

def tcp(src, dst, sport, dport, seq=0, ack=0, flags="S", win=64240,
        options=b"", payload=b"", doff=None, urg=0, res=0, bad_csum=False):
    """A TCP segment; flags is a string of FSRPAUEC letters (plus 'N' for the
    AE bit) or an int of the 9 flag bits."""
    if isinstance(flags, str):
        bits = 0
        for ch in flags:
            bits |= 0x100 if ch == "N" else 1 << TCP_FLAGS.index(ch)
        flags = bits
    opt = options + b"\0" * (-len(options) % 4)
    if doff is None:
        doff = 5 + len(opt) // 4
    off = (doff << 12) | ((res & 7) << 9) | (flags & 0x1FF)
    hdr = struct.pack("!HHIIHHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, off, win, 0, urg) + opt
    seg = hdr + payload
    c = csum(seg, pseudo_sum(src, dst, 6, len(seg)))
    if bad_csum:
        c ^= 0x5A5A
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload=b"", length=None, zero_csum=False,
        bad_csum=False):
    ln = 8 + len(payload) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, ln, 0) + payload
    if zero_csum:
        return seg
    c = csum(seg, pseudo_sum(src, dst, 17, len(seg))) or 0xFFFF
    if bad_csum:
        c ^= 0x5A5A
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp(type_, code, rest=b"\0\0\0\0", payload=b"", bad_csum=False):
    m = struct.pack("!BBH", type_, code, 0) + rest + payload
    c = csum(m)
    if bad_csum:
        c ^= 0x5A5A
    return m[:2] + struct.pack("!H", c) + m[4:]


# --- IPv4 -----------------------------------------------------------------

def ipv4(src, dst, proto, payload, ttl=64, tos=0, ident=1, df=False,
         mf=False, frag=0, ce=False, options=b"", ihl=None, tot_len=None,
         version=4, bad_csum=False):
    """An IPv4 datagram; the optional fields make it malformed on purpose."""
    opt = options + b"\0" * (-len(options) % 4)
    if ihl is None:
        ihl = 5 + len(opt) // 4
    if tot_len is None:
        tot_len = 20 + len(opt) + len(payload)
    fo = (frag & 0x1FFF) | (0x4000 if df else 0) | (0x2000 if mf else 0) | \
        (0x8000 if ce else 0)
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | (ihl & 0xF), tos,
                      tot_len & 0xFFFF, ident, fo, ttl, proto, 0, ip2b(src),
                      ip2b(dst)) + opt
    d = hdr + payload
    # the checksum covers what IHL says is the header, as the kernel checks
    c = csum(d[:max(ihl * 4, 20)])
    if bad_csum:
        c ^= 0x5A5A
    return d[:10] + struct.pack("!H", c) + d[12:]


def fix_ip_csum(d):
    """The datagram with its header checksum recomputed."""
    hl = (d[0] & 0xF) * 4
    d = bytearray(d)
    d[10:12] = b"\0\0"
    d[10:12] = struct.pack("!H", csum(bytes(d[:hl])))
    return bytes(d)


def fragments(d, size, overlap=0):
    """Splits datagram d (well-formed) into fragments carrying at most size
    bytes of payload each (a multiple of 8); with overlap, each fragment
    after the first starts overlap*8 bytes earlier than it should."""
    hl = (d[0] & 0xF) * 4
    hdr, data = d[:hl], d[hl:]
    base = struct.unpack("!H", d[6:8])[0]
    out = []
    pos = 0
    while pos < len(data):
        start = max(0, pos - overlap * 8) if pos else 0
        chunk = data[start:pos + size]
        last = pos + size >= len(data)
        fo = (base & 0x4000) | (start // 8) | (0 if last else 0x2000)
        h = bytearray(hdr)
        h[2:4] = struct.pack("!H", hl + len(chunk))
        h[6:8] = struct.pack("!H", fo)
        out.append(fix_ip_csum(bytes(h) + chunk))
        pos += size
    return out


def ether(dst, src, payload, ethertype=ETH_P_IP):
    return dst + src + struct.pack("!H", ethertype) + payload


def arp_request(src_mac, src_ip, target_ip):
    body = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, src_mac,
                       ip2b(src_ip), b"\0" * 6, ip2b(target_ip))
    return ether(b"\xff" * 6, src_mac, body, ETH_P_ARP)


def finish_l4_csum(d):
    """Completes the TCP/UDP checksum of a datagram whose checksum was left
    for the device (CHECKSUM_PARTIAL as seen by an AF_PACKET tap)."""
    if len(d) < 20:
        return d
    hl = (d[0] & 0xF) * 4
    proto = d[9]
    if struct.unpack("!H", d[6:8])[0] & 0x1FFF:
        return d
    seg = d[hl:]
    src, dst = b2ip(d[12:16]), b2ip(d[16:20])
    if proto == 6 and len(seg) >= 20:
        seg = seg[:16] + b"\0\0" + seg[18:]
        c = csum(seg, pseudo_sum(src, dst, 6, len(seg)))
        return d[:hl + 16] + struct.pack("!H", c) + d[hl + 18:]
    if proto == 17 and len(seg) >= 8:
        seg = seg[:6] + b"\0\0" + seg[8:]
        c = csum(seg, pseudo_sum(src, dst, 17, len(seg))) or 0xFFFF
        return d[:hl + 6] + struct.pack("!H", c) + d[hl + 8:]
    return d


# --- decoding, for reports ------------------------------------------------

def describe(d):
    """One line about a datagram, tcpdump-ish; never fails."""
    try:
        return _describe(d)
    except Exception:       # noqa: BLE001 - a report line, whatever the bytes
        return "%d bytes (undecodable)" % len(d)


def _describe(d):
    if len(d) < 20:
        return "truncated IP header, %d bytes" % len(d)
    ver, ihl = d[0] >> 4, (d[0] & 0xF) * 4
    tot, ident, fo = struct.unpack("!HHH", d[2:8])
    ttl, proto = d[8], d[9]
    src, dst = b2ip(d[12:16]), b2ip(d[16:20])
    flags = "".join(n for b, n in ((0x8000, "CE"), (0x4000, "DF"),
                                   (0x2000, "MF")) if fo & b)
    s = "%s > %s" % (src, dst)
    meta = "ver %d ihl %d len %d/%d id %d%s%s ttl %d tos 0x%x" % (
        ver, ihl, tot, len(d), ident, " " + flags if flags else "",
        " off %d" % ((fo & 0x1FFF) * 8) if fo & 0x1FFF else "", ttl, d[1])
    if ihl > 20:
        meta += " opts " + d[20:ihl].hex()
    l4 = d[ihl:]
    if fo & 0x1FFF:
        return "%s proto %d (fragment) [%s]" % (s, proto, meta)
    if proto == 6 and len(l4) >= 14:
        sp, dp, seq, ack = struct.unpack("!HHII", l4[:12])
        fl = struct.unpack("!H", l4[12:14])[0]
        letters = "".join(c for i, c in enumerate(TCP_FLAGS) if fl & (1 << i))
        if fl & 0x100:
            letters += "N"
        return "%s tcp %d > %d [%s] seq %d ack %d doff %d [%s]" % (
            s, sp, dp, letters, seq, ack, fl >> 12, meta)
    if proto == 17 and len(l4) >= 8:
        sp, dp, ln = struct.unpack("!HHH", l4[:6])
        return "%s udp %d > %d len %d [%s]" % (s, sp, dp, ln, meta)
    if proto == 1 and len(l4) >= 4:
        return "%s icmp %d/%d [%s]" % (s, l4[0], l4[1], meta)
    return "%s proto %d [%s]" % (s, proto, meta)


# --- pcap -----------------------------------------------------------------

def write_pcap(path, records, linktype=LINKTYPE_ETHERNET):
    """records: (timestamp seconds as float, bytes)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144,
                            linktype))
        for ts, data in records:
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
            f.write(data)


def read_pcap(path):
    """Returns (linktype, [(ts, bytes)]) of a classic pcap file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 24:
        raise ValueError("%s: not a pcap file (%d bytes)" % (path, len(raw)))
    magic = struct.unpack("<I", raw[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        raise ValueError("%s: not a classic pcap file (magic %08x)" % (
            path, magic))
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack(e + "I", raw[20:24])[0] & 0x0FFFFFFF
    out = []
    pos = 24
    while pos + 16 <= len(raw):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", raw[pos:pos + 16])
        pos += 16
        out.append((sec + frac / (1e9 if nano else 1e6),
                    raw[pos:pos + incl]))
        pos += incl
    return linktype, out


def sll2_split(rec):
    """A Linux cooked v2 record: (protocol, ifindex, pkttype, payload)."""
    proto, _res, ifindex, _hatype, pkttype, _alen = struct.unpack(
        "!HHIHBB", rec[:12])
    return proto, ifindex, pkttype, rec[20:]

