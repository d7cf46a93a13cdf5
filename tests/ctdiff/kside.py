# SPDX-License-Identifier: BSD-2-Clause
"""The kernel side of a batch.

  1. the ruleset into dut (iptables-legacy-restore), the conntrack table
     flushed, conntrack -E started (bed.Events);
  2. the steps in the batch's order (Batch.schedule()): each step's
     datagram is built from what the flow has seen so far (flows.Flow.build),
     sent (Ethernet frame from the client or server namespace, or dut's raw
     socket), then dut is made to answer ARP on both links (kdiff's
     barrier: what the frame caused has left by then) and what left dut on
     its two links and lo is collected; what reached the flow's other end
     sets that end's view (R's packets are addressed to the tuple R saw);
     late steps wait until their flow is LATE_AFTER seconds old;
  3. iptables-legacy-save -c after each segment (consecutive steps of one
     flow), conntrack -E's lines, conntrack -L.

run_recorded() sends another batch's recorded frames instead, at the same
times relative to the first, or later if it falls behind, never with a
shorter gap between two frames (the second kernel of --self-check).
"""

import time

from kdiff.compare import Saved, delta
from kdiff.pkt import describe

from . import flows as F
from .bed import Events
from .flows import FlowRun, is_icmp_error, view_of

LATE_WAIT_MAX = 10.0


class Record:
    """One datagram the kernel side sent (or tried to)."""

    def __init__(self, n, flow, step, side, frame, t):
        self.n = n                  # position in the batch
        self.flow = flow
        self.step = step
        self.side = side            # 'c', 's', 'l'
        self.frame = frame          # Ethernet frame, or the datagram ('l')
        self.t = t
        self.error = None           # errno name: the kernel refused it
        self.out = {}               # dev: [datagram] that left dut

    def datagram(self):
        return self.frame if self.side == "l" else self.frame[14:]


class KBatch:
    def __init__(self):
        self.records = []
        self.segments = []          # (flow index, [record n], delta)
        self.final = None           # Saved
        self.events = []
        self.listing = []
        self.list_time = None
        self.start = None           # time of the first send
        self.load_error = None
        self.harness = []
        self.runs = {}              # flow index: FlowRun
        self.shift = 0.0            # how much later than the recording


