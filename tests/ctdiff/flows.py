# SPDX-License-Identifier: BSD-2-Clause
"""Flows: scripted packet sequences between two ends through dut.

A flow has an initiator I and a responder R, each one of 'c' (a host on the
client link: Ethernet frames sent from the client namespace), 's' (the
server link) or 'l' (dut itself: datagrams from a raw socket in dut).  Its
steps are packets, each sent by I or by R:

  tcp    a segment; sequence and acknowledgement numbers, flags, window,
         options and payload are fixed by the script (NAT does not change
         them), so retransmissions, out-of-window segments, RSTs and both
         close orders are exact
  udp    a datagram (payload size, zero or bad checksum)
  icmp   an echo / timestamp / address-mask request or reply
  err    an ICMP error quoting the last packet of the flow this side
         received (as it received it, translated or not), from the peer
         itself or from a third address on its side
  again  the very bytes of an earlier step (a retransmission)

I always sends with the flow's original tuple.  R answers the tuple it saw:
its packets are addressed from R's view, the last packet of the flow that
reached R, taken from what left dut toward R (or, when R is dut itself,
from the kernel's conntrack entry; when nothing reached R, from what the
generator expects).  So after SNAT, DNAT, MASQUERADE or REDIRECT the flow
goes on as it would between real hosts, and the uxt side replays exactly
the frames the kernel got.

Steps marked late are sent after every flow's other steps, once the flow is
at least LATE_AFTER seconds old (UDP's stream rule: a reply seen and the
entry older than 2 s).
"""

import struct

from kdiff import netns as N
from kdiff.netns import mac_bytes
from kdiff.pkt import b2ip, csum, finish_l4_csum, fix_ip_csum, icmp, ip2b, \
    ipv4, tcp, udp

LATE_AFTER = 2.4

A = N.NET
CLIENTS = [A + ".1.2", A + ".1.3", A + ".1.9", A + ".4.5"]
SERVERS = [A + ".2.2", A + ".2.7", A + ".3.3"]
# addresses on each side that send ICMP errors about a flow's packets
# (routers between dut and the end)
THIRD = {"s": [A + ".2.9", A + ".3.1"], "c": [A + ".1.20", A + ".4.1"],
         "l": []}

MAC = {"c": (mac_bytes(N.MAC_DUT_A), mac_bytes(N.MAC_CLIENT)),
       "s": (mac_bytes(N.MAC_DUT_B), mac_bytes(N.MAC_SERVER))}

PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1}
# ICMP query types that create conntrack entries, and their answers
ICMP_QUERY = {8: 0, 13: 14, 15: 16, 17: 18}
ICMP_ERRORS = (3, 4, 5, 11, 12)

OPT_MSS = b"\x02\x04\x05\xb4"
OPT_SACKOK = b"\x04\x02"


def opt_ws(shift):
    return b"\x01\x03\x03" + bytes([shift])


def view_of(d):
    """(src, dst, sport, dport) of a datagram; ICMP: (src, dst, id, type)
    for queries and answers, (src, dst, 0, type) for others."""
    hl = (d[0] & 0xF) * 4
    src, dst, p = b2ip(d[12:16]), b2ip(d[16:20]), d[9]
    l4 = d[hl:]
    if p in (6, 17) and len(l4) >= 4:
        sp, dp = struct.unpack("!HH", l4[:4])
        return (src, dst, sp, dp)
    if p == 1 and len(l4) >= 8:
        t = l4[0]
        if t in ICMP_QUERY or t in ICMP_QUERY.values():
            return (src, dst, struct.unpack("!H", l4[4:6])[0], t)
        return (src, dst, 0, t)
    return (src, dst, 0, 0)


def retuple(d, v):
    """Datagram d with its addresses and ports (ICMP: id) replaced by view v
    = (src, dst, sport, dport), checksums recomputed: how a packet looked
    where nothing could capture it."""
    hl = (d[0] & 0xF) * 4
    b = bytearray(d)
    b[12:16] = ip2b(v[0])
    b[16:20] = ip2b(v[1])
    if d[9] in (6, 17) and len(d) >= hl + 8:
        b[hl:hl + 4] = struct.pack("!HH", v[2], v[3])
        out = finish_l4_csum(fix_ip_csum(bytes(b)))
        if d[9] == 17 and d[hl + 6:hl + 8] == b"\0\0":
            out = out[:hl + 6] + b"\0\0" + out[hl + 8:]
        return out
    if d[9] == 1 and len(d) >= hl + 8 and (d[hl] in ICMP_QUERY or
                                           d[hl] in ICMP_QUERY.values()):
        b[hl + 4:hl + 6] = struct.pack("!H", v[2])
        b[hl + 2:hl + 4] = b"\0\0"
        b[hl + 2:hl + 4] = struct.pack("!H", csum(bytes(b[hl:])))
    return fix_ip_csum(bytes(b))


