# SPDX-License-Identifier: BSD-2-Clause
"""Comparison of what the kernel did with what uxtables did.

Per case (a packet, or the fragments of one datagram, through the batch's
ruleset):
  out       the datagrams that left dut, per device (its two veths and lo),
            byte for byte, in order
  log       the LOG and TRACE lines, in order, "<level>text"
Per batch:
  counters  iptables-save -c of both, whole (rule texts, policies, packet
            and byte counters; the header comments aside).  When they
            differ, uxt's side is replayed again case by case, with
            iptables-save -c after each, and the cases whose counter moves
            (packets and bytes, per rule and policy) differ from the
            kernel's (iptables-legacy-save -c after each case) are reported
            (a --trace cannot tell: the rules that a REJECT reply or an
            ICMP error crosses count while the packet that caused it is
            handled, but are not part of its trace)
  nflog     the NFLOG messages of each group, in order (nfnetlink_log
            attributes, the timestamp's value aside)
  front door  uxt replay's exit status, its -w file and --log file against
            its JSON output

Normalised: the IP ID of ICMP errors that dut itself sends (REJECT replies,
time exceeded, fragmentation needed), and with it the header checksum,
because the kernel picks that ID (ip_select_ident); the same field in LOG
lines and NFLOG payloads of such packets (and in the NFLOG link-layer
header of such a packet looped back to dut, which is its IP header's
start); NFLOG timestamps.  And the
times an IP timestamp option holds (ts_align): dut writes its clock there
(milliseconds since midnight UT) when it receives the datagram, and when it
echoes the option in an ICMP error, while uxt takes the time of the frame in
the replayed capture (when the harness sent it); the two may fall in
different milliseconds.  Where a datagram (or a LOG line's OPT (...), or an
NFLOG payload) differs from the kernel's only in such times, each within
TS_TOLERANCE_MS of the kernel's, uxt's times are taken to be the kernel's
(in a datagram, checksums that were right over uxt's bytes are made right
over the new ones; a stale one, as the kernel leaves in a header whose
options it filled in, stays as it was).  Only the 32-bit times before the
option's pointer, in the IP header and in the one an ICMP error quotes, are
looked at; addresses, pointers, flags and overflow counts are compared as
they are.  Nothing else.
"""

import re
import struct

from . import netns as N
from .pkt import b2ip, csum, describe

ICMP_ERRORS = (3, 4, 5, 11, 12)
NFULA_TIMESTAMP = 3
NFULA_PAYLOAD = 9
NFULA_HWHEADER = 16


def _dut_addr(a):
    return a in (N.DUT_A_IP, N.DUT_B_IP) or a.startswith("127.")


def kernel_picked_id(d):
    """True if d is an ICMP error dut made (its IP ID is the kernel's)."""
    if len(d) < 20 or d[0] >> 4 != 4:
        return False
    hl = (d[0] & 0xF) * 4
    # a copy cut short (NFLOG --nflog-size) may not show the ICMP type
    return d[9] == 1 and (len(d) <= hl or d[hl] in ICMP_ERRORS) and \
        not struct.unpack("!H", d[6:8])[0] & 0x1FFF and \
        _dut_addr(b2ip(d[12:16]))


def norm_dgram(d):
    if kernel_picked_id(d):
        return d[:4] + b"\0\0" + d[6:10] + b"\0\0" + d[12:]
    return d


TS_TOLERANCE_MS = 1000
MS_PER_DAY = 86400000
IPOPT_TIMESTAMP = 68


def _ts_slots(d, hoff):
    """Offsets in d of the times the timestamp option of the IPv4 header
    at hoff holds before its pointer."""
    out = []
    if hoff + 20 > len(d) or d[hoff] >> 4 != 4:
        return out
    end = min(hoff + (d[hoff] & 0xF) * 4, len(d))
    i = hoff + 20
    while i < end:
        t = d[i]
        if t == 0:
            break
        if t == 1:
            i += 1
            continue
        if i + 1 >= end:
            break
        ln = d[i + 1]
        if ln < 2 or i + ln > end:
            break
        if t == IPOPT_TIMESTAMP and ln >= 4:
            # flags 0: times only; else (address, time) pairs
            step = 4 if d[i + 3] & 0xF == 0 else 8
            j = step
            while j + 4 <= min(ln, d[i + 2] - 1):
                out.append(i + j)
                j += step
        i += ln
    return out


