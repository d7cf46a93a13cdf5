# SPDX-License-Identifier: BSD-2-Clause
"""The seed's sections 4 to 11 on the command line.

examples/centos7-firewalld.rules is restored into uxtables and into
iptables-legacy; then every iptables command the seed types in those
sections runs on both, in the seed's order, and must print what 1.8.9
prints.  Where the seed shows a listing without counters (which came from
real traffic), our output must also equal the seed's text token by token,
after the known changes from iptables 1.4.21 to 1.8.9 ("LOG level warning"
became "LOG level warn").
"""

import os
import re

from common import ROOT, SHARED, have_root_netns
from differ import Differ

SEED = os.path.join(SHARED, "seed", "000_854f247619ace46c.txt")
RULES = os.path.join(ROOT, "examples", "centos7-firewalld.rules")

# 1.4.21 -> 1.8.9, ../shared/docs/iptables-1.4.21-vs-1.8.9.md
SEED_TO_189 = [("level warning", "level warn")]
# 1.8.9 prints protocol numbers in the prot column with -n (A.2 there)
PROTO_NUMBERS = {"all": "0", "tcp": "6", "udp": "17", "icmp": "1"}

# Steps the seed took without showing them: before section 10.4 the LOG rule
# that section 9 appended to OUTPUT is gone from its listings.
UNSHOWN = {259: ["iptables -D OUTPUT 2"]}


def seed_commands(first=4, last=11):
    """(line number, section, command, expected output lines) of the seed."""
    lines = open(SEED, encoding="utf-8").read().splitlines()
    section = 0
    out = []
    head = re.compile(r"^(\d+)(\.\d+)* [^\x00-\x7f★]")
    prompt = re.compile(r"^\[root@server ~\]# (iptables\b.*)$")
    i = 0
    while i < len(lines):
        m = head.match(lines[i])
        if m:
            section = int(m.group(1))
        m = prompt.match(lines[i])
        if m and first <= section <= last:
            expect = []
            j = i + 1
            while j < len(lines) and lines[j].replace("★", "").isascii() \
                    and not lines[j].startswith("[root@"):
                expect.append(lines[j])
                j += 1
            out.append((i + 1, section, m.group(1), expect))
        i += 1
    return out


def tokens(text, numeric=False):
    for a, b in SEED_TO_189:
        text = text.replace(a, b)
    toks = text.replace("★", " ").split()
    if numeric:
        # the prot column is the word before the opt column
        for i in range(len(toks) - 1):
            if toks[i + 1] in ("--", "-f", "!f") and toks[i] in PROTO_NUMBERS:
                toks[i] = PROTO_NUMBERS[toks[i]]
    return toks


def numeric(cmd):
    return any(w.startswith("-") and not w.startswith("--") and "n" in w
               for w in cmd.split()) or " --numeric" in cmd


def shows_counters(cmd):
    words = cmd.split()
    return any(w.startswith("-") and not w.startswith("--") and "v" in w for w in words)


def run(res, opts):
    why = have_root_netns()
    if why:
        res.skip("seed", why)
        return
    with Differ(opts["bindir"]) as d:
        r = d.step(["iptables-restore"], stdin=open(RULES).read())
        if not res.check("seed restore examples/centos7-firewalld.rules", r is None, r or ""):
            return
        for lineno, section, cmd, expect in seed_commands():
            name = "seed §%d line %d: %s" % (section, lineno, cmd)
            for hidden in UNSHOWN.get(lineno, []):
                r = d.step(hidden)
                res.check("seed (unshown step before line %d) %s" % (lineno, hidden),
                          r is None, r or "")
            diff = d.step(cmd)
            if diff:
                res.fail(name, "differs from iptables-legacy:\n" + diff)
                continue
            if section <= 10 and expect and " -L" in " " + cmd.replace("-nL", "-L") \
                    and not shows_counters(cmd):
                rc, out, err = d.uxt.ipt(cmd.split()[1:])
                got = tokens(out + err)
                want = tokens("\n".join(expect), numeric(cmd))
                if got != want:
                    res.fail(name, "differs from the seed's text:\nseed: %s\nuxt:  %s"
                             % (" ".join(want), " ".join(got)))
                    continue
            res.ok(name)
