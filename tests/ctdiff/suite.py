# SPDX-License-Identifier: BSD-2-Clause
"""The run: batches of generated flows through the kernel and through
uxtables (or, with --self-check, through a second kernel test bed: the
batch run live there too, whose frames must be the first's, or with
--self-check replay fed the first kernel's frames at the same relative
times, as uxt is), compared.

Results: one per flow (what left dut for each of its packets; its counter
moves, when the batch's counters differ; its conntrack -E lines; its
conntrack -L entries), and per batch: iptables-save -c whole, the order of
all events and the lines no flow owns, and uxt replay's own health.
"""

import os
import shutil
import signal
import tempfile
import time
import uuid

from kdiff.compare import Saved, delta, key_text, sort_key
from kdiff.kernel import Kernel

from . import compare as C
from . import gen
from .bed import Bed
from .kside import KernelSide
from .uside import UxtSide

MAX_DETAILED = 40
ASPECTS = ("out", "counters", "events", "listing")


class Other:
    """The other side of a batch, uxt's or the second kernel's, in one
    shape."""

    def __init__(self):
        self.outs = {}          # record n: {dev: [datagram]}
        self.has = set()        # record numbers the other side handled
        self.summaries = {}     # record n: [text]
        self.save = None        # Saved or None
        self.save_err = ""
        self.events = None      # [CtLine] or None
        self.listing = None
        self.shift = 0.0
        self.front = []         # problems of the front door
        self.seg_deltas = None  # [delta] per kernel segment, or None


