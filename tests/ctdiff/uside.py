# SPDX-License-Identifier: BSD-2-Clause
"""The uxtables side of a batch, inside dut (uxt's host model is dut's own
interfaces, addresses and routes), in a private UXT_STATE:

    iptables-restore < ruleset
    conntrack -E                (uxtables', started before the replay; it
                                 follows the state's event log)
    uxt replay in.pcap --json --trace -w out.pcap
    iptables-save -c
    conntrack -L

in.pcap holds what the kernel side sent, with the times it sent it, in
every direction at once: Linux cooked v2 records, received on dut's client
or server link (PACKET_HOST, the interface's index, the sender's MAC) or
sent by a local process (PACKET_OUTGOING, no interface: uxt routes it, as
the kernel routed the raw socket's datagram).

uxtables' conntrack command is looked for as <bindir>/conntrack, then as
`uxt conntrack`; it is there when `conntrack -L` on an empty state exits 0.
Until then the -L and -E comparisons are skipped, with the reason.

uxtables' conntrack -E starts at the end of the state's event log, so the
replay starts once it is seen waiting for events (Follower.wait_ready); it
is stopped once the replay is over and it has printed nothing for QUIET
seconds (at most FOLLOW_MAX after the replay).  conntrack -L runs with
UXT_TIME set to the time the kernel's listing was taken (the time a
listing of uxtables shows the table at; docs/conntrack-cli.md), so that
both show the same instant.

When the batch's counters differ, run_segments() replays the batch again,
one segment (consecutive packets of one flow) per `uxt replay`, with
iptables-save -c after each, so that each flow's counter moves can be set
against the kernel's.
"""

import os
import select
import shutil
import signal
import struct
import subprocess
import time

from kdiff.pkt import LINKTYPE_LINUX_SLL2, read_pcap, sll2_split, write_pcap
from kdiff.uxt import parse_json_stream

from .bed import child_setup

REPLAY_TIMEOUT = 180
READY_MAX = 3.0
QUIET = 0.5
# blocked in one of these, a follower is in its loop (it has found the end
# of the event log): read, poll, nanosleep, epoll_wait, ppoll,
# clock_nanosleep, epoll_pwait (x86_64)
WAITING_SYSCALLS = {0, 7, 35, 232, 271, 230, 281}
FOLLOW_MAX = 10.0
PACKET_HOST = 0
PACKET_OUTGOING = 4


class UBatch:
    def __init__(self):
        self.restore_rc = None
        self.restore_err = ""
        self.replay_rc = None
        self.replay_err = ""
        self.args = []
        self.packets = {}           # record n: JSON object
        self.nobj = 0
        self.wfile = []             # (ifindex, datagram)
        self.save = None
        self.save_err = ""
        self.events = None          # lines, or None (not available)
        self.events_err = ""
        self.listing = None
        self.listing_err = ""
        self.list_time = None
        self.harness = []


