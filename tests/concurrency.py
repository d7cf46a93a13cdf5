# SPDX-License-Identifier: BSD-2-Clause
"""Concurrency and crash safety of the state store.

  parallel appends   8 processes append 200 rules each (with -w, and
                     without: 1.8.9 then blocks until the lock is free)
                     -> exactly 1,600 rules, each once
  lock timeout       -w 1 while another process holds the lock: iptables'
                     message and exit status 4 after about a second
  crash safety       writers killed with SIGKILL at random moments, 500
                     times: the state always loads and is one of the
                     rulesets that were committed
"""

import os
import random
import signal
import subprocess
import tempfile
import time

from common import Uxt

WORKERS = 8
PER_WORKER = 200


def worker_script(bindir, w, wait):
    ipt = os.path.join(os.path.abspath(bindir), "iptables")
    return ('i=0; while [ $i -lt %d ]; do '
            '%s %s -A INPUT -s 10.%d.$((i/256)).$((i%%256)) -j ACCEPT || exit 1; '
            'i=$((i+1)); done' % (PER_WORKER, ipt, "-w" if wait else "", w))


def parallel_appends(res, bindir, wait):
    name = "concurrency %d x %d appends %s" % (WORKERS, PER_WORKER,
                                                "with -w" if wait else "without -w")
    u = Uxt(bindir)
    try:
        procs = [subprocess.Popen(["sh", "-c", worker_script(bindir, w, wait)],
                                  env=u.env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
                 for w in range(WORKERS)]
        errs = []
        for p in procs:
            _, err = p.communicate(timeout=900)
            if p.returncode != 0:
                errs.append(err.decode(errors="replace")[-500:])
        rc, out, err = u.ipt("-S INPUT")
        rules = [l for l in out.splitlines() if l.startswith("-A INPUT")]
        want = {"-A INPUT -s 10.%d.%d.%d/32 -j ACCEPT" % (w, i // 256, i % 256)
                for w in range(WORKERS) for i in range(PER_WORKER)}
        ok = not errs and rc == 0 and len(rules) == WORKERS * PER_WORKER \
            and set(rules) == want
        res.check(name, ok, "workers failed: %s\nrules: %d (want %d), distinct %d, rc %d %s"
                  % (errs[:2], len(rules), WORKERS * PER_WORKER, len(set(rules)), rc, err))
    finally:
        u.close()


def lock_timeout(res, bindir):
    u = Uxt(bindir)
    try:
        u.ipt("-L")
        lock = os.path.join(u.state, "lock")
        holder = subprocess.Popen(["flock", lock, "sleep", "5"])
        time.sleep(0.3)
        t0 = time.time()
        rc, out, err = u.ipt("-w 1 -n -L INPUT")
        took = time.time() - t0
        holder.kill()
        holder.wait()
        want = ("Can't lock %s: Resource temporarily unavailable\n"
                "Another app is currently holding the xtables lock. "
                "Stopped waiting after 1s.\n" % lock)
        res.check("concurrency lock -w 1 timeout", rc == 4 and err == want and out == ""
                  and 0.9 < took < 3, "rc %d took %.2fs stderr %r" % (rc, took, err))
        # without -w 1.8.9 blocks until the lock is released
        holder = subprocess.Popen(["flock", lock, "sleep", "1"])
        time.sleep(0.3)
        t0 = time.time()
        rc, out, err = u.ipt("-n -L INPUT")
        took = time.time() - t0
        holder.wait()
        res.check("concurrency lock blocks without -w", rc == 0 and 0.5 < took < 5,
                  "rc %d took %.2fs %r" % (rc, took, err))
    finally:
        u.close()


def ruleset(tag, n):
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]",
             ":OUTPUT ACCEPT [0:0]", ":%s - [0:0]" % tag]
    for i in range(n):
        lines.append("-A INPUT -s 10.%d.%d.0/24 -j %s" % (i // 256, i % 256, tag))
    lines.append("-A %s -j ACCEPT" % tag)
    lines += ["COMMIT", "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]",
              ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
              "-A PREROUTING -d 10.9.9.%d -j ACCEPT" % len(tag), "COMMIT"]
    return "\n".join(lines) + "\n"


def sections(text):
    """The table sections of an iptables-save output, dates aside.
    iptables-restore commits table by table, so every mix of committed
    tables is itself a committed ruleset."""
    out, cur = [], []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        cur.append(line)
        if line == "COMMIT":
            out.append("\n".join(cur))
            cur = []
    if cur:
        out.append("\n".join(cur))
    return out


def crash_safety(res, bindir, rounds):
    u = Uxt(bindir)
    try:
        sets = {tag: ruleset(tag, 3000) for tag in ("ALPHA", "BRAVO", "CHARLIE")}
        known = set()
        for tag, text in sets.items():
            u.run("iptables-restore", [], stdin=text.encode())
            known.update(sections(u.run("iptables-save", [])[1]))
        rnd = random.Random(1)
        bad = []
        kinds = list(sets)
        for i in range(rounds):
            tag = kinds[i % 3]
            if i % 2:
                argv = [os.path.join(u.bindir, "iptables-restore")]
                stdin = sets[tag].encode()
            else:
                argv = [os.path.join(u.bindir, "iptables"), "-A", "FORWARD", "-j", "DROP"]
                stdin = None
            p = subprocess.Popen(argv, env=u.env, stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if stdin:
                try:
                    p.stdin.write(stdin)
                    p.stdin.close()
                except BrokenPipeError:
                    pass
            time.sleep(rnd.uniform(0, 0.03))
            p.send_signal(signal.SIGKILL)
            p.wait()
            rc, out, err = u.run("iptables-save", [])
            secs = sections(out)
            unknown = [x for x in secs if x not in known]
            if i % 2 == 0 and rc == 0 and len(unknown) == 1 and len(secs) == 2:
                # an -A that completed is a committed ruleset too: the one
                # before it plus its rule
                lines = unknown[0].split("\n")
                if "-A FORWARD -j DROP" in lines:
                    lines.remove("-A FORWARD -j DROP")
                    if "\n".join(lines) in known:
                        known.update(unknown)
                        continue
            if rc != 0 or unknown or len(secs) != 2:
                bad.append("round %d: rc %d %s" % (i, rc, err[:300]))
                if len(bad) > 3:
                    break
            # bring the -A growth back to a known ruleset now and then
            if i % 20 == 19:
                u.run("iptables-restore", [], stdin=sets[tag].encode())
        leftovers = [f for f in os.listdir(u.state) if f not in ("lock", "state", "state.new")]
        res.check("concurrency SIGKILL'd writers x%d: state always one committed ruleset"
                  % rounds, not bad and not leftovers, "\n".join(bad) + " %s" % leftovers)
    finally:
        u.close()


def run(res, opts):
    bindir = opts["bindir"]
    parallel_appends(res, bindir, wait=True)
    parallel_appends(res, bindir, wait=False)
    lock_timeout(res, bindir)
    crash_safety(res, bindir, opts.get("crash_rounds", 500))
