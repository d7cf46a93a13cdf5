# SPDX-License-Identifier: BSD-2-Clause
"""The uxtables side of a batch, inside dut (so that uxt's host model is
read from dut's own interfaces, addresses and routes):

    UXT_STATE=<private dir> iptables-restore < ruleset
    uxt replay in-N.pcap {-i DEV | -o DEV} -w out-N.pcap --log log-N.txt \\
        --json --trace --nflog-dir nflog-N        (one run per direction)
    UXT_STATE=<private dir> iptables-save -c

The inputs are the frames the kernel side actually sent, with the times it
sent them (the replay's clock), as an Ethernet pcap: frames received on
dut's client link (-i <dut>c), on its server link (-i <dut>s), and
datagrams sent by a local process, one run per output device (-o DEV; the
device the kernel's route picked).  The per-packet JSON objects give the
packets that left, the log lines and the rules whose counters moved; the
pcap and log files are read as well, to check that they agree with it.
"""

import json
import os
import shutil
import subprocess

from .pkt import LINKTYPE_LINUX_SLL2, LINKTYPE_NFLOG, read_pcap, \
    sll2_split, write_pcap

LOCAL_ETH = b"\0" * 12 + b"\x08\x00"
REPLAY_TIMEOUT = 120


class UxtError(Exception):
    pass


class Run:
    """One uxt replay: its argv, what it printed, and its parsed output."""

    def __init__(self, args, cases):
        self.args = args
        self.cases = cases               # [(case, [frame indexes sent])]
        self.rc = None
        self.stderr = ""
        self.packets = []                # JSON objects, in input order
        self.wfile = []                  # (ifindex, datagram) from -w
        self.logfile = []                # lines of --log
        self.nflog = {}                  # group: [record payload]


class UxtBatch:
    def __init__(self):
        self.restore_rc = None
        self.restore_err = ""
        self.runs = []
        self.save = None
        self.save_err = ""
        self.per_case = {}               # case index: [JSON objects]


def parse_json_stream(text):
    """The JSON objects in text (one per packet; other lines skipped)."""
    dec = json.JSONDecoder()
    out = []
    pos = 0
    n = len(text)
    while pos < n:
        i = text.find("{", pos)
        if i < 0:
            break
        # only objects that start a line
        if i > 0 and text[i - 1] != "\n":
            pos = text.find("\n", i)
            if pos < 0:
                break
            continue
        try:
            obj, end = dec.raw_decode(text, i)
        except ValueError:
            pos = i + 1
            continue
        if isinstance(obj, dict) and "packet" in obj:
            out.append(obj)
        pos = end
    return out