class KernelSide:
    def __init__(self, bed, kernel):
        self.bed = bed
        self.kernel = kernel
        self.topo = bed.topo

    def _prepare(self, batch, kb):
        try:
            self.kernel.load(batch.ruleset)
        except Exception as e:          # noqa: BLE001 - reported
            kb.load_error = str(e)
            return None
        self.bed.flush()
        self.kernel.drain()
        return Events(self.bed)

    def _save(self):
        return Saved(self.kernel.save())

    def _send(self, kb, rec):
        """Sends rec, waits for the barrier, collects; returns the record."""
        stray = self.kernel.collect()
        if stray and kb.records:
            prev = kb.records[-1]
            for dev, frames in stray.items():
                prev.out.setdefault(dev, []).extend(frames)
            kb.harness.append("record %d: output after its barrier: %s" % (
                prev.n, "; ".join("%s %s" % (dev, describe(d)) for dev, ds
                                  in stray.items() for d in ds)))
        rec.t = time.time()
        err = self.kernel.send(rec.side, rec.frame)
        if err and err != "EPERM":
            rec.error = err
        self.kernel.barrier()
        rec.out = self.kernel.collect()
        kb.records.append(rec)
        if kb.start is None and rec.error is None:
            kb.start = rec.t
        return rec

    def _finish(self, kb, events, before, seg):
        stray = self.kernel.collect()
        if stray and kb.records:
            for dev, frames in stray.items():
                kb.records[-1].out.setdefault(dev, []).extend(frames)
            kb.harness.append("record %d: output after its barrier" %
                              kb.records[-1].n)
        if seg is not None:
            after = self._save()
            kb.segments.append((seg[0], seg[1], delta(before, after)))
            before = after
        kb.final = before
        kb.events = events.finish()
        kb.listing, kb.list_time = self.bed.listing()
        for x in self.bed.unresolved():
            kb.harness.append("dut resolved a neighbour: %s" % x)

    def run_live(self, batch):
        kb = KBatch()
        events = self._prepare(batch, kb)
        if events is None:
            return kb
        try:
            before = self._save()
            seg = None
            runs = {f.index: FlowRun() for f in batch.flows}
            kb.runs = runs
            for n, (fi, k) in enumerate(batch.schedule()):
                f = batch.flows[fi]
                st = f.steps[k]
                rt = runs[fi]
                if seg is None or seg[0] != fi:
                    if seg is not None:
                        after = self._save()
                        kb.segments.append((seg[0], seg[1],
                                            delta(before, after)))
                        before = after
                    seg = (fi, [])
                if st.late and rt.first_time is not None:
                    wait = rt.first_time + F.LATE_AFTER - time.time()
                    if wait > 0:
                        time.sleep(min(wait, LATE_WAIT_MAX))
                if st.who == "r" and f.R == "l" and f.I != "l" and \
                        not rt.looked_up:
                    rt.looked_up = True
                    v = self.lookup(f)
                    if v is not None:
                        rt.resp_view = v
                d = f.build(k, rt)
                side = f.side(st)
                rec = self._send(kb, Record(n, fi, k, side, f.frame(side, d),
                                            None))
                seg[1].append(n)
                events.pump()
                if rec.error is None and rt.first_time is None:
                    rt.first_time = rec.t
                rt.sent[k] = d
                if st.who == "i":
                    rt.last_i = d
                else:
                    rt.last_r = d
                if st.what != "err" and rec.error is None:
                    self._observe(f, st, rt, rec)
            self._finish(kb, events, before, seg)
        finally:
            events.stop()
        return kb

    def run_recorded(self, batch, recorded):
        """recorded: the KBatch of the first kernel."""
        kb = KBatch()
        events = self._prepare(batch, kb)
        if events is None:
            return kb
        try:
            before = self._save()
            start = time.time() + 0.05
            base = recorded.start if recorded.start is not None else start
            shift = start - base
            recs = {r.n: r for r in recorded.records}
            seg = None
            for fi, ns, _d in recorded.segments:
                if seg is not None:
                    after = self._save()
                    kb.segments.append((seg[0], seg[1],
                                        delta(before, after)))
                    before = after
                seg = (fi, [])
                for n in ns:
                    r0 = recs[n]
                    if r0.error is not None:
                        continue
                    # the recording's times, shifted; when this side
                    # falls behind, the shift grows, so that no gap between
                    # two packets is ever shorter than it was (UDP's 2 s)
                    wait = r0.t + shift - time.time()
                    if wait > 0:
                        time.sleep(min(wait, LATE_WAIT_MAX))
                    else:
                        shift -= wait
                    self._send(kb, Record(r0.n, r0.flow, r0.step, r0.side,
                                          r0.frame, None))
                    seg[1].append(n)
                    events.pump()
            self._finish(kb, events, before, seg)
            kb.shift = shift
        finally:
            events.stop()
        return kb

    # --- what the ends see ------------------------------------------------

    def _dev(self, side, other):
        """The device of dut facing side (None: what dut delivers to
        itself, which no capture sees, unless both ends are dut: lo)."""
        if side == "s":
            return self.topo.dut_b
        if side == "c":
            return self.topo.dut_a
        return "lo" if other == "l" else None

    def _observe(self, f, st, rt, rec):
        proto = F.PROTO_NUM[f.proto]
        if st.who == "i":
            dev = self._dev(f.R, f.I)
        else:
            dev = self._dev(f.I, f.R)
        if dev is None:
            return
        for d in rec.out.get(dev, []):
            if d[9] != proto or is_icmp_error(d):
                continue
            # the view is what the first packet to get through showed: a
            # later packet may leave untranslated (INVALID: no NAT), and
            # an answer to that would open a second entry whose tuple
            # clashes with the first one's, and the kernel would then pick
            # a random port
            if st.who == "i":
                rt.seen_by_r = d
                if rt.resp_view is None:
                    rt.resp_view = view_of(d)
            else:
                rt.seen_by_i = d
                if rt.init_view is None:
                    rt.init_view = view_of(d)
            break

    def lookup(self, f):
        """R's view of a flow R (dut) received: from the kernel's entry
        (reply tuple), or None."""
        lines, _t = self.bed.listing()
        o = f.orig
        for line in lines:
            e = parse_tuple_line(line)
            if e is None or e["proto"] != f.proto:
                continue
            a, b = e["tuples"]
            if (a["src"], a["dst"], a["p1"]) != (o[0], o[1], o[2]):
                continue
            if f.proto != "icmp" and a["p2"] != o[3]:
                continue
            if e["zone"] != f.zone:
                continue
            if f.proto == "icmp":
                return (b["dst"], b["src"], b["p1"], o[3])
            return (b["dst"], b["src"], b["p2"], b["p1"])
        return None


def parse_tuple_line(line):
    """The two tuples of a conntrack -L / -E line: {proto, tuples: [{src,
    dst, p1, p2}, {...}], zone}; p1/p2 are sport/dport, or id/type."""
    toks = line.split()
    proto = None
    for t in toks:
        if t in ("tcp", "udp", "icmp"):
            proto = t
            break
    if proto is None:
        return None
    tuples = []
    cur = None
    zone = 0
    for t in toks:
        k, eq, v = t.partition("=")
        if not eq:
            continue
        if k == "src":
            cur = {"src": v, "dst": None, "p1": 0, "p2": 0}
            tuples.append(cur)
        elif cur is None:
            continue
        elif k == "dst":
            cur["dst"] = v
        elif k in ("sport", "id"):
            cur["p1"] = int(v) if v.isdigit() else v
        elif k in ("dport", "type"):
            cur["p2"] = int(v) if v.isdigit() else v
        elif k == "zone":
            zone = int(v) if v.isdigit() else v
    if len(tuples) < 2:
        return None
    return {"proto": proto, "tuples": tuples[:2], "zone": zone}