def _ts_close(a, b):
    x, y = struct.unpack("!I", a)[0], struct.unpack("!I", b)[0]
    if x >= MS_PER_DAY or y >= MS_PER_DAY:
        return False
    diff = abs(x - y)
    return min(diff, MS_PER_DAY - diff) <= TS_TOLERANCE_MS


def _csum_valid(b):
    return len(b) >= 2 and csum(bytes(b)) == 0


def _set_csum(buf, start, end, field):
    buf[field:field + 2] = b"\0\0"
    buf[field:field + 2] = struct.pack("!H", csum(bytes(buf[start:end])))


def ts_align(k, u):
    """u (a datagram of uxt's) with the times of its IP timestamp options
    taken from k (the kernel's) where that is all they differ in and each is
    within TS_TOLERANCE_MS (see the module's docstring); else u."""
    if k is None or u is None or len(k) != len(u) or k == u or len(k) < 20:
        return u
    hl = (k[0] & 0xF) * 4
    slots = _ts_slots(k, 0)
    inner = None
    if k[9] == 1 and len(k) >= hl + 28 and k[hl] in ICMP_ERRORS and \
            not struct.unpack("!H", k[6:8])[0] & 0x1FFF:
        inner = hl + 8
        slots += _ts_slots(k, inner)
    if not slots:
        return u
    buf = bytearray(u)
    regions = []                # (start, end, checksum field), inner first
    if inner is not None:
        ihl = (k[inner] & 0xF) * 4
        if inner + ihl <= len(k):
            regions.append((inner, inner + ihl, inner + 10))
        regions.append((hl, len(k), hl + 2))
    regions.append((0, hl, 10))
    valid = [_csum_valid(buf[a:b]) for a, b, _f in regions]
    changed = False
    for off in slots:
        if k[off:off + 4] == u[off:off + 4]:
            continue
        if not _ts_close(k[off:off + 4], u[off:off + 4]):
            return u
        buf[off:off + 4] = k[off:off + 4]
        changed = True
    if not changed:
        return u
    for (a, b, f), ok in zip(regions, valid):
        if ok:
            _set_csum(buf, a, b, f)
    return bytes(buf)


_LOG_OPT = re.compile(r"OPT \(([0-9A-F]*)\) ")


