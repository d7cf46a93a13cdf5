# SPDX-License-Identifier: BSD-2-Clause
"""The run: batches of generated cases through the kernel and uxtables.

For each batch (one ruleset, ~20 cases):
  1. the kernel side: iptables-legacy-restore into dut, then per case: send
     its frames, wait for the ARP barrier, collect what left dut, the log
     lines, NFLOG messages and the counters (iptables-legacy-save -c);
  2. the uxt side: the same ruleset into a private UXT_STATE, the frames the
     kernel sent (with their send times) replayed inside dut, one replay
     per direction, then iptables-save -c;
  3. comparison per case and per batch (compare.py); each case is one
     result (ok, or a failure naming what differs and how to reproduce it).

--self-check runs the kernel against itself instead of uxt: the same
batches in a second test bed with the same interface names.  It must show
no difference; it is how the harness proves that what it compares is a
function of the packets and the rules only.
"""

import os
import random
import shutil
import signal
import tempfile
import time
import uuid

from . import compare as C
from . import gen
from .kernel import Kernel, KernelError
from .netns import Topology
from .uxt import Uxt

NFLOG_GROUPS = gen.NFLOG_GROUPS
MAX_DETAILED = 40


class KCase:
    """What the kernel did with one case."""

    def __init__(self, index):
        self.index = index
        self.sent = []          # (time, frame index)
        self.errors = []        # (frame index, errno name)
        self.out = {}           # dev: [datagram]
        self.log = []
        self.nflog = []         # (group, body)
        self.delta = {}
        self.late = False
        self.log_unreliable = None


class KBatch:
    """What the kernel did with one batch."""

    def __init__(self):
        self.cases = {}
        self.final = None
        self.load_error = None
        self.harness = []


def kernel_batch(kernel, batch):
    """Runs a batch through the kernel: KBatch."""
    kb = KBatch()
    # per-batch settings; uxt replay, run in dut afterwards, reads them too
    for key, value in batch.sysctls:
        kernel.topo.dut.sysctl(key, value)
    try:
        kernel.load(batch.ruleset)
    except KernelError as e:
        kb.load_error = str(e)
        return kb
    kernel.drain()
    before = C.Saved(kernel.save())
    prev = None

    def late(prev):
        # anything still arriving belongs to the previous case
        stray = kernel.collect()
        slog = kernel.read_log()
        snf = kernel.read_nflog()
        if prev is not None and (stray or slog or snf):
            prev.late = True
            for dev, frames in stray.items():
                prev.out.setdefault(dev, []).extend(frames)
            prev.log += slog
            prev.nflog += snf
            kb.harness.append("case %d: output after its barrier" %
                              prev.index)

    for case in batch.cases:
        late(prev)
        kc = KCase(case.index)
        kernel.topo.assert_log_all()
        overruns = kernel.overruns
        sent_at = []
        for i, fr in enumerate(case.frames):
            t = time.time()
            sent_at.append(t)
            err = kernel.send(case.direction, fr)
            if err and err != "EPERM":
                kc.errors.append((i, err))
            else:
                kc.sent.append((t, i))
        kernel.barrier()
        kc.out = kernel.collect()
        kc.log = kernel.read_log()
        kc.nflog = kernel.read_nflog()
        if not kernel.topo.log_all():
            kc.log_unreliable = "nf_log_all_netns was turned off meanwhile"
        elif kernel.overruns != overruns:
            kc.log_unreliable = "the kernel log overran (records lost)"
        if kc.log_unreliable:
            kb.harness.append("case %d: %s; its log lines are not compared"
                              % (case.index, kc.log_unreliable))
        after = C.Saved(kernel.save())
        kc.delta = C.delta(before, after)
        if (kc.errors and not kc.sent and kc.delta and
                len(kc.errors) == len(case.frames) and
                max(p for p, _b in kc.delta.values()) == len(case.frames)):
            # every frame refused, by a hook rather than by the socket: the
            # counters moved once per frame, so netfilter saw each (e.g.
            # EINVAL from the reroute after mangle OUTPUT changed the mark
            # of a datagram from 127.0.0.1)
            kc.sent = [(sent_at[i], i) for i, _e in kc.errors]
            kc.errors = []
        before = after
        kb.cases[case.index] = kc
        prev = kc
    late(prev)
    kb.final = before
    return kb


