# SPDX-License-Identifier: BSD-2-Clause
"""Restore lines suite: iptables-restore takes the plain rule lines
iptables-save writes ("-A CHAIN -s .. -d .. -p tcp -m tcp --dport .. -j
DROP") by a shorter path than other lines (cli_restore_append in
src/cli/iptables.c).  Seeded random lines of that shape, and lines that
differ from it by one token or one value, go through iptables-legacy-restore
(the kernel) and uxtables' iptables-restore; exit status, messages and the
resulting ruleset (iptables-save -c) must agree.

  plain      30 lines of the shape with valid values per input
  near       two plain lines, then one line off the shape or with a bad
             value (an error, a warning or the general path)
"""

import random

from common import have_root_netns
from differ import Differ

SEED = 20261125
BASE = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:USER - [0:0]
"""
CHAINS = ["INPUT", "FORWARD", "OUTPUT", "USER"]
VERDICTS = ["ACCEPT", "DROP", "RETURN", "QUEUE"]


def addr(rng):
    bits = rng.choice([0, 1, 8, 16, 24, 31, 32, 32])
    a = ".".join(str(rng.randrange(256)) for _ in range(4))
    return a if bits == 32 and rng.random() < 0.5 else "%s/%d" % (a, bits)


def ports(rng):
    lo = rng.randrange(65536)
    if rng.random() < 0.5:
        return str(lo)
    return "%d:%d" % (lo, rng.randrange(lo, 65536))


def plain(rng):
    t = ["-A", rng.choice(CHAINS)]
    if rng.random() < 0.8:
        t += ["-s", addr(rng)]
    if rng.random() < 0.8:
        t += ["-d", addr(rng)]
    if rng.random() < 0.8:
        p = rng.choice(["tcp", "udp"])
        t += ["-p", p]
        if rng.random() < 0.8:
            t += ["-m", p]
            if rng.random() < 0.6:
                t += ["--sport", ports(rng)]
            if rng.random() < 0.6:
                t += ["--dport", ports(rng)]
    return t + ["-j", rng.choice(VERDICTS)]


# one change each: (description, function of a plain line's tokens)
def _swap_order(t):
    if len(t) >= 6:
        t[2:4], t[4:6] = t[4:6], t[2:4]
    return t


def _replace_value(opt, values):
    def f(t, rng):
        if opt in t:
            t[t.index(opt) + 1] = rng.choice(values)
        else:
            t[2:2] = [opt, rng.choice(values)]
        return t
    return f


NEAR = [
    ("options in another order", lambda t, rng: _swap_order(t)),
    ("bad source", _replace_value("-s", ["1.2.3", "256.1.1.1", "1.2.3.4/33",
                                         "01.2.3.4", "1.2.3.4/08", "1.2.3.4,5.6.7.8",
                                         "1.2.3.4/255.255.0.0", "any/0", "0/0"])),
    ("bad destination", _replace_value("-d", ["1.2.3.4.5", "/24", "1.2.3.4/",
                                              "255.255.255.255/32"])),
    ("odd protocol", _replace_value("-p", ["TCP", "6", "17", "icmp", "all", "Udp"])),
    ("unknown chain", lambda t, rng: t[:1] + ["NOSUCH"] + t[2:]),
    ("other verdict", lambda t, rng: t[:-1] + [rng.choice(["USER", "NOSUCH", "accept",
                                                         "LOG"])]),
    ("inverted source", lambda t, rng: t[:2] + ["!", "-s", "10.0.0.0/8"] + t[2:]),
    ("goto", lambda t, rng: t[:-2] + ["-g", "USER"]),
    ("trailing word", lambda t, rng: t + ["extra"]),
    ("no target", lambda t, rng: t[:-2]),
    ("match without ports", lambda t, rng: t[:2] + ["-p", "tcp", "-m", "tcp", "--syn"] +
     t[-2:]),
    ("bad ports", lambda t, rng: t[:2] + ["-p", "udp", "-m", "udp", "--dport",
                                          rng.choice(["99999", "2:1", "-1", "a", "0x10",
                                                      ":5", "5:", "domain"])] + t[-2:]),
    ("mismatched match", lambda t, rng: t[:2] + ["-p", "tcp", "-m", "udp", "--dport", "1"] +
     t[-2:]),
    ("port without match", lambda t, rng: t[:2] + ["-p", "tcp", "--dport", "22"] + t[-2:]),
    ("abbreviated option", lambda t, rng: t[:2] + ["-p", "tcp", "-m", "tcp", "--dp", "22"] +
     t[-2:]),
]


def run(res, opts):
    why = have_root_netns()
    if why:
        res.skip("restore_lines", why)
        return
    rng = random.Random(SEED)
    with Differ(opts["bindir"]) as d:
        for i in range(25):
            lines = [" ".join(plain(rng)) for _ in range(30)]
            text = BASE + "\n".join(lines) + "\nCOMMIT\n"
            diffs = [x for x in (d.step(["iptables-restore"], stdin=text),
                                 d.step(["iptables-save", "-c"], mask_policy=True)) if x]
            res.check("restore_lines plain #%d" % i, not diffs, "\n".join(diffs))
        for i in range(60):
            what, change = NEAR[i % len(NEAR)]
            line = change(plain(rng), rng)
            lines = [" ".join(plain(rng)) for _ in range(2)] + [" ".join(line)]
            text = BASE + "\n".join(lines) + "\nCOMMIT\n"
            diffs = [x for x in (d.step(["iptables-restore"], stdin=text),
                                 d.step(["iptables-save", "-c"], mask_policy=True)) if x]
            res.check("restore_lines near #%d %s: %s" % (i, what, " ".join(line)[:60]),
                      not diffs, "\n".join(diffs))