def log_ts_align(k, u):
    """A LOG line of uxt's with the times in its OPT (...) groups taken from
    the kernel's line k where that is all they differ in."""
    if k == u:
        return u
    ko, uo = _LOG_OPT.findall(k), _LOG_OPT.findall(u)
    if len(ko) != len(uo) or ko == uo:
        return u
    new = []
    for a, b in zip(ko, uo):
        if a == b or len(a) != len(b) or len(a) % 8 or len(a) > 80:
            new.append(b)
            continue
        head = bytes([0x45 + len(a) // 8]) + b"\0" * 19
        ka, ub = bytearray(head + bytes.fromhex(a)), bytearray(
            head + bytes.fromhex(b))
        for off in _ts_slots(bytes(ka), 0):
            if ka[off:off + 4] != ub[off:off + 4] and \
                    _ts_close(ka[off:off + 4], ub[off:off + 4]):
                ub[off:off + 4] = ka[off:off + 4]
        new.append(bytes(ub[20:]).hex().upper())
    parts = _LOG_OPT.split(u)
    # split keeps the groups at the odd positions
    for i, g in enumerate(new):
        parts[2 * i + 1] = "OPT (%s) " % g
    return "".join(parts)


_LOG_ICMPERR = re.compile(r" SRC=(\S+) .*? PROTO=ICMP TYPE=(\d+) ")
_LOG_ID = re.compile(r" ID=\d+ ")


def norm_log(line):
    m = _LOG_ICMPERR.search(line)
    if m and _dut_addr(m.group(1)) and int(m.group(2)) in ICMP_ERRORS:
        return _LOG_ID.sub(" ID=? ", line, count=1)
    return line


def log_line_collected(text, token, names):
    """Whether a log line (without its "<level>") is one this run collects:
    its prefix carries the run's token, it names one of dut's interfaces,
    or it is about lo and this test bed's addresses.  The kernel's /dev/kmsg
    also holds other namespaces' lines, so lines on lo about other addresses
    (127.0.0.1) cannot be told apart and are left out on both sides."""
    if text.startswith("K" + token):
        return True
    i = text.find("IN=")
    if i < 0:
        return False
    fields = text[i:].split(" ", 2)
    if len(fields) < 2:
        return False
    devs = (fields[0][3:], fields[1][4:])
    if any(d in names for d in devs):
        return True
    if "lo" in devs:
        return (" SRC=%s." % N.NET) in text or (" DST=%s." % N.NET) in text
    return False


def nflog_attrs(rec):
    """A DLT_NFLOG record / nfnetlink_log message body: (header, attrs)."""
    head = rec[:4]
    attrs = []
    raw = None
    pos = 4
    while pos + 4 <= len(rec):
        ln, typ = struct.unpack("=HH", rec[pos:pos + 4])
        if ln < 4:
            attrs.append(("bad-length", rec[pos:]))
            break
        val = rec[pos + 4:pos + ln]
        t = typ & 0x3FFF
        if t == NFULA_TIMESTAMP:
            val = b"<time>"
        elif t == NFULA_PAYLOAD:
            raw = val
            val = norm_dgram(val)
        attrs.append((typ, val))
        pos += (ln + 3) & ~3
    # a datagram looped back to dut has its IP header for link-layer
    # header: the same field normalised there
    if raw is not None and raw != norm_dgram(raw):
        attrs = [(typ, norm_dgram(raw)[:len(v)] if (typ & 0x3FFF) ==
                  NFULA_HWHEADER and v and v == raw[:len(v)] else v)
                 for typ, v in attrs]
    return head, attrs


def nflog_ts_align(k, u):
    """uxt's NFLOG message (nflog_attrs) with the times of the payload's IP
    timestamp options taken from the kernel's k where that is all they
    differ in (ts_align)."""
    (kh, ka), (uh, ua) = k, u
    if len(ka) != len(ua):
        return u
    out = []
    for (kt, kv), (ut, uv) in zip(ka, ua):
        if kt == ut and (kt & 0x3FFF) == NFULA_PAYLOAD:
            uv = ts_align(kv, uv)
        out.append((ut, uv))
    return uh, out


NFLOG_NAMES = {1: "PACKET_HDR", 2: "MARK", 3: "TIMESTAMP", 4: "IFINDEX_INDEV",
               5: "IFINDEX_OUTDEV", 8: "HWADDR", 9: "PAYLOAD", 10: "PREFIX",
               11: "UID", 14: "GID", 15: "HWTYPE", 16: "HWHEADER",
               17: "HWLEN"}


def nflog_text(rec):
    head, attrs = nflog_attrs(rec)
    parts = ["hdr " + head.hex()]
    for typ, val in attrs:
        name = NFLOG_NAMES.get(typ & 0x3FFF, str(typ))
        if (typ & 0x3FFF) == NFULA_PAYLOAD:
            parts.append("%s=<%s>" % (name, describe(val)))
        elif isinstance(val, bytes) and val != b"<time>":
            parts.append("%s=%s" % (name, val.hex()))
        else:
            parts.append("%s" % name)
    return " ".join(parts)


# --- iptables-save -c -------------------------------------------------------

_CHAIN = re.compile(r"^:(\S+) (\S+) \[(\d+):(\d+)\]$")
_RULE = re.compile(r"^\[(\d+):(\d+)\] (-A (\S+).*)$")


class Saved:
    """iptables-save -c output: per table, chains (policy and counters) and
    rules (text and counters)."""

    def __init__(self, text):
        self.tables = {}
        self.order = []
        self.errors = []
        table = None
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            if line.startswith("*"):
                table = line[1:]
                self.tables[table] = {"chains": {}, "chain_order": [],
                                      "rules": []}
                self.order.append(table)
                continue
            if line == "COMMIT" or table is None:
                continue
            t = self.tables[table]
            m = _CHAIN.match(line)
            if m:
                t["chains"][m.group(1)] = (m.group(2), int(m.group(3)),
                                           int(m.group(4)))
                t["chain_order"].append(m.group(1))
                continue
            m = _RULE.match(line)
            if m:
                t["rules"].append((m.group(4), m.group(3), int(m.group(1)),
                                   int(m.group(2))))
                continue
            self.errors.append(line)

    def counters(self):
        """{(table, chain, rule number or 'P'): (packets, bytes)}"""
        out = {}
        for table, t in self.tables.items():
            for chain, (pol, p, b) in t["chains"].items():
                if pol != "-":
                    out[(table, chain, "P")] = (p, b)
            num = {}
            for chain, _text, p, b in t["rules"]:
                num[chain] = num.get(chain, 0) + 1
                out[(table, chain, num[chain])] = (p, b)
        return out

    def lines(self):
        """Comparable lines (headers and dates aside)."""
        out = []
        for table in self.order:
            t = self.tables[table]
            out.append("*" + table)
            for c in t["chain_order"]:
                pol, p, b = t["chains"][c]
                out.append(":%s %s [%d:%d]" % (c, pol, p, b))
            for chain, text, p, b in t["rules"]:
                out.append("[%d:%d] %s" % (p, b, text))
            out.append("COMMIT")
        return out


def delta(before, after):
    """Counter moves between two Saved: {key: (packets, bytes)} (non-zero)."""
    a, b = before.counters(), after.counters()
    out = {}
    for k, v in b.items():
        w = a.get(k, (0, 0))
        if v != w:
            out[k] = (v[0] - w[0], v[1] - w[1])
    return out


def key_text(k):
    table, chain, r = k
    return "%s:%s:%s" % (table, chain, "policy" if r == "P" else r)


# --- one case ---------------------------------------------------------------

def _dgram_lines(label, dgrams):
    out = []
    for d in dgrams:
        h = d.hex()
        out.append("  %s %s" % (label, describe(d)))
        out.append("  %s   %s%s" % (" " * len(label), h[:200],
                                    "..." if len(h) > 200 else ""))
    return out


def _first_diff(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


def compare_case(kc, packets, token, names):
    """kc: the kernel's observations of a case; packets: uxt's JSON objects
    for it.  Returns [(aspect, [detail lines])]."""
    diffs = []
    # outputs
    u_out = {}
    bad_hex = []
    for p in packets:
        for o in p.get("out") or []:
            try:
                d = bytes.fromhex(o.get("hex", ""))
            except ValueError:
                bad_hex.append(o)
                continue
            u_out.setdefault(o.get("dev"), []).append(d)
    lines = []
    for dev in sorted(set(kc.out) | set(u_out), key=str):
        k = kc.out.get(dev, [])
        u = [ts_align(k[i] if i < len(k) else None, d)
             for i, d in enumerate(u_out.get(dev, []))]
        k = [norm_dgram(d) for d in k]
        u = [norm_dgram(d) for d in u]
        if k == u:
            continue
        lines.append("out %s: kernel %d datagram(s), uxt %d" % (
            dev, len(k), len(u)))
        for i in range(max(len(k), len(u))):
            a = k[i] if i < len(k) else None
            b = u[i] if i < len(u) else None
            if a == b:
                continue
            if a is not None and b is not None:
                lines.append("  #%d differs from byte %d" % (
                    i + 1, _first_diff(a, b)))
            lines += _dgram_lines("kernel", [a] if a is not None else [])
            lines += _dgram_lines("uxt   ", [b] if b is not None else [])
    if bad_hex:
        lines.append("uxt out entries without valid hex: %r" % bad_hex[:3])
    if lines:
        diffs.append(("out", lines))
    # log lines
    k = [norm_log(x) for x in kc.log]
    u = []
    for p in packets:
        u += [norm_log(x) for x in p.get("log") or []
              if log_line_collected(x.partition(">")[2], token, names)]
    u = [log_ts_align(k[i], x) if i < len(k) else x for i, x in enumerate(u)]
    if k != u and not kc.log_unreliable:
        lines = ["log: kernel %d line(s), uxt %d" % (len(k), len(u))]
        i = 0
        while i < len(k) and i < len(u) and k[i] == u[i]:
            i += 1
        lines.append("  (the first %d agree)" % i)
        for x in k[i:i + 6]:
            lines.append("  kernel %s" % x)
        for x in u[i:i + 6]:
            lines.append("  uxt    %s" % x)
        diffs.append(("log", lines))
    return diffs


def sort_key(k):
    return (k[0], k[1], 10 ** 6 if k[2] == "P" else k[2])


def uxt_summary(packets):
    out = []
    for p in packets:
        dec = p.get("decided_by")
        if isinstance(dec, dict):
            dec = "%s:%s:%s%s" % (dec.get("table"), dec.get("chain"),
                                  dec.get("rule"),
                                  " (policy)" if dec.get("policy") else "")
        out.append("  uxt: %s -> %s%s%s" % (
            p.get("summary"), p.get("verdict"),
            " by " + dec if dec else "",
            " (%s)" % p["reason"] if p.get("reason") else ""))
    return out
