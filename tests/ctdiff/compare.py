# SPDX-License-Identifier: BSD-2-Clause
"""Comparison of conntrack -L and -E output, and of what left dut.

conntrack -L: the lines as sets (the kernel dumps in hash order, which is
random per boot: both sides are sorted), compared token by token except the
timeout, which may differ by TOLERANCE seconds after the shift between the
two listings is taken off.  uxtables lists at the kernel listing's instant
(UXT_TIME; its replay ran at the kernel's send times): no shift.  A second
kernel lists at its own time, its run shifted from the first's: the shift
is the difference (its timeouts are lower by it).  An entry the kernel
listed with less time left than the shift may have expired on the other
side and is not required there.

conntrack -E: the lines in order, token by token, the timeout of [NEW] and
[UPDATE] lines within TOLERANCE (events carry the time left when they
happened, on the same clock on both sides).

Both are also split by flow (the original tuple of each line names its
flow), so that each flow's result shows its own lines.

Datagrams: the IP ID and header checksum of ICMP errors dut makes (the
kernel picks the ID; see dut_made); nothing else.
"""

from kdiff.compare import describe, norm_dgram

from .flows import ICMP_ERRORS
from .kside import parse_tuple_line

TOLERANCE = 1.5      # one second, plus the rounding of the listing shift


class CtLine:
    def __init__(self, text, event):
        self.text = text
        toks = text.split()
        self.kind = None
        if event and toks and toks[0].startswith("["):
            self.kind = toks[0]
            toks = toks[1:]
        self.timeout = None
        norm = list(toks)
        if len(toks) > 2 and toks[2].isdigit() and toks[1].isdigit():
            self.timeout = int(toks[2])
            norm[2] = "T"
        self.norm = ((self.kind,) if event else ()) + tuple(norm)
        t = parse_tuple_line(text)
        self.key = None
        if t is not None:
            a = t["tuples"][0]
            self.key = (t["proto"], a["src"], a["dst"], a["p1"], a["p2"])

    def same(self, other, shift=0.0):
        if self.norm != other.norm:
            return False
        if self.timeout is None or other.timeout is None:
            return self.timeout == other.timeout
        return abs(other.timeout - (self.timeout - shift)) <= TOLERANCE


def flow_keys(batch, kb):
    """{(proto, src, dst, p1, p2): flow index} for the tuples a flow's
    entries can have: its original tuple, and the one its responder sent
    (an entry R's packet made when I's was not tracked)."""
    keys = {}
    for f in batch.flows:
        o = f.orig
        keys[(f.proto, o[0], o[1], o[2], o[3])] = f.index
    for f in batch.flows:
        rt = kb.runs.get(f.index)
        v = (rt.resp_view if rt else None) or f.expect
        if v and f.proto != "icmp":
            keys.setdefault((f.proto, v[1], v[0], v[3], v[2]), f.index)
    return keys


def split(lines, keys):
    """{flow index or None: [CtLine]}"""
    out = {}
    for x in lines:
        out.setdefault(keys.get(x.key), []).append(x)
    return out


def compare_listing(k, u, shift):
    """k, u: [CtLine] of one flow (or the unattributed ones); returns
    detail lines, empty when they agree."""
    left = list(u)
    missing = []
    for a in sorted(k, key=lambda x: x.text):
        for i, b in enumerate(left):
            if a.same(b, shift):
                del left[i]
                break
        else:
            if a.timeout is not None and a.timeout - shift <= TOLERANCE:
                continue            # may have expired since
            missing.append(a)
    if not missing and not left:
        return []
    out = ["conntrack -L: kernel %d entr%s, other %d (timeouts compared "
           "after a shift of %.1f s)" % (len(k), "y" if len(k) == 1 else
                                         "ies", len(u), shift)]
    for a in missing:
        out.append("  kernel only %s" % a.text)
    for b in left:
        out.append("  other only  %s" % b.text)
    return out


def compare_events(k, u):
    if len(k) == len(u) and all(a.same(b) for a, b in zip(k, u)):
        return []
    i = 0
    while i < len(k) and i < len(u) and k[i].same(u[i]):
        i += 1
    out = ["conntrack -E: kernel %d event(s), other %d; the first %d agree" %
           (len(k), len(u), i)]
    for a in k[i:i + 5]:
        out.append("  kernel %s" % a.text)
    if len(k) > i + 5:
        out.append("  kernel ... (%d more)" % (len(k) - i - 5))
    for b in u[i:i + 5]:
        out.append("  other  %s" % b.text)
    if len(u) > i + 5:
        out.append("  other  ... (%d more)" % (len(u) - i - 5))
    return out


def _ip_id(d):
    return d[4:6] if len(d) >= 20 else None


def dut_made(d, sent):
    """True if d, which left dut after the datagram sent went in, is an
    ICMP error dut made itself (a REJECT reply, an error of forwarding):
    its IP ID is the kernel's pick.  An error the harness sent and dut
    forwarded keeps the sent datagram's ID.  (kdiff's norm_dgram only
    knows errors from dut's own addresses; after NAT, dut's errors about
    a translated flow carry the flow's addresses.)"""
    return len(d) >= 28 and d[0] >> 4 == 4 and d[9] == 1 and \
        d[(d[0] & 0xF) * 4] in ICMP_ERRORS and \
        not int.from_bytes(d[6:8], "big") & 0x1FFF and \
        _ip_id(d) != _ip_id(sent)


def _norm(d):
    return d[:4] + b"\0\0" + d[6:10] + b"\0\0" + d[12:]


def compare_out(kout, uout, sent=b""):
    """kout, uout: {dev: [datagram]} of one packet (sent: the datagram
    that went in); detail lines.  Where the kernel sent an ICMP error it
    made (dut_made), the IP ID and header checksum at that position are
    not compared, on both sides."""
    lines = []
    for dev in sorted(set(kout) | set(uout), key=str):
        k = list(kout.get(dev, []))
        u = list(uout.get(dev, []))
        for i, d in enumerate(k):
            if dut_made(d, sent):
                k[i] = _norm(d)
                if i < len(u) and len(u[i]) >= 20:
                    u[i] = _norm(u[i])
        k = [norm_dgram(d) for d in k]
        u = [norm_dgram(d) for d in u]
        if k == u:
            continue
        lines.append("out %s: kernel %d datagram(s), other %d" % (
            dev, len(k), len(u)))
        for i in range(max(len(k), len(u))):
            a = k[i] if i < len(k) else None
            b = u[i] if i < len(u) else None
            if a == b:
                continue
            if a is not None:
                lines.append("  kernel %s" % describe(a))
                lines.append("         %s" % a.hex()[:160])
            if b is not None:
                lines.append("  other  %s" % describe(b))
                lines.append("         %s" % b.hex()[:160])
    return lines


def json_out(obj):
    """{dev: [datagram]} from a uxt replay JSON object."""
    out = {}
    for o in (obj or {}).get("out") or []:
        try:
            d = bytes.fromhex(o.get("hex", ""))
        except ValueError:
            d = b"<bad hex>"
        out.setdefault(o.get("dev"), []).append(d)
    return out