def kernel_as_uxt(kb):
    """A kernel batch dressed as uxt's output (for --self-check)."""
    per_case = {}
    for idx, kc in kb.cases.items():
        out = [{"dev": dev, "hex": d.hex()} for dev in kc.out
               for d in kc.out[dev]]
        per_case[idx] = [{"packet": 1, "out": out, "log": kc.log}]
    return per_case


class Runner:
    def __init__(self, res, bindir, seed, batches, ncases, only_batch=None,
                 only_case=None, verbose=False, keep=None, self_check=False,
                 max_detailed=MAX_DETAILED):
        self.res = res
        self.bindir = bindir
        self.seed = seed
        self.batches = batches
        self.ncases = ncases
        self.only_batch = only_batch
        self.only_case = only_case
        self.verbose = verbose
        self.keep = keep
        self.self_check = self_check
        self.max_detailed = max_detailed
        self.detailed = 0
        self.groups = {}
        self.cases_run = 0
        self.refused = 0
        self.harness = []

    def repro(self, b, c=None):
        s = "python3 tests/kernel_diff.py --bin %s --seed %s --batch %d" % (
            self.bindir, self.seed, b)
        if c is not None:
            s += " --case %d" % c
        return s + " -v"

    def fail(self, name, aspects, detail):
        for a in aspects:
            self.groups.setdefault(a, []).append(name)
        if self.detailed < self.max_detailed or self.only_batch is not None:
            self.detailed += 1
            self.res.fail(name, detail)
        else:
            self.res.fail(name, detail.split("\n", 1)[0])

    def run(self):
        rnd = random.Random("topology:%s" % self.seed)
        mtu_a = rnd.choice([1500, 1500, 1450])
        mtu_b = rnd.choice([1400, 1280, 1000, 1492])
        token = uuid.uuid4().hex[:4]
        workdir = self.keep or tempfile.mkdtemp(prefix="kdiff-")
        os.makedirs(workdir, exist_ok=True)
        print("kernel_diff: seed %s, %d batch(es) of %d cases, MTUs %d/%d, "
              "work dir %s" % (self.seed, len(self.batch_list()), self.ncases,
                               mtu_a, mtu_b, workdir), flush=True)
        topo = topo2 = kernel = kernel2 = None
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
        t0 = time.time()
        try:
            topo = Topology(mtu_a, mtu_b)
            env = gen.Env(topo.dut_a, topo.dut_b, token, mtu_a, mtu_b)
            kernel = Kernel(topo, token, NFLOG_GROUPS)
            if self.self_check:
                topo2 = Topology(mtu_a, mtu_b, suffix=topo.suffix)
                kernel2 = Kernel(topo2, token, NFLOG_GROUPS)
            uxt = Uxt(self.bindir, topo, workdir)
            for b in self.batch_list():
                batch = gen.batch(self.seed, b, env, self.ncases)
                if not self.batch(batch, kernel, kernel2, uxt, workdir, topo):
                    break
        finally:
            signal.signal(signal.SIGTERM, old_term)
            for k in (kernel, kernel2):
                if k is not None:
                    k.close()
            for t in (topo2, topo):     # reverse order: topo restores the
                if t is None:           # nf_log_all_netns it found
                    continue
                if self.keep:
                    # left for the commands printed above; the next run
                    # removes them, or: ip netns del NAME
                    t.close(keep_namespaces=True)
                    print("kernel_diff: namespaces kept: %s" % " ".join(
                        n.name for n in t.ns))
                else:
                    t.close()
            if not self.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        self.summary(time.time() - t0)

    def batch_list(self):
        if self.only_batch is not None:
            return [self.only_batch]
        return list(range(self.batches))

    def batch(self, batch, kernel, kernel2, uxt, workdir, topo):
        """Runs and compares one batch; returns False when the run should
        stop."""
        b = batch.index
        kb = kernel_batch(kernel, batch)
        if kb.load_error:
            self.res.fail("kernel_diff b%d ruleset" % b,
                          "generator bug: the kernel refused the ruleset: %s\n"
                          "reproduce: %s" % (kb.load_error, self.repro(b)))
            return True
        for h in kb.harness:
            self.harness.append("batch %d: %s" % (b, h))
        bdir = os.path.join(workdir, "b%d" % b)
        sent = {i: kc.sent for i, kc in kb.cases.items()}
        if self.verbose:
            print("--- batch %d ruleset:\n%s" % (b, batch.ruleset))
            print("--- batch %d settings of dut: %s" % (b, ", ".join(
                "%s=%s" % kv for kv in batch.sysctls)))

        # the other side: uxt, or the kernel again (--self-check)
        kb2 = ub = None
        if kernel2 is not None:
            other = "kernel2"
            kb2 = kernel_batch(kernel2, batch)
            per_case = kernel_as_uxt(kb2)
            other_save = kb2.final
            other_nflog = {g: [body for _ci, body in v] for g, v in
                           _kernel_nflog_seq(batch, kb2).items()}
            front = []
        else:
            other = "uxt"
            ub = uxt.run_batch(batch, sent, bdir)
            if ub.restore_rc != 0:
                self.fail("kernel_diff b%d ruleset" % b, ["restore"],
                          "uxt iptables-restore refused what the kernel "
                          "loaded (exit %d): %s\nreproduce: %s" % (
                              ub.restore_rc, ub.restore_err.strip(),
                              self.repro(b)))
                return True
            dead = [r for r in ub.runs if r.rc != 0 and not r.packets]
            if dead and "not available" in dead[0].stderr:
                self.res.fail("kernel_diff", "uxt replay does not run: %s" %
                              dead[0].stderr.strip())
                return False
            per_case = ub.per_case
            other_save = C.Saved(ub.save) if ub.save is not None else None
            other_nflog = {}
            for run in ub.runs:
                for g, recs in run.nflog.items():
                    other_nflog.setdefault(g, []).extend(recs)
            front = self.front_door(ub, topo)

        # per case: outputs and log lines
        diffs = {}
        for case in batch.cases:
            kc = kb.cases[case.index]
            packets = per_case.get(case.index, [])
            d = C.compare_case(kc, packets, kernel.token,
                                kernel.names) if kc.sent else []
            if other == "uxt" and kc.sent and len(packets) != len(kc.sent):
                d.append(("json", ["uxt printed %d JSON object(s) for %d "
                                   "packet(s)" % (len(packets),
                                                  len(kc.sent))]))
            diffs[case.index] = d

        # counters: the whole batch, then per case where they differ
        kl = kb.final.lines()
        ul = other_save.lines() if other_save is not None else None
        if ul is not None and kl != ul:
            if other == "uxt":
                deltas = self.uxt_deltas(batch, uxt, sent, bdir)
            else:
                deltas = {i: kc.delta for i, kc in kb2.cases.items()}
            for case in batch.cases:
                if deltas is None or case.index not in deltas:
                    continue
                lines = self.counter_lines(kb.cases[case.index].delta,
                                           deltas[case.index], other)
                if lines:
                    diffs[case.index].append(("counters", lines))

        first = None
        for case in batch.cases:
            if self.only_case is None or case.index == self.only_case:
                self.report_case(b, case, kb.cases[case.index],
                                 per_case.get(case.index, []),
                                 diffs[case.index], other, first)
            if diffs[case.index] and first is None:
                first = case.index
        if self.only_case is not None:
            return True

        # per batch
        bname = "kernel_diff b%d" % b
        if ul is None:
            self.fail(bname + " counters", ["save"],
                      "uxt iptables-save -c failed: %s" % ub.save_err)
        elif kl != ul:
            lines = ["%s counters: iptables-save -c differs" % bname,
                     "reproduce: " + self.repro(b)]
            for i in range(max(len(kl), len(ul))):
                a = kl[i] if i < len(kl) else "<none>"
                c = ul[i] if i < len(ul) else "<none>"
                if a != c:
                    lines += ["  kernel %s" % a, "  %-6s %s" % (other, c)]
            self.fail(bname + " counters", ["batch counters"],
                      "\n".join(lines))
        else:
            self.res.ok(bname + " counters")
        kn = _kernel_nflog_seq(batch, kb)
        nf = self.nflog_diff(kn, other_nflog, other)
        if nf:
            self.fail(bname + " nflog", ["nflog"],
                      "%s nflog: messages differ\nreproduce: %s\n%s" % (
                          bname, self.repro(b), "\n".join(nf)))
        elif kn or other_nflog:
            self.res.ok(bname + " nflog")
        if front:
            self.fail(bname + " front door", ["front door"],
                      "%s front door:\n%s" % (bname, "\n".join(front)))
        if self.keep and other == "uxt":
            print("batch %d kept in %s; by hand:\n  %s" % (
                b, bdir, "\n  ".join(uxt.commands(batch, bdir))))
        return True

    def report_case(self, b, case, kc, packets, diffs, other, first=None):
        """One result per case; first: an earlier case of the batch that
        differs already (state such as limit credits may follow from it)."""
        name = "kernel_diff b%d c%d (%s %s)" % (b, case.index, case.direction,
                                                case.kind)
        self.cases_run += 1
        if self.verbose and (self.only_case is not None or diffs):
            print(self.case_text(case, kc, packets, other))
        if not kc.sent:
            self.res.ok(name + " [kernel refused to send: %s]" %
                        ", ".join(e for _i, e in kc.errors))
            self.refused += 1
            return
        if not diffs:
            self.res.ok(name)
            return
        lines = ["%s: %s" % (name, ", ".join(a for a, _ in diffs)),
                 "reproduce: " + self.repro(b, case.index)]
        if first is not None:
            lines.append("note: case %d of this batch, sent before this "
                         "one, differs already; what depends on earlier "
                         "packets (limit credits) may follow from it" % first)
        lines += self.case_lines(case, kc, packets)
        for _a, dl in diffs:
            lines += dl
        self.fail(name, [a for a, _ in diffs], "\n".join(lines))

    def uxt_deltas(self, batch, uxt, sent, bdir):
        """uxt's counter moves per case: the batch replayed case by case,
        with iptables-save -c after each."""
        got = uxt.run_per_case(batch, sent, bdir)
        if isinstance(got, str):
            self.harness.append("batch %d: per-case replay failed: %s" % (
                batch.index, got.strip()[:200]))
            return None
        before, after = got
        prev = C.Saved(before)
        out = {}
        for case in batch.cases:
            if case.index in after:
                cur = C.Saved(after[case.index])
                out[case.index] = C.delta(prev, cur)
                prev = cur
        return out

    @staticmethod
    def counter_lines(kd, ud, other):
        if kd == ud:
            return []
        lines = ["counters moved by this case (packets/bytes; uxt's side "
                 "replayed case by case):"]
        for key in sorted(set(kd) | set(ud), key=C.sort_key):
            if kd.get(key) != ud.get(key):
                lines.append("  %-32s kernel %-9s %s %s" % (
                    C.key_text(key), "%d/%d" % kd.get(key, (0, 0)), other,
                    "%d/%d" % ud.get(key, (0, 0))))
        return lines

    def front_door(self, ub, topo):
        """uxt replay's exit status, -w file and --log file against its
        JSON output."""
        out = []
        names = {}
        for dev in (topo.dut_a, topo.dut_b, "lo"):
            try:
                names[topo.ifindex(dev)] = dev
            except OSError:
                pass
        for run in ub.runs:
            cmd = "uxt " + " ".join(run.args)
            npk = sum(len(idx) for _c, idx in run.cases)
            if run.rc != 0:
                out.append("%s: exit %d: %s" % (cmd, run.rc,
                                                run.stderr.strip()[:500]))
            if len(run.packets) != npk:
                out.append("%s: %d JSON objects for %d packets" % (
                    cmd, len(run.packets), npk))
            j_out = [(o.get("dev"), o.get("hex", "")) for p in run.packets
                     for o in p.get("out") or []]
            w_out = [(names.get(i, i), d.hex()) for i, d in run.wfile]
            if j_out != w_out:
                out.append("%s: -w file (%d packets) differs from the JSON "
                           "'out' entries (%d)" % (cmd, len(w_out),
                                                   len(j_out)))
            j_log = [x for p in run.packets for x in p.get("log") or []]
            if j_log != run.logfile:
                out.append("%s: --log file (%d lines) differs from the JSON "
                           "'log' entries (%d)" % (cmd, len(run.logfile),
                                                   len(j_log)))
        return out

    @staticmethod
    def nflog_diff(kn, un, other):
        out = []
        for g in sorted(set(kn) | set(un)):
            k = [(ci, C.nflog_attrs(r)) for ci, r in kn.get(g, [])]
            u = [C.nflog_attrs(r) for r in un.get(g, [])]
            u = [C.nflog_ts_align(k[i][1], x) if i < len(k) else x
                 for i, x in enumerate(u)]
            if [x for _ci, x in k] == u:
                continue
            i = 0
            while i < len(k) and i < len(u) and k[i][1] == u[i]:
                i += 1
            where = "case %d" % k[i][0] if i < len(k) else "after the end"
            out.append("group %d: kernel %d message(s), %s %d; first "
                       "difference at message %d (%s)" % (
                           g, len(k), other, len(u), i + 1, where))
            if i < len(k):
                out.append("  kernel %s" % C.nflog_text(kn[g][i][1]))
            if i < len(u):
                out.append("  %-6s %s" % (other, C.nflog_text(un[g][i])))
        return out

    @staticmethod
    def case_lines(case, kc, packets):
        lines = []
        for n, d in enumerate(case.datagrams()):
            lines.append("  in %s #%d: %s" % (case.direction, n + 1,
                                               C.describe(d)))
            if case.direction != "l":
                lines.append("      frame %s" % case.frames[n].hex()[:240])
            else:
                lines.append("      datagram %s (out %s)" % (
                    d.hex()[:240], case.oif))
        lines += C.uxt_summary(packets)
        return lines

    def case_text(self, case, kc, packets, other):
        lines = ["--- case %d (%s %s)" % (case.index, case.direction,
                                          case.kind)]
        lines += self.case_lines(case, kc, packets)
        for dev, frames in sorted(kc.out.items()):
            for d in frames:
                lines.append("  kernel out %s: %s" % (dev, C.describe(d)))
        for x in kc.log:
            lines.append("  kernel log %s" % x)
        for k, v in sorted(kc.delta.items(), key=str):
            lines.append("  kernel counter %s +%d/%d" % (C.key_text(k), *v))
        for p in packets:
            for o in p.get("out") or []:
                lines.append("  %s out %s: %s" % (other, o.get("dev"),
                                                   C.describe(bytes.fromhex(
                                                       o.get("hex", "")))))
            for x in p.get("log") or []:
                lines.append("  %s log %s" % (other, x))
            for t in p.get("trace") or []:
                lines.append("  %s trace %s" % (other, t))
        if kc.errors:
            lines.append("  kernel refused to send: %s" % kc.errors)
        return "\n".join(lines)

    def summary(self, secs):
        print("kernel_diff: %d cases in %.1fs (seed %s)%s" % (
            self.cases_run, secs, self.seed,
            ", %d not sendable by the kernel" % self.refused
            if self.refused else ""))
        for h in self.harness[:10]:
            print("kernel_diff harness note: " + h)
        for aspect, names in sorted(self.groups.items()):
            print("kernel_diff: %d difference(s) in %s" % (len(names),
                                                            aspect))


def _kernel_nflog_seq(batch, kb):
    out = {}
    for case in batch.cases:
        kc = kb.cases.get(case.index)
        if kc is None:
            continue
        for g, body in kc.nflog:
            out.setdefault(g, []).append((case.index, body))
    return out


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)