class UxtSide:
    def __init__(self, bindir, bed, workdir):
        self.bindir = os.path.abspath(bindir)
        self.bed = bed
        self.workdir = workdir
        self.ifindex = {}
        for dev in (bed.topo.dut_a, bed.topo.dut_b):
            self.ifindex[dev] = bed.topo.ifindex(dev)
        self.ct_cmd, self.ct_why = self._probe_conntrack()

    def prog(self, name):
        return os.path.join(self.bindir, name)

    def env(self, state):
        e = dict(os.environ)
        e["UXT_STATE"] = state
        e["LC_ALL"] = "C"
        e.setdefault("ASAN_OPTIONS", "abort_on_error=0:exitcode=99")
        e.setdefault("UBSAN_OPTIONS",
                     "halt_on_error=1:print_stacktrace=1:exitcode=99")
        return e

    def _probe_conntrack(self):
        cands = []
        if os.access(self.prog("conntrack"), os.X_OK):
            cands.append([self.prog("conntrack")])
        cands.append([self.prog("uxt"), "conntrack"])
        why = "no conntrack command"
        state = os.path.join(self.workdir, "probe-state")
        for cmd in cands:
            shutil.rmtree(state, ignore_errors=True)
            os.makedirs(state)
            try:
                rc, out, err = self.bed.dut.run(cmd + ["-L"],
                                                env=self.env(state),
                                                timeout=20)
            except subprocess.TimeoutExpired:
                why = "%s -L timed out" % " ".join(cmd)
                continue
            if rc == 0:
                shutil.rmtree(state, ignore_errors=True)
                return cmd, None
            text = (err or out).decode("utf-8", "replace").strip()
            why = "`%s -L` exits %d: %s" % (
                " ".join(os.path.basename(c) if i == 0 else c
                         for i, c in enumerate(cmd)), rc,
                text.splitlines()[0] if text else "(no output)")
        shutil.rmtree(state, ignore_errors=True)
        return None, why

    # --- the capture ------------------------------------------------------

    def sll2(self, rec):
        """A record of the kernel side as a Linux cooked v2 record."""
        if rec.side == "l":
            hdr = struct.pack("!HHIHBB8s", 0x0800, 0, 0, 1, PACKET_OUTGOING,
                              0, b"")
            return hdr + rec.frame
        dev = self.bed.topo.dut_a if rec.side == "c" else \
            self.bed.topo.dut_b
        hdr = struct.pack("!HHIHBB8s", 0x0800, 0, self.ifindex[dev], 1,
                          PACKET_HOST, 6, rec.frame[6:12] + b"\0\0")
        return hdr + rec.frame[14:]

    def write_input(self, path, records):
        """Writes the sent records; returns their record numbers in order
        (the replay numbers its packets from 1)."""
        sent = [r for r in records if r.error is None]
        write_pcap(path, [(r.t, self.sll2(r)) for r in sent],
                   LINKTYPE_LINUX_SLL2)
        return [r.n for r in sent]

    # --- one batch ----------------------------------------------------------

    def run_batch(self, batch, kb, bdir):
        ub = UBatch()
        if os.path.isdir(bdir):
            shutil.rmtree(bdir)
        os.makedirs(bdir)
        state = os.path.join(bdir, "state")
        os.makedirs(state)
        env = self.env(state)
        dut = self.bed.dut
        with open(os.path.join(bdir, "ruleset"), "w") as f:
            f.write(batch.ruleset)
        rc, _o, err = dut.run([self.prog("iptables-restore")],
                              stdin=batch.ruleset.encode(), env=env)
        ub.restore_rc = rc
        ub.restore_err = err.decode("utf-8", "replace")
        if rc != 0:
            return ub
        inp = os.path.join(bdir, "in.pcap")
        order = self.write_input(inp, kb.records)
        out = os.path.join(bdir, "out.pcap")
        follower = None
        if self.ct_cmd:
            follower = Follower(self.ct_cmd + ["-E"], env, dut)
            if not follower.wait_ready():
                ub.harness.append("uxt's conntrack -E was not seen waiting "
                                  "for events within %.0fs; the replay "
                                  "started anyway" % READY_MAX)
        ub.args = ["replay", inp, "--json", "--trace", "-w", out]
        try:
            rc, so, se = dut.run([self.prog("uxt")] + ub.args, env=env,
                                 timeout=REPLAY_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc, so, se = -1, b"", b"timed out after %d s" % REPLAY_TIMEOUT
        except BaseException:
            if follower is not None:
                follower.finish()
            raise
        ub.replay_rc = rc
        ub.replay_err = se.decode("utf-8", "replace")
        objs = parse_json_stream(so.decode("utf-8", "replace"))
        ub.nobj = len(objs)
        for i, obj in enumerate(objs):
            num = obj.get("packet")
            num = num if isinstance(num, int) else i + 1
            if 1 <= num <= len(order):
                ub.packets[order[num - 1]] = obj
        if follower is not None:
            ub.events, ub.events_err = follower.finish()
        if os.path.exists(out):
            try:
                lt, recs = read_pcap(out)
                if lt == LINKTYPE_LINUX_SLL2:
                    ub.wfile = [(sll2_split(r)[1], sll2_split(r)[3])
                                for _t, r in recs]
            except (ValueError, OSError) as e:
                ub.replay_err += "\n-w file unreadable: %s" % e
        rc, so, se = dut.run([self.prog("iptables-save"), "-c"], env=env)
        if rc == 0:
            ub.save = so.decode("utf-8", "replace")
        else:
            ub.save_err = se.decode("utf-8", "replace")
        if self.ct_cmd:
            # the listing at the instant the kernel's was taken
            ub.list_time = kb.list_time
            lenv = dict(env)
            lenv["UXT_TIME"] = "%.6f" % kb.list_time
            try:
                rc, so, se = dut.run(self.ct_cmd + ["-L"], env=lenv,
                                     timeout=60)
            except subprocess.TimeoutExpired:
                rc, so, se = -1, b"", b"timed out"
            if rc == 0:
                ub.listing = [x for x in so.decode(
                    "utf-8", "replace").splitlines() if x.strip()]
            else:
                ub.listing_err = "exit %d: %s" % (rc, se.decode(
                    "utf-8", "replace").strip()[:300])
        return ub

    def run_segments(self, batch, kb, bdir):
        """The batch replayed segment by segment: (before, [text after each
        segment]) of iptables-save -c, or an error string."""
        pdir = os.path.join(bdir, "per-flow")
        if os.path.isdir(pdir):
            shutil.rmtree(pdir)
        state = os.path.join(pdir, "state")
        os.makedirs(state)
        env = self.env(state)
        dut = self.bed.dut
        rc, _o, err = dut.run([self.prog("iptables-restore")],
                              stdin=batch.ruleset.encode(), env=env)
        if rc != 0:
            return "iptables-restore: " + err.decode("utf-8", "replace")
        recs = {r.n: r for r in kb.records}

        def save():
            rc, so, se = dut.run([self.prog("iptables-save"), "-c"], env=env)
            if rc != 0:
                raise RuntimeError(se.decode("utf-8", "replace"))
            return so.decode("utf-8", "replace")

        try:
            before = save()
            after = []
            for i, (_fi, ns, _d) in enumerate(kb.segments):
                sent = [recs[n] for n in ns if recs[n].error is None]
                if sent:
                    inp = os.path.join(pdir, "in-%d.pcap" % i)
                    self.write_input(inp, sent)
                    try:
                        dut.run([self.prog("uxt"), "replay", inp, "--json"],
                                env=env, timeout=REPLAY_TIMEOUT)
                    except subprocess.TimeoutExpired:
                        return "uxt replay timed out (segment %d)" % i
                after.append(save())
        except RuntimeError as e:
            return "iptables-save -c: %s" % e
        return before, after

    def commands(self, bdir):
        """The commands that redo the uxt side of a batch by hand."""
        ns = self.bed.dut.name
        state = os.path.join(bdir, "state-manual")
        pre = "UXT_STATE=%s ip netns exec %s " % (state, ns)
        lines = ["rm -rf %s; mkdir -p %s" % (state, state),
                 pre + "%s < %s" % (self.prog("iptables-restore"),
                                    os.path.join(bdir, "ruleset"))]
        if self.ct_cmd:
            lines.append(pre + " ".join(self.ct_cmd) + " -E &")
        lines.append(pre + "%s replay %s --json --trace" % (
            self.prog("uxt"), os.path.join(bdir, "in.pcap")))
        lines.append(pre + "%s -c" % self.prog("iptables-save"))
        if self.ct_cmd:
            lines.append(pre + " ".join(self.ct_cmd) + " -L")
        return lines


class Follower:
    """uxtables' conntrack -E during the replay."""

    def __init__(self, argv, env, ns):
        fd = ns.fd
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, env=env,
                                  preexec_fn=lambda: child_setup(fd))
        self.buf = b""
        self.err = b""

    def wait_ready(self):
        """Waits until the follower, exec'd, blocks in a waiting system
        call: it has opened the event log (uxtables' conntrack -E starts at
        its end, so an event written before that would be missed).
        Bounded; False if not seen."""
        me = os.path.realpath("/proc/self/exe")
        path = "/proc/%d/" % self.p.pid
        deadline = time.monotonic() + READY_MAX
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                return False
            try:
                exe = os.path.realpath(path + "exe")
                with open(path + "syscall") as f:
                    nr = f.read().split()[0]
            except (OSError, IndexError):
                nr = ""
                exe = me
            if exe != me and nr.isdigit() and int(nr) in WAITING_SYSCALLS:
                return True
            time.sleep(0.005)
        return False

    def finish(self):
        """Stops it once quiet: (lines, error text)."""
        fds = {self.p.stdout.fileno(): "out", self.p.stderr.fileno(): "err"}
        for fd in fds:
            os.set_blocking(fd, False)
        deadline = time.monotonic() + FOLLOW_MAX
        last = time.monotonic()
        ended = False
        while time.monotonic() < deadline and not ended:
            left = min(QUIET - (time.monotonic() - last),
                       deadline - time.monotonic())
            if left <= 0:
                break
            r, _, _ = select.select(list(fds), [], [], left)
            for fd in r:
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    ended = True
                    continue
                last = time.monotonic()
                if fds[fd] == "out":
                    self.buf += data
                else:
                    self.err += data
        rc = self.p.poll()
        if rc is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=3)
        try:
            rest, rest_err = self.p.communicate(timeout=3)
        except (subprocess.TimeoutExpired, ValueError):
            rest, rest_err = b"", b""
        self.buf += rest or b""
        self.err += rest_err or b""
        lines = [x for x in self.buf.decode("utf-8", "replace").splitlines()
                 if x.strip()]
        err = ""
        if rc is not None and rc != 0:
            err = "conntrack -E exited %d before the replay ended: %s" % (
                rc, self.err.decode("utf-8", "replace").strip()[:300])
        return lines, err