def is_icmp_error(d):
    hl = (d[0] & 0xF) * 4
    return d[9] == 1 and len(d) > hl and d[hl] in ICMP_ERRORS


class Step:
    def __init__(self, who, what, late=False, note="", **p):
        self.who = who          # 'i' or 'r'
        self.what = what        # tcp, udp, icmp, err, again
        self.late = late
        self.note = note or what
        self.p = p


class Flow:
    """One scripted flow; see the module's text."""

    def __init__(self, index, proto, init, resp, orig, kind):
        self.index = index
        self.proto = proto              # 'tcp', 'udp', 'icmp'
        self.I = init                   # 'c', 's', 'l'
        self.R = resp
        self.orig = orig                # (src, dst, sport|id, dport|type)
        self.kind = kind                # what the generator made, in short
        self.plan = []                  # NAT and other rules, in words
        self.expect = None              # R's view if no rule interferes
        self.steps = []
        self.ident = 1                  # IP IDs: ident + step number
        self.zone = 0
        self.tos = 0

    def describe(self):
        o = self.orig
        if self.proto == "icmp":
            t = "%s > %s id %d" % (o[0], o[1], o[2])
        else:
            t = "%s:%d > %s:%d" % (o[0], o[2], o[1], o[3])
        return "flow %d: %s %s %s->%s %s [%s]%s" % (
            self.index, self.kind, self.proto, self.I, self.R, t,
            "; ".join(self.plan) or "no NAT",
            " zone %d" % self.zone if self.zone else "")

    def side(self, step):
        return self.I if step.who == "i" else self.R

    def has_late(self):
        return any(s.late for s in self.steps)

    # --- building one step's datagram ----------------------------------

    def build(self, k, rt):
        """The datagram of step k, given what the run saw so far (rt)."""
        st = self.steps[k]
        if st.what == "again":
            return rt.sent[st.p["step"]]
        ident = (self.ident + k) & 0xFFFF or 1
        if st.what == "err":
            return self._error(st, rt, ident)
        if st.who == "i":
            src, dst, sp, dp = self.orig
        else:
            v = rt.resp_view or self.expect
            src, dst, sp, dp = v[1], v[0], v[3], v[2]
        p = st.p
        if st.what == "tcp":
            l4 = tcp(src, dst, sp, dp, seq=p["seq"], ack=p["ack"],
                     flags=p["flags"], win=p.get("win", 64240),
                     options=p.get("opts", b""),
                     payload=p.get("payload", b""),
                     bad_csum=p.get("bad", False))
            return ipv4(src, dst, 6, l4, ident=ident, df=True, tos=self.tos)
        if st.what == "udp":
            l4 = udp(src, dst, sp, dp, p.get("payload", b""),
                     zero_csum=p.get("zero", False),
                     bad_csum=p.get("bad", False))
            return ipv4(src, dst, 17, l4, ident=ident, tos=self.tos)
        if st.what == "icmp":
            if st.who == "i":
                icmp_id = self.orig[2]
            else:
                v = rt.resp_view or self.expect
                icmp_id = v[2]
            t = p["type"]
            body = p.get("body", b"")
            l4 = icmp(t, p.get("code", 0), struct.pack("!HH", icmp_id,
                                                       p["seq"]), body,
                      bad_csum=p.get("bad", False))
            return ipv4(src, dst, 1, l4, ident=ident, tos=self.tos)
        raise AssertionError(st.what)

    def _error(self, st, rt, ident):
        p = st.p
        q = self.quoted(st.who, rt)
        src = b2ip(q[16:20]) if p["src"] == "peer" else p["src"]
        dst = b2ip(q[12:16])
        t, code = p["type"], p["code"]
        if t == 3 and code == 4:
            rest = struct.pack("!HH", 0, p.get("mtu", 1280))
        elif t == 12:
            rest = bytes([p.get("ptr", 8)]) + b"\0\0\0"
        else:
            rest = b"\0\0\0\0"
        quoted = q[:28] if p.get("short", True) else q[:548]
        l4 = icmp(t, code, rest, quoted, bad_csum=p.get("bad", False))
        return ipv4(src, dst, 1, l4, ident=ident, tos=0xc0)

    def quoted(self, who, rt):
        """The packet an ICMP error from who's side quotes: the flow's last
        packet that side received, as it received it."""
        if who == "r":
            if rt.seen_by_r is not None:
                return rt.seen_by_r
            if rt.last_i is not None:
                v = rt.resp_view or self.expect
                return retuple(rt.last_i, v) if v else rt.last_i
        else:
            if rt.seen_by_i is not None:
                return rt.seen_by_i
            if rt.last_r is not None:
                o = self.orig
                v = rt.init_view
                if v is None:
                    v = (o[1], o[0], o[3], o[2]) if self.proto != "icmp" \
                        else (o[1], o[0], o[2], 0)
                return retuple(rt.last_r, v)
        return self._made_up()

    def _made_up(self):
        src, dst, sp, dp = self.orig
        if self.proto == "icmp":
            l4 = icmp(8, 0, struct.pack("!HH", sp, 1))
        elif self.proto == "udp":
            l4 = udp(src, dst, sp, dp)
        else:
            l4 = tcp(src, dst, sp, dp)
        return ipv4(src, dst, PROTO_NUM[self.proto], l4, ident=1)

    def frame(self, side, d):
        """What the kernel side sends: an Ethernet frame from the client or
        server namespace, or the datagram itself from dut's raw socket."""
        if side == "l":
            return d
        me, peer = MAC[side]
        return me + peer + b"\x08\x00" + d