class Runner:
    def __init__(self, res, bindir, seed, batches, nflows, only_batch=None,
                 only_flow=None, verbose=False, keep=None, self_check=False,
                 max_detailed=MAX_DETAILED, nat=True):
        self.res = res
        self.bindir = bindir
        self.seed = seed
        self.batches = batches
        self.nflows = nflows
        self.only_batch = only_batch
        self.only_flow = only_flow
        self.verbose = verbose
        self.keep = keep
        self.self_check = self_check
        self.nat = nat
        self.max_detailed = max_detailed
        self.detailed = 0
        self.groups = {}            # aspect: {cause: count}
        self.flows_run = 0
        self.packets = 0
        self.harness = []
        self.ct_skip = None

    def repro(self, b, f=None):
        s = "python3 tests/ct_diff.py --bin %s --seed %s --batch %d" % (
            self.bindir, self.seed, b)
        if f is not None:
            s += " --flow %d" % f
        if self.self_check:
            s += " --self-check %s" % self.self_check
        if not self.nat:
            s += " --no-nat"
        return s + " -v"

    def batch_list(self):
        if self.only_batch is not None:
            return [self.only_batch]
        return list(range(self.batches))

    def run(self):
        token = uuid.uuid4().hex[:4]
        workdir = self.keep or tempfile.mkdtemp(prefix="ctdiff-")
        os.makedirs(workdir, exist_ok=True)
        print("ct_diff: seed %s, %d batch(es) of %d flows%s%s, work dir %s" % (
            self.seed, len(self.batch_list()), self.nflows,
            "" if self.nat else " without NAT",
            " (self-check: kernel against kernel, %s)" % self.self_check
            if self.self_check else "", workdir), flush=True)
        beds = []
        kernels = []
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
        t0 = time.time()
        # one CPU: frames sent over a veth are queued to the sending CPU's
        # backlog, so the ARP barrier after a frame is handled after it only
        # if both were sent from the same CPU
        affinity = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(affinity)})
        try:
            bed = Bed()
            beds.append(bed)
            kernel = Kernel(bed.topo, token)
            kernels.append(kernel)
            bed.check_confirm(kernel)
            other = uxt = None
            if self.self_check:
                bed2 = Bed(suffix=bed.topo.suffix)
                beds.append(bed2)
                kernel2 = Kernel(bed2.topo, token)
                kernels.append(kernel2)
                bed2.check_confirm(kernel2)
                other = KernelSide(bed2, kernel2)
            else:
                uxt = UxtSide(self.bindir, bed, workdir)
                if uxt.ct_why:
                    self.ct_skip = "uxtables' conntrack command is not " \
                        "available yet (%s): conntrack -L and -E not " \
                        "compared" % uxt.ct_why
                    self.res.skip("ct_diff conntrack -L/-E", self.ct_skip)
            env = gen.Env(bed.topo.dut_a, bed.topo.dut_b)
            ks = KernelSide(bed, kernel)
            for b in self.batch_list():
                batch = gen.batch(self.seed, b, env, self.nflows, self.nat)
                if not self.batch(batch, ks, other, uxt, workdir):
                    break
        finally:
            signal.signal(signal.SIGTERM, old_term)
            os.sched_setaffinity(0, affinity)
            for k in kernels:
                k.close()
            for bd in reversed(beds):       # the first restores
                if self.keep:               # nf_log_all_netns last
                    bd.close(keep_namespaces=True)
                    print("ct_diff: namespaces kept: %s" % " ".join(
                        n.name for n in bd.topo.ns))
                else:
                    bd.close()
            if not self.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        self.summary(time.time() - t0)

    # --- one batch ----------------------------------------------------------

    def batch(self, batch, ks, kother, uxt, workdir):
        b = batch.index
        kb = ks.run_live(batch)
        if kb.load_error:
            self.res.fail("ct_diff b%d ruleset" % b,
                          "generator bug: the kernel refused the ruleset: "
                          "%s\nreproduce: %s" % (kb.load_error, self.repro(b)))
            return True
        for h in kb.harness:
            self.harness.append("batch %d: %s" % (b, h))
        if self.verbose:
            print("--- batch %d ruleset:\n%s" % (b, batch.ruleset))
            for n in batch.notes:
                print("--- batch %d: %s" % (b, n))
        bdir = os.path.join(workdir, "b%d" % b)
        if kother is not None:
            o = self.other_kernel(batch, kb, kother)
            label = "kernel2"
        else:
            o = self.other_uxt(batch, kb, uxt, bdir)
            if o is None:
                return True
            label = "uxt"
        keys = C.flow_keys(batch, kb)
        k_ev = C.split([C.CtLine(x, True) for x in kb.events], keys)
        k_ls = C.split([C.CtLine(x, False) for x in kb.listing], keys)
        o_ev = C.split(o.events, keys) if o.events is not None else None
        o_ls = C.split(o.listing, keys) if o.listing is not None else None

        # counters: whole batch, then per flow when they differ
        kl = kb.final.lines()
        ol = o.save.lines() if o.save is not None else None
        seg_diff = {}
        if ol is not None and kl != ol:
            deltas = o.seg_deltas
            if deltas is None and uxt is not None:
                deltas = self.uxt_deltas(batch, kb, uxt, bdir)
            if deltas is not None:
                for i, (fi, _ns, kd) in enumerate(kb.segments):
                    od = deltas[i] if i < len(deltas) else {}
                    lines = self.counter_lines(
                        kd, od, label, 10 ** 6 if self.verbose else 12)
                    if lines:
                        seg_diff.setdefault(fi, []).append((i, lines))

        # per flow
        for f in batch.flows:
            if self.only_flow is not None and f.index != self.only_flow:
                continue
            diffs = []
            recs = [r for r in kb.records if r.flow == f.index]
            lines = []
            for r in recs:
                if r.error is not None:
                    continue
                self.packets += 1
                if r.n not in o.has:
                    lines.append("packet %d (step %d): %s did not handle "
                                 "it" % (r.n, r.step, label))
                    continue
                dl = C.compare_out(r.out, o.outs.get(r.n, {}),
                                   r.datagram())
                if dl:
                    lines.append("packet %d (step %d, %s):" % (
                        r.n, r.step, f.steps[r.step].note))
                    lines += ["  " + x for x in dl]
            if lines:
                diffs.append(("out", lines))
            if f.index in seg_diff:
                lines = []
                for i, dl in seg_diff[f.index]:
                    lines.append("segment %d of the batch (packets %s):" % (
                        i, ",".join(str(n) for n in kb.segments[i][1])))
                    lines += dl
                diffs.append(("counters", lines))
            if o_ev is not None:
                dl = C.compare_events(k_ev.get(f.index, []),
                                      o_ev.get(f.index, []))
                if dl:
                    diffs.append(("events", dl))
            if o_ls is not None:
                dl = C.compare_listing(k_ls.get(f.index, []),
                                       o_ls.get(f.index, []), o.shift)
                if dl:
                    diffs.append(("listing", dl))
            self.report_flow(b, f, kb, o, recs, diffs, label)
        if self.only_flow is not None:
            return True

        # per batch
        bname = "ct_diff b%d" % b
        if ol is None:
            self.fail(bname + " counters", [("save", "-")],
                      "%s iptables-save -c failed: %s" % (label, o.save_err))
        elif kl != ol:
            lines = ["%s counters: iptables-save -c differs" % bname,
                     "reproduce: " + self.repro(b)]
            n = 0
            for i in range(max(len(kl), len(ol))):
                a = kl[i] if i < len(kl) else "<none>"
                c = ol[i] if i < len(ol) else "<none>"
                if a != c:
                    n += 1
                    if n <= 30:
                        lines += ["  kernel %s" % a, "  %-6s %s" % (label, c)]
            if n > 30:
                lines.append("  ... %d more differing lines" % (n - 30))
            self.fail(bname + " counters", [("batch counters", "-")],
                      "\n".join(lines))
        else:
            self.res.ok(bname + " counters")
        if o_ev is not None:
            dl = C.compare_events(k_ev.get(None, []), o_ev.get(None, []))
            if not dl:
                ka = [C.CtLine(x, True) for x in kb.events]
                if len(ka) != len(o.events) or not all(
                        a.same(c) for a, c in zip(ka, o.events)):
                    dl = ["the events of the flows agree flow by flow, but "
                          "not in order:"] + C.compare_events(ka, o.events)
            if dl:
                self.fail(bname + " events", [("batch events", "-")],
                          "%s events\nreproduce: %s\n%s" % (
                              bname, self.repro(b), "\n".join(dl)))
            else:
                self.res.ok(bname + " events")
        if o_ls is not None:
            dl = C.compare_listing(k_ls.get(None, []), o_ls.get(None, []),
                                   o.shift)
            if dl:
                self.fail(bname + " listing", [("batch listing", "-")],
                          "%s conntrack -L, entries of no flow\nreproduce: "
                          "%s\n%s" % (bname, self.repro(b), "\n".join(dl)))
            else:
                self.res.ok(bname + " listing")
        if o.front:
            self.fail(bname + " front door", [("front door", "-")],
                      "%s front door:\n%s" % (bname, "\n".join(o.front)))
        if self.keep and uxt is not None:
            print("batch %d kept in %s; by hand:\n  %s" % (
                b, bdir, "\n  ".join(uxt.commands(bdir))))
        return True

    # --- the other sides ----------------------------------------------------

    def other_kernel(self, batch, kb, ks2):
        """The second kernel: the same batch run live (its own answers,
        which must be the first kernel's frames) or fed the first kernel's
        recording."""
        if self.self_check == "replay":
            kb2 = ks2.run_recorded(batch, kb)
            start_shift = kb2.shift
        else:
            kb2 = ks2.run_live(batch)
            start_shift = (kb2.start or 0) - (kb.start or 0)
            sent1 = [(r.n, r.side, r.frame, r.error) for r in kb.records]
            sent2 = [(r.n, r.side, r.frame, r.error) for r in kb2.records]
            if sent1 != sent2:
                for a, c in zip(sent1 + [None] * len(sent2),
                                sent2 + [None] * len(sent1)):
                    if a != c:
                        break
                o_text = "the second kernel's run sent other frames: " \
                    "first at %s" % ("record %d" % a[0] if a else "the end")
                self.harness.append("batch %d: %s" % (batch.index, o_text))
        o = Other()
        if kb2.load_error:
            o.front.append("kernel2 refused the ruleset: %s" % kb2.load_error)
        if self.self_check != "replay" and sent1 != sent2:
            o.front.append(o_text)
        for r in kb2.records:
            if r.error is None and self.self_check != "replay" and \
                    r.n < len(kb.records) and \
                    kb.records[r.n].frame != r.frame:
                continue            # another packet: nothing to compare
            o.outs[r.n] = r.out
            o.has.add(r.n)
        o.save = kb2.final
        o.events = [C.CtLine(x, True) for x in kb2.events]
        o.listing = [C.CtLine(x, False) for x in kb2.listing]
        if kb2.list_time is not None and kb.list_time is not None:
            o.shift = kb2.list_time - start_shift - kb.list_time
        o.seg_deltas = [d for _fi, _ns, d in kb2.segments]
        for h in kb2.harness:
            self.harness.append("batch %d (kernel2): %s" % (batch.index, h))
        return o

    def other_uxt(self, batch, kb, uxt, bdir):
        b = batch.index
        ub = uxt.run_batch(batch, kb, bdir)
        if ub.restore_rc != 0:
            self.fail("ct_diff b%d ruleset" % b, [("restore", "-")],
                      "uxt iptables-restore refused what the kernel loaded "
                      "(exit %d): %s\nreproduce: %s" % (
                          ub.restore_rc, ub.restore_err.strip(),
                          self.repro(b)))
            return None
        o = Other()
        for n, obj in ub.packets.items():
            o.outs[n] = C.json_out(obj)
            o.has.add(n)
            o.summaries[n] = _uxt_summary(obj)
        nsent = sum(1 for r in kb.records if r.error is None)
        cmd = "uxt " + " ".join(ub.args)
        if ub.replay_rc != 0:
            o.front.append("%s: exit %s: %s" % (cmd, ub.replay_rc,
                                                ub.replay_err.strip()[:500]))
        if ub.nobj != nsent:
            o.front.append("%s: %d JSON objects for %d packets" % (
                cmd, ub.nobj, nsent))
        j_out = [(dev, d) for n in sorted(o.outs)
                 for dev, ds in o.outs[n].items() for d in ds]
        names = {}
        for dev in (uxt.bed.topo.dut_a, uxt.bed.topo.dut_b, "lo"):
            try:
                names[uxt.bed.topo.ifindex(dev)] = dev
            except OSError:
                pass
        w_out = [(names.get(i, i), d) for i, d in ub.wfile]
        if sorted(j_out, key=repr) != sorted(w_out, key=repr):
            o.front.append("%s: -w file (%d packets) differs from the JSON "
                           "'out' entries (%d)" % (cmd, len(w_out),
                                                   len(j_out)))
        o.save = Saved(ub.save) if ub.save is not None else None
        o.save_err = ub.save_err
        if uxt.ct_cmd:
            if ub.events is not None:
                o.events = [C.CtLine(x, True) for x in ub.events]
            if ub.events_err:
                o.front.append(ub.events_err)
            if ub.listing is not None:
                o.listing = [C.CtLine(x, False) for x in ub.listing]
            else:
                o.front.append("conntrack -L: %s" % ub.listing_err)
            if ub.list_time is not None and kb.list_time is not None:
                o.shift = ub.list_time - kb.list_time
        for h in ub.harness:
            self.harness.append("batch %d: %s" % (b, h))
        return o

    def uxt_deltas(self, batch, kb, uxt, bdir):
        got = uxt.run_segments(batch, kb, bdir)
        if isinstance(got, str):
            self.harness.append("batch %d: per-flow replay failed: %s" % (
                batch.index, got.strip()[:200]))
            return None
        before, after = got
        prev = Saved(before)
        out = []
        for text in after:
            cur = Saved(text)
            out.append(delta(prev, cur))
            prev = cur
        return out

    @staticmethod
    def counter_lines(kd, od, label, most=12):
        if kd == od:
            return []
        lines = []
        keys = [k for k in sorted(set(kd) | set(od), key=sort_key)
                if kd.get(k) != od.get(k)]
        for key in keys[:most]:
            lines.append("  %-32s kernel %-9s %s %s" % (
                key_text(key), "%d/%d" % kd.get(key, (0, 0)), label,
                "%d/%d" % od.get(key, (0, 0))))
        if len(keys) > most:
            lines.append("  ... %d more counters differ" % (len(keys) - most))
        return lines

    # --- reports ------------------------------------------------------------

    def fail(self, name, causes, detail):
        for aspect, cause in causes:
            g = self.groups.setdefault(aspect, {})
            g[cause] = g.get(cause, 0) + 1
        if self.detailed < self.max_detailed or self.only_batch is not None:
            self.detailed += 1
            self.res.fail(name, detail)
        else:
            self.res.fail(name, detail.split("\n", 1)[0])

    def report_flow(self, b, f, kb, o, recs, diffs, label):
        self.flows_run += 1
        name = "ct_diff b%d f%d (%s %s->%s)" % (b, f.index, f.kind, f.I,
                                                f.R)
        text = self.flow_text(f, kb, o, recs, label)
        if self.verbose and (self.only_flow is not None or diffs):
            print(text)
        if not diffs:
            self.res.ok(name)
            return
        lines = ["%s: %s" % (name, ", ".join(a for a, _ in diffs)),
                 "reproduce: " + self.repro(b, f.index)]
        for _a, dl in diffs:
            lines += dl
        if not self.verbose:
            lines += text.split("\n")
        cause = _cause(f)
        self.fail(name, [(a, cause) for a, _ in diffs], "\n".join(lines))

    def flow_text(self, f, kb, o, recs, label):
        lines = ["--- " + f.describe()]
        for r in recs:
            st = f.steps[r.step]
            lines.append("  [%d] %s %-28s %s%s" % (
                r.n, r.side, st.note[:28], C.describe(r.datagram()),
                " (kernel refused to send: %s)" % r.error if r.error
                else ""))
            for dev, ds in sorted(r.out.items()):
                for d in ds:
                    lines.append("        kernel out %s: %s" % (
                        dev, C.describe(d)))
            for dev, ds in sorted(o.outs.get(r.n, {}).items(),
                                  key=lambda x: str(x[0])):
                for d in ds:
                    lines.append("        %-6s out %s: %s" % (
                        label, dev, C.describe(d)))
            for s in o.summaries.get(r.n, []):
                lines.append("        " + s)
        return "\n".join(lines)

    def summary(self, secs):
        print("ct_diff: %d flows (%d packets) in %.1fs (seed %s)" % (
            self.flows_run, self.packets, secs, self.seed))
        if self.ct_skip:
            print("ct_diff: " + self.ct_skip)
        for h in self.harness[:10]:
            print("ct_diff harness note: " + h)
        if len(self.harness) > 10:
            print("ct_diff harness notes: %d more" % (len(self.harness) - 10))
        for aspect in sorted(self.groups):
            g = self.groups[aspect]
            total = sum(g.values())
            print("ct_diff: %d difference(s) in %s" % (total, aspect))
            if list(g) != ["-"]:
                for cause, n in sorted(g.items(), key=lambda x: -x[1])[:12]:
                    print("ct_diff:     %4d  %s" % (n, cause))


def _cause(f):
    """A short class of the flow, for grouping differences."""
    nat = "no NAT"
    for p in f.plan:
        w = p.split()[0]
        if w in ("SNAT", "DNAT", "MASQUERADE", "REDIRECT"):
            nat = w if nat == "no NAT" else nat + "+" + w
        elif w == "untracked":
            nat = "untracked"
    return "%s %s->%s, %s" % (f.proto, f.I, f.R, nat)


def _uxt_summary(obj):
    dec = obj.get("decided_by")
    if isinstance(dec, dict):
        dec = "%s:%s:%s%s" % (dec.get("table"), dec.get("chain"),
                              dec.get("rule"),
                              " (policy)" if dec.get("policy") else "")
    return ["uxt: %s -> %s%s%s" % (
        obj.get("summary"), obj.get("verdict"), " by " + dec if dec else "",
        " (%s)" % obj["reason"] if obj.get("reason") else "")]


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)