class Uxt:
    def __init__(self, bindir, topo, workdir):
        self.bindir = os.path.abspath(bindir)
        self.topo = topo
        self.workdir = workdir

    def prog(self, name):
        return os.path.join(self.bindir, name)

    def _env(self, state):
        e = dict(os.environ)
        e["UXT_STATE"] = state
        e["LC_ALL"] = "C"
        e.setdefault("ASAN_OPTIONS", "abort_on_error=0:exitcode=99")
        e.setdefault("UBSAN_OPTIONS",
                     "halt_on_error=1:print_stacktrace=1:exitcode=99")
        return e

    def groups(self, batch):
        """Consecutive cases of one replay: (args, [case])."""
        out = []
        for case in batch.cases:
            if case.direction == "c":
                key = ("-i", self.topo.dut_a)
            elif case.direction == "s":
                key = ("-i", self.topo.dut_b)
            else:
                key = ("-o", case.oif)
            if out and out[-1][0] == key:
                out[-1][1].append(case)
            else:
                out.append((key, [case]))
        return out

    def run_batch(self, batch, sent, bdir):
        """sent: case index -> [(time, frame index)] the kernel sent."""
        res = UxtBatch()
        if os.path.isdir(bdir):
            shutil.rmtree(bdir)
        os.makedirs(bdir)
        state = os.path.join(bdir, "state")
        os.makedirs(state)
        env = self._env(state)
        dut = self.topo.dut
        with open(os.path.join(bdir, "ruleset"), "w") as f:
            f.write(batch.ruleset)
        rc, _o, err = dut.run([self.prog("iptables-restore")],
                              stdin=batch.ruleset.encode(), env=env)
        res.restore_rc = rc
        res.restore_err = err.decode("utf-8", "replace")
        if rc != 0:
            return res
        for n, (key, cases) in enumerate(self.groups(batch)):
            records = []
            members = []
            for case in cases:
                idx = []
                for t, i in sent.get(case.index, []):
                    fr = case.frames[i]
                    if case.direction == "l":
                        fr = LOCAL_ETH + fr
                    records.append((t, fr))
                    idx.append(i)
                members.append((case, idx))
            if not records:
                continue
            inp = os.path.join(bdir, "in-%d.pcap" % n)
            write_pcap(inp, records)
            out = os.path.join(bdir, "out-%d.pcap" % n)
            log = os.path.join(bdir, "log-%d.txt" % n)
            nfdir = os.path.join(bdir, "nflog-%d" % n)
            os.makedirs(nfdir)
            args = ["replay", inp, key[0], key[1], "-w", out, "--log", log,
                    "--json", "--trace", "--nflog-dir", nfdir]
            if key[0] == "-o":
                # dut sent them from a raw socket (IP_HDRINCL)
                args.append("--raw-sends")
            run = Run(args, members)
            res.runs.append(run)
            try:
                rc, so, se = dut.run([self.prog("uxt")] + args, env=env,
                                     timeout=REPLAY_TIMEOUT)
            except subprocess.TimeoutExpired:
                rc, so, se = -1, b"", b"timed out after %d s" % \
                    REPLAY_TIMEOUT
            run.rc = rc
            run.stderr = se.decode("utf-8", "replace")
            run.packets = parse_json_stream(so.decode("utf-8", "replace"))
            if os.path.exists(out):
                try:
                    lt, recs = read_pcap(out)
                    if lt == LINKTYPE_LINUX_SLL2:
                        run.wfile = [(sll2_split(r)[1], sll2_split(r)[3])
                                     for _t, r in recs]
                    else:
                        run.wfile = [(None, r) for _t, r in recs]
                        run.stderr += "\n-w file has link type %d, not " \
                            "Linux cooked v2 (276)" % lt
                except (ValueError, OSError) as e:
                    run.stderr += "\n-w file unreadable: %s" % e
            if os.path.exists(log):
                with open(log, encoding="utf-8", errors="replace") as f:
                    run.logfile = f.read().splitlines()
            for name in sorted(os.listdir(nfdir)):
                if name.startswith("nflog-") and name.endswith(".pcap"):
                    g = int(name[6:-5])
                    try:
                        lt, recs = read_pcap(os.path.join(nfdir, name))
                    except (ValueError, OSError) as e:
                        run.stderr += "\n%s unreadable: %s" % (name, e)
                        continue
                    if lt != LINKTYPE_NFLOG:
                        run.stderr += "\n%s has link type %d" % (name, lt)
                    run.nflog[g] = [r for _t, r in recs]
            # packets back to cases by their number in the capture (a record
            # uxt skipped has no object)
            by_num = {}
            for n_obj, obj in enumerate(run.packets):
                num = obj.get("packet")
                by_num[num if isinstance(num, int) else n_obj + 1] = obj
            pos = 1
            for case, idx in members:
                res.per_case[case.index] = [by_num[i] for i in range(
                    pos, pos + len(idx)) if i in by_num]
                pos += len(idx)
        rc, so, se = dut.run([self.prog("iptables-save"), "-c"], env=env)
        if rc == 0:
            res.save = so.decode("utf-8", "replace")
        else:
            res.save_err = se.decode("utf-8", "replace")
        return res

    def run_per_case(self, batch, sent, bdir):
        """The batch again, one replay and one iptables-save -c per case:
        {case index: iptables-save -c text after it}, plus the text before
        the first (to find which case moved which counter, when the batch's
        counters differ).  Returns (before, {index: text}) or an error
        string."""
        pdir = os.path.join(bdir, "per-case")
        if os.path.isdir(pdir):
            shutil.rmtree(pdir)
        state = os.path.join(pdir, "state")
        os.makedirs(state)
        env = self._env(state)
        dut = self.topo.dut
        rc, _o, err = dut.run([self.prog("iptables-restore")],
                              stdin=batch.ruleset.encode(), env=env)
        if rc != 0:
            return "iptables-restore: " + err.decode("utf-8", "replace")

        def save():
            rc, so, se = dut.run([self.prog("iptables-save"), "-c"], env=env)
            if rc != 0:
                raise UxtError(se.decode("utf-8", "replace"))
            return so.decode("utf-8", "replace")

        try:
            before = save()
            after = {}
            for key, cases in self.groups(batch):
                for case in cases:
                    records = []
                    for t, i in sent.get(case.index, []):
                        fr = case.frames[i]
                        if case.direction == "l":
                            fr = LOCAL_ETH + fr
                        records.append((t, fr))
                    if records:
                        inp = os.path.join(pdir, "in-%d.pcap" % case.index)
                        write_pcap(inp, records)
                        try:
                            dut.run([self.prog("uxt"), "replay", inp, key[0],
                                     key[1], "--json"] +
                                    (["--raw-sends"] if key[0] == "-o" else []),
                                    env=env,
                                    timeout=REPLAY_TIMEOUT)
                        except subprocess.TimeoutExpired:
                            return "uxt replay timed out (case %d)" % \
                                case.index
                    after[case.index] = save()
        except UxtError as e:
            return "iptables-save -c: %s" % e
        return before, after

    def commands(self, batch, bdir):
        """The commands that redo the uxt side of a batch by hand."""
        ns = self.topo.dut.name
        state = os.path.join(bdir, "state-manual")
        lines = ["rm -rf %s; mkdir -p %s" % (state, state),
                 "UXT_STATE=%s ip netns exec %s %s < %s" % (
                     state, ns, self.prog("iptables-restore"),
                     os.path.join(bdir, "ruleset"))]
        for n, (key, _cases) in enumerate(self.groups(batch)):
            inp = os.path.join(bdir, "in-%d.pcap" % n)
            lines.append("UXT_STATE=%s ip netns exec %s %s replay %s %s %s "
                         "--json --trace%s" % (
                             state, ns, self.prog("uxt"), inp, key[0], key[1],
                             " --raw-sends" if key[0] == "-o" else ""))
        lines.append("UXT_STATE=%s ip netns exec %s %s -c" % (
            state, ns, self.prog("iptables-save")))
        return lines