class FlowRun:
    """What one run of a flow has seen (kernel side; rebuilt from the
    recording in a self-check)."""

    def __init__(self):
        self.resp_view = None   # the flow as R receives it
        self.init_view = None   # R's packets as I receives them
        self.seen_by_r = None   # the last datagram of I that reached R
        self.seen_by_i = None   # the last datagram of R that reached I
        self.last_i = None      # the last datagram I sent
        self.last_r = None
        self.sent = {}          # step: datagram
        self.first_time = None
        self.looked_up = False


# --- scripts -----------------------------------------------------------------

class TcpScript:
    """Builds a TCP flow's steps with exact sequence numbers."""

    def __init__(self, r, flow):
        self.r = r
        self.f = flow
        self.isn = {"i": r.randrange(1, 1 << 32), "r": r.randrange(1, 1 << 32)}
        self.nxt = dict(self.isn)
        self.scale = False
        self.win = {"i": 64240, "r": 65160}

    def other(self, who):
        return "r" if who == "i" else "i"

    def seg(self, who, flags, n=0, seq=None, ack=None, opts=b"", bad=False,
            late=False, note=None, win=None, advance=True):
        o = self.other(who)
        s = self.nxt[who] if seq is None else seq
        if ack is None:
            ack = self.nxt[o] if "A" in flags else 0
        payload = bytes((self.f.index * 31 + i) & 0xFF for i in range(n))
        w = self.win[who] if win is None else win
        if self.scale and "S" not in flags:
            w = max(1, w >> 7)
        step = Step(who, "tcp", late=late, note=note or "%s %s%s" % (
            who, flags, " +%d" % n if n else ""), seq=s, ack=ack,
            flags=flags, win=w, opts=opts, payload=payload, bad=bad)
        self.f.steps.append(step)
        if advance and seq is None:
            self.nxt[who] = (self.nxt[who] + n + ("S" in flags) +
                             ("F" in flags)) & 0xFFFFFFFF
        return len(self.f.steps) - 1

    def again(self, k, note="retransmission", late=False):
        st = self.f.steps[k]
        self.f.steps.append(Step(st.who, "again", late=late,
                                 note="%s of step %d" % (note, k), step=k))

    def syn_opts(self, scale):
        o = OPT_MSS + OPT_SACKOK
        if scale:
            o += opt_ws(7)
        return o + b"\x01" * (-len(o) % 4)

    def handshake(self, kind):
        r = self.r
        scale = r.random() < 0.4
        syn = self.seg("i", "S", opts=self.syn_opts(scale))
        if kind == "syn only":
            if r.random() < 0.5:
                self.again(syn, "SYN retransmission")
            return False
        if r.random() < 0.15:
            self.again(syn, "SYN retransmission")
        if kind == "syn rst":
            # a closed port: RST+ACK from R before any other reply
            self.seg("r", "RA", note="r RST+ACK (closed port)")
            return False
        sa = self.seg("r", "SA", opts=self.syn_opts(scale))
        self.scale = scale
        if r.random() < 0.1:
            self.again(sa, "SYN+ACK retransmission")
        if kind == "no ack":
            return False
        self.seg("i", "A")
        return True

    def data(self, rounds, first=None):
        r = self.r
        for n in range(rounds):
            who = first if n == 0 and first else r.choice("iir")
            k = self.seg(who, "PA", n=r.randint(1, 300))
            x = r.random()
            if x < 0.12:
                self.again(k)
            elif x < 0.2:
                # out of window: far beyond what the receiver allows
                self.seg(who, "PA", n=20, seq=(self.nxt[who] + (1 << 30))
                         & 0xFFFFFFFF, note="%s data out of window" % who)
            elif x < 0.25:
                # an ACK for data never sent
                self.seg(who, "A", ack=(self.nxt[self.other(who)] + 5000000)
                         & 0xFFFFFFFF, note="%s ACK beyond what was sent" %
                         who)
            elif x < 0.29:
                self.seg(who, "PA", n=10, bad=True,
                         note="%s data with a bad checksum" % who,
                         advance=False)
            elif x < 0.33:
                self.seg(who, "SA", note="%s stray SYN+ACK" % who,
                         advance=False, seq=self.isn[who])
            if r.random() < 0.7:
                self.seg(self.other(who), "A")

    def close(self, kind):
        r = self.r
        if kind == "client first":
            self.seg("i", "FA")
            if r.random() < 0.5:
                self.seg("r", "A")
                self.seg("r", "FA")
            else:
                self.seg("r", "FA", note="r FIN+ACK acking the FIN")
            self.seg("i", "A")
        elif kind == "server first":
            self.seg("r", "FA")
            self.seg("i", "A")
            if r.random() < 0.3:
                self.seg("i", "PA", n=5, note="i data after the peer's FIN")
                self.seg("r", "A")
            self.seg("i", "FA")
            self.seg("r", "A")
        elif kind == "simultaneous":
            fi = self.nxt["i"]
            fr = self.nxt["r"]
            self.seg("i", "FA", ack=fr)
            self.seg("r", "FA", ack=fi)
            self.seg("i", "A")
            self.seg("r", "A")
        elif kind == "half":
            self.seg(r.choice("ir"), "FA")
            if r.random() < 0.6:
                self.seg("r" if self.f.steps[-1].who == "i" else "i", "A")
        elif kind == "rst i":
            self.seg("i", r.choice(["R", "RA"]), note="i RST")
        elif kind == "rst r":
            self.seg("r", r.choice(["R", "RA"]), note="r RST")
        elif kind == "rst out of window":
            self.seg("i", "R", seq=(self.nxt["i"] + (1 << 29)) & 0xFFFFFFFF,
                     note="i RST out of window")
            self.seg("r", "PA", n=7)
            self.seg("i", "A")
        elif kind == "fin retransmitted":
            k = self.seg("i", "FA")
            self.again(k, "FIN retransmission")
            self.seg("r", "FA")
            self.seg("i", "A")
        # "none": left open

    def reopen(self):
        """After a close: a new SYN on the same tuple (TIME_WAIT reuse)."""
        self.isn["i"] = (self.nxt["i"] + 100000) & 0xFFFFFFFF
        self.nxt["i"] = self.isn["i"]
        self.isn["r"] = (self.nxt["r"] + 777) & 0xFFFFFFFF
        self.nxt["r"] = self.isn["r"]
        self.scale = False
        self.seg("i", "S", opts=self.syn_opts(False), note="i SYN reopening")
        self.seg("r", "SA", opts=self.syn_opts(False))
        self.seg("i", "A")


def tcp_flow(r, f):
    s = TcpScript(r, f)
    x = r.random()
    if x < 0.06:
        f.kind = "tcp syn only"
        s.handshake("syn only")
        return
    if x < 0.11:
        f.kind = "tcp closed port"
        s.handshake("syn rst")
        return
    if x < 0.15:
        f.kind = "tcp half open"
        s.handshake("no ack")
        if r.random() < 0.5:
            s.seg("i", "R", note="i RST in SYN_RECV")
        return
    if x < 0.2:
        f.kind = "tcp mid-stream pickup"
        s.isn["i"] = s.nxt["i"] = r.randrange(1 << 32)
        s.data(r.randint(1, 3), first="i")
        if r.random() < 0.5:
            s.close("client first")
        return
    if x < 0.23:
        f.kind = "tcp SYN+FIN"
        s.seg("i", "SF", note="i SYN+FIN (invalid flags)")
        return
    if x < 0.26:
        f.kind = "tcp unsolicited SYN+ACK"
        s.seg("i", "SA", note="i SYN+ACK without a SYN")
        return
    s.handshake("full")
    s.data(r.randint(0, 4))
    close = r.choice(["client first", "client first", "server first",
                      "server first", "simultaneous", "half", "rst i",
                      "rst r", "rst out of window", "fin retransmitted",
                      "none"])
    f.kind = "tcp %s" % close
    s.close(close)
    if close in ("client first", "server first") and r.random() < 0.25:
        s.reopen()
        f.kind += " then reopen"
    if r.random() < 0.2:
        add_error(r, f, "i" if r.random() < 0.3 else "r")
    if close == "none" and r.random() < 0.3:
        for who in "ir":
            s.seg(who, "PA", n=3, late=True, note="%s late data" % who)


def udp_flow(r, f):
    n = r.randint(1, 200)

    def dgram(who, late=False, **kw):
        f.steps.append(Step(who, "udp", late=late, note="%s udp%s" % (
            who, " (late)" if late else ""),
            payload=bytes((i * 7 + len(f.steps)) & 0xFF
                          for i in range(kw.pop("n", n))), **kw))

    x = r.random()
    if x < 0.15:
        f.kind = "udp unanswered"
        for _ in range(r.randint(1, 3)):
            dgram("i")
        return
    if x < 0.22:
        f.kind = "udp bad checksum"
        dgram("i", bad=True)
        dgram("i")
        return
    dgram("i", zero=r.random() < 0.1)
    if r.random() < 0.2:
        dgram("i")
    dgram("r")
    k = r.random()
    if k < 0.45:
        f.kind = "udp stream"
        for _ in range(r.randint(0, 2)):
            dgram(r.choice("ir"))
        dgram("i", late=True)
        dgram("r", late=True)
        if r.random() < 0.5:
            dgram("i", late=True)
    else:
        f.kind = "udp request/reply"
        for _ in range(r.randint(0, 3)):
            dgram(r.choice("ir"))
    if r.random() < 0.35:
        add_error(r, f, "r" if r.random() < 0.75 else "i")


def icmp_flow(r, f):
    t = r.choice([8, 8, 8, 8, 8, 13, 17])
    body = {8: bytes(range(56)), 13: b"\0" * 12, 17: b"\0" * 4}[t]
    x = r.random()
    if x < 0.1:
        f.kind = "icmp unsolicited echo reply"
        f.steps.append(Step("i", "icmp", note="i echo reply, no request",
                            type=0, seq=1, body=body))
        return
    if x < 0.2:
        f.kind = "icmp unanswered"
        for q in range(r.randint(1, 2)):
            f.steps.append(Step("i", "icmp", note="i type %d" % t, type=t,
                                seq=q + 1, body=body))
        return
    f.kind = "icmp %s" % {8: "echo", 13: "timestamp", 17: "mask"}[t]
    for q in range(r.randint(1, 3)):
        f.steps.append(Step("i", "icmp", note="i type %d" % t, type=t,
                            seq=q + 1, body=body))
        f.steps.append(Step("r", "icmp", note="r type %d" % ICMP_QUERY[t],
                            type=ICMP_QUERY[t], seq=q + 1, body=body))
    if r.random() < 0.3:
        add_error(r, f, "r")
    if r.random() < 0.15:
        f.steps.append(Step("i", "icmp", late=True, note="i late request",
                            type=t, seq=9, body=body))


ERROR_KINDS = [(3, 3), (3, 3), (3, 1), (3, 4), (11, 0), (3, 13), (12, 0),
               (4, 0)]


def add_error(r, f, who):
    """An ICMP error quoting the flow's last packet seen by who's side."""
    side = f.I if who == "i" else f.R
    t, code = r.choice(ERROR_KINDS)
    src = "peer"
    if THIRD[side] and r.random() < 0.4:
        src = r.choice(THIRD[side])
    f.steps.append(Step(who, "err", note="%s ICMP %d/%d from %s" % (
        who, t, code, src), type=t, code=code, src=src,
        short=r.random() < 0.7, bad=r.random() < 0.05))
