# SPDX-License-Identifier: BSD-2-Clause
"""Differential suite: the same command sequences through iptables-legacy
(the kernel) in a fresh network namespace and through uxtables; exit status,
stdout and stderr must agree (banner, program paths, lock path and save
timestamps aside).

  errors      every command of ../shared/docs/iptables-errors.md, each from
              the same base ruleset, followed by iptables-save so that a
              half-applied change shows
  restore     the restore files of that page, and more broken ones
  sequences   rulesets over all tables built, listed, changed and torn down
              with every command and listing flag
"""

import os
import re
import shlex

from common import SHARED, have_root_netns
from differ import Differ

ERRORS_MD = os.path.join(SHARED, "docs", "iptables-errors.md")

BASE_RULESET = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:USER - [0:0]
:EMPTY - [0:0]
:REFD - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -j REFD
-A USER -j DROP
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
"""


def error_commands():
    """The numbered commands of the error page, in order."""
    cmds = []
    row = re.compile(r"^\| (\d+) \| `(.*?)` \|")
    with open(ERRORS_MD) as f:
        for line in f:
            m = row.match(line)
            if m:
                cmds.append((int(m.group(1)), m.group(2)))
    return cmds


def restore_files():
    """The restore inputs of the error page: (name, bytes)."""
    out = []
    row = re.compile(r"^\| (\d\d-[\w-]+\.txt) \| `` (.*?) `` \|")
    empty = re.compile(r"^\| (\d\d-[\w-]+\.txt) \| \(empty\) \|")
    with open(ERRORS_MD) as f:
        for line in f:
            m = row.match(line)
            if m:
                out.append((m.group(1), m.group(2).replace("\\n", "\n")))
                continue
            m = empty.match(line)
            if m:
                out.append((m.group(1), ""))
    return out


# More broken and odd restore inputs than the page lists.
EXTRA_RESTORES = [
    ("commit-no-newline", "*filter\n-A INPUT -j ACCEPT\nCOMMIT"),
    ("blank-and-comments", "# c1\n\n*filter\n# c2\n:INPUT DROP [0:0]\n\nCOMMIT\n"),
    ("two-tables", "*nat\n-A PREROUTING -p tcp -j ACCEPT\nCOMMIT\n*filter\n-N X\n-A X -j RETURN\n-A INPUT -j X\nCOMMIT\n"),
    ("error-in-second-table", "*filter\n-A INPUT -j ACCEPT\nCOMMIT\n*nat\n-A NOPE -j ACCEPT\nCOMMIT\n"),
    ("loop", "*filter\n:A - [0:0]\n:B - [0:0]\n-A A -j B\n-A B -j A\n-A INPUT -j A\nCOMMIT\n"),
    ("unreachable-loop", "*filter\n:A - [0:0]\n:B - [0:0]\n-A A -j B\n-A B -j A\nCOMMIT\n"),
    ("self-jump", "*filter\n:A - [0:0]\n-A A -j A\nCOMMIT\n"),
    ("jump-builtin", "*filter\n:A - [0:0]\n-A A -j INPUT\nCOMMIT\n"),
    ("quotes", '*filter\n-A INPUT -m comment --comment "a \\"b\\" c" -j ACCEPT\n-A INPUT -m comment --comment \'x\' -j ACCEPT\nCOMMIT\n'),
    ("quote-mid-word", '*filter\n-A INPUT -m comment --comment ab"cd ef"gh\nCOMMIT\n'),
    ("counters-c", "*filter\n:INPUT DROP [5:300]\n[7:420] -A INPUT -j ACCEPT\nCOMMIT\n"),
    ("bad-counter-line", "*filter\n[7:420 -A INPUT -j ACCEPT\nCOMMIT\n"),
    ("bad-counter-colon", "*filter\n[7] -A INPUT -j ACCEPT\nCOMMIT\n"),
    ("policy-missing", "*filter\n:INPUT\nCOMMIT\n"),
    ("table-missing", "*\nCOMMIT\n"),
    ("chain-missing", "*filter\n:\nCOMMIT\n"),
    ("nested-commit", "COMMIT\n"),
    ("rule-outside-table", "-A INPUT -j ACCEPT\n"),
    ("user-chain-policy-dash", "*filter\n:X - [0:0]\n:X - [0:0]\nCOMMIT\n"),
    ("dnat-in-filter", "*filter\n-A INPUT -j DNAT --to-destination 1.2.3.4\nCOMMIT\n"),
    ("tab-separated", "*filter\n:INPUT\tACCEPT\t[0:0]\n-A\tINPUT\t-j\tDROP\nCOMMIT\n"),
    ("space-line", "*filter\n   \nCOMMIT\n"),
    ("dash-t-inside", "*filter\n-t filter -A INPUT -j ACCEPT\nCOMMIT\n"),
    ("dash-w-inside", "*filter\n-w -A INPUT -j ACCEPT\nCOMMIT\n"),
    ("ipv6-line", "*filter\n-6 -A INPUT -j ACCEPT\n-4 -A INPUT -j DROP\nCOMMIT\n"),
    ("bad-option", "*filter\n-A INPUT --bogus\nCOMMIT\n"),
    ("unknown-table-later", "*filter\nCOMMIT\n*bogus\nCOMMIT\n"),
    ("long-chain-28", "*filter\n:abcdefghijklmnopqrstuvwxyz12 - [0:0]\nCOMMIT\n"),
    ("delete-rule", "*filter\n-A INPUT -s 1.2.3.4 -j DROP\n-D INPUT -s 1.2.3.4 -j DROP\n-D INPUT -s 1.2.3.4 -j DROP\nCOMMIT\n"),
]

RESTORE_FLAGS = [[], ["-n"], ["-c"], ["-t"], ["-v"], ["-n", "-c"], ["-T", "nat"]]

# Sequences: each a list of commands; a listing of everything follows each.
LIST_ALL = ["iptables -S", "iptables -L -v -n -x --line-numbers",
            "iptables -t nat -S", "iptables -t mangle -S", "iptables -t raw -S"]

SEQUENCES = [
    ("seed-chains", [
        "iptables -N TEST", "iptables -L TEST", "iptables -X TEST", "iptables -L TEST",
        "iptables -N TEST", "iptables -A TEST -p icmp -j LOG", "iptables -I OUTPUT -j TEST",
        "iptables -nvL TEST", "iptables -L OUTPUT --line-numbers", "iptables -D OUTPUT 1",
        "iptables -F TEST", "iptables -X TEST", "iptables -L"]),
    ("append-insert-replace-delete", [
        "iptables -A OUTPUT -p icmp -j LOG", "iptables -I OUTPUT 1 -p udp -j LOG",
        "iptables -I OUTPUT 3 -p tcp -j LOG", "iptables -I OUTPUT 5 -j LOG",
        "iptables -R OUTPUT 2 -p udp -j LOG", "iptables -R OUTPUT 9 -p udp -j LOG",
        "iptables -L OUTPUT --line-numbers", "iptables -L OUTPUT 2", "iptables -S OUTPUT 3",
        "iptables -D OUTPUT 2", "iptables -D OUTPUT -p tcp -j LOG", "iptables -C OUTPUT -p udp -j LOG",
        "iptables -C OUTPUT -p tcp -j LOG", "iptables -D OUTPUT 5", "iptables -v -A OUTPUT -d 10.0.0.0/8 -j DROP",
        "iptables -v -D OUTPUT -d 10.0.0.0/8 -j DROP", "iptables -v -C OUTPUT -d 10.0.0.0/8 -j DROP",
        "iptables -A OUTPUT -s 1.2.3.4,5.6.7.8 -d 9.9.9.9,8.8.8.8 -j ACCEPT",
        "iptables -D OUTPUT -s 1.2.3.4,5.6.7.8 -d 9.9.9.9 -j ACCEPT",
        "iptables -R OUTPUT 1 -s 1.2.3.4,5.6.7.8 -j ACCEPT"]),
    ("all-tables", [
        "iptables -t mangle -A PREROUTING -i eth+ -j ACCEPT", "iptables -t nat -A POSTROUTING -o eth0 -j ACCEPT",
        "iptables -t raw -A PREROUTING -s 192.168.0.0/16 -j ACCEPT", "iptables -A FORWARD ! -i eth1 -j DROP",
        "iptables -t security -A INPUT -j ACCEPT", "iptables-save", "iptables -t nat -L",
        "iptables -t mangle -L -v", "iptables -t raw -nL", "iptables -t security -L -n"]),
    ("renames-and-refs", [
        "iptables -N A", "iptables -N B", "iptables -N Zchain", "iptables -N _chain",
        "iptables -N achain", "iptables -N LOGDROP", "iptables -A INPUT -j A", "iptables -A FORWARD -g A",
        "iptables -A A -j B", "iptables -L", "iptables -E A C", "iptables -L", "iptables -E C B",
        "iptables -E C ACCEPT", "iptables -E C D", "iptables -E INPUT X", "iptables -E NOPE X",
        "iptables -X D", "iptables -X B", "iptables -X", "iptables -L -n", "iptables -F", "iptables -X",
        "iptables -L -n"]),
    ("loops", [
        "iptables -N A", "iptables -N B", "iptables -A A -j B", "iptables -A B -j A",
        "iptables -A INPUT -j A", "iptables -A INPUT -j B", "iptables -A A -j A", "iptables -D A 1",
        "iptables -A INPUT -j A", "iptables -A B -g A", "iptables -A A -j RETURN",
        "iptables -I A -j RETURN", "iptables -A A -j B", "iptables -A A -j INPUT", "iptables -I A -j OUTPUT",
        "iptables -L -n"]),
    ("policies-counters", [
        "iptables -P INPUT DROP", "iptables -P FORWARD DROP -c 10 20", "iptables -L -v",
        "iptables -S -v", "iptables -A INPUT -c 5 300 -j ACCEPT", "iptables -A INPUT -c 1,2 -j ACCEPT",
        "iptables -I INPUT -c 123456 98765432 -s 1.1.1.1 -j ACCEPT",
        "iptables -A INPUT -c 9999500 10000000000 -j DROP", "iptables -A INPUT -c 12345678901234 1 -j DROP",
        "iptables -L -v", "iptables -L -v -x", "iptables -L INPUT -v -n --line-numbers",
        "iptables -S INPUT -v", "iptables -Z INPUT 2", "iptables -L -v -n", "iptables -Z INPUT",
        "iptables -L -v -x", "iptables -A INPUT -c 7 7", "iptables -L -Z -v INPUT",
        "iptables -L -v INPUT", "iptables -S -Z -v", "iptables -S -v",
        "iptables -t nat -P PREROUTING ACCEPT", "iptables -P OUTPUT QUEUE", "iptables -t raw -P OUTPUT DROP"]),
    ("flags", [
        "iptables -A INPUT -f -j DROP", "iptables -A INPUT ! -f -j DROP",
        "iptables -A INPUT -p 47 -j ACCEPT", "iptables -A INPUT ! -p udp -s 10.0.0.1/255.0.255.0 -j ACCEPT",
        "iptables -A INPUT -p tcp -d 127.0.0.1 -j ACCEPT", "iptables -A INPUT -s 127.0.0.0/8 -j ACCEPT",
        "iptables -A INPUT -i averylongifname -j ACCEPT", "iptables -A INPUT -i eth0+ -j ACCEPT",
        "iptables -A INPUT -i + -j ACCEPT", "iptables -A INPUT -p ALL -j ACCEPT",
        "iptables -A INPUT -p 0 -j ACCEPT", "iptables -A INPUT -p 255 -j ACCEPT",
        "iptables -A INPUT --protocol icmp --source 1.2.3.0/24 --jump ACCEPT",
        "iptables -A INPUT -p sctp -j ACCEPT", "iptables -A INPUT -p udplite -j ACCEPT",
        "iptables -A INPUT -p ipv6-icmp -j ACCEPT", "iptables -A INPUT -p esp -j ACCEPT",
        "iptables -A INPUT -j QUEUE", "iptables -A INPUT", "iptables -A INPUT -s 0/0",
        "iptables -A INPUT -s 10 -d 10.1 -j ACCEPT", "iptables -A INPUT -s 10.1.2 -j ACCEPT",
        "iptables -L", "iptables -L -n", "iptables -L -v", "iptables -L -v -n --line-numbers",
        "iptables -S", "iptables-save", "iptables --list INPUT --numeric", "iptables --list-rules INPUT 3",
        "iptables -L INPUT -x", "iptables -vxnL", "iptables -nvL INPUT 4"]),
    ("getopt-corners", [
        "iptables -A", "iptables --app INPUT -j ACCEPT", "iptables --a INPUT", "iptables --li",
        "iptables --list=INPUT", "iptables -LINPUT", "iptables -L INPUT -- -n", "iptables -L --",
        "iptables -A INPUT -s=1.2.3.4", "iptables -A INPUT --source=1.2.3.4 -j ACCEPT",
        "iptables -A INPUT - -j ACCEPT", "iptables -A INPUT --verbose=1", "iptables -n",
        "iptables -A INPUT ! -j ACCEPT", "iptables ! -A INPUT", "iptables -A INPUT -j ACCEPT !",
        "iptables -A INPUT -m", "iptables -A INPUT -p tcp -m tcp ! --dport 22 ! --sport 1 -j ACCEPT",
        "iptables -S", "iptables -w 1 -L INPUT", "iptables -w -L INPUT", "iptables --wait=2 -S",
        "iptables -W 5 -w 1 -L", "iptables -W 10000000 -L", "iptables -W abc -L", "iptables -W",
        "iptables -w 1 -W -L", "iptables -L -n -v -x --line-numbers INPUT", "iptables -4 -L INPUT",
        "iptables -Z -L", "iptables -L -Z -S", "iptables -F -L", "iptables -t", "iptables -t nat",
        "iptables -t NAT -L", "iptables -I INPUT 0 -j ACCEPT", "iptables -I INPUT 1x -j ACCEPT",
        "iptables -I INPUT 0x1 -j ACCEPT", "iptables -D INPUT 010", "iptables -L INPUT 1 2",
        "iptables -N", "iptables -X -X", "iptables -P INPUT ACCEPT extra", "iptables -E A",
        "iptables -c 1 2 -A INPUT -j ACCEPT", "iptables -A INPUT -c 1", "iptables -S -c 1 2",
        "iptables -P INPUT DROP -c 3 4", "iptables -S INPUT -v", "iptables -h"]),
]


def run_errors(res, d):
    base = BASE_RULESET
    for num, cmd in error_commands():
        name = "differential errors #%d %s" % (num, cmd[:70])
        argv = shlex.split(cmd)
        if argv and argv[0] != "iptables":
            res.skip(name, "not an iptables command")
            continue
        reset = d.step(["iptables-restore"], stdin=base)
        if reset:
            res.fail(name, "base ruleset differs:\n" + reset)
            continue
        diffs = [x for x in (d.step(argv), d.step(["iptables-save"]),
                             d.step(["iptables", "-L", "-n", "-v"])) if x]
        res.check(name, not diffs, "\n".join(diffs))


def run_restores(res, d):
    files = restore_files() + EXTRA_RESTORES
    for fname, content in files:
        for flags in RESTORE_FLAGS:
            name = "differential restore %s %s" % (fname, " ".join(flags))
            reset = d.step(["iptables-restore"], stdin=BASE_RULESET)
            if reset:
                res.fail(name, "base ruleset differs:\n" + reset)
                continue
            diffs = [x for x in (d.step(["iptables-restore"] + flags, stdin=content),
                                 d.step(["iptables-save"], mask_policy=True),
                                 d.step(["iptables-save", "-c"], mask_policy=True)) if x]
            res.check(name, not diffs, "\n".join(diffs))


def run_sequences(res, bindir):
    for name, cmds in SEQUENCES:
        with Differ(bindir) as d:
            diffs = []
            for cmd in cmds:
                r = d.step(cmd, mask_policy=True)
                if r:
                    diffs.append(r)
                for lst in LIST_ALL:
                    r = d.step(lst, mask_policy=True)
                    if r:
                        diffs.append("after %s:\n%s" % (cmd, r))
                if len(diffs) > 5:
                    break
            res.check("differential sequence " + name, not diffs, "\n".join(diffs))


def run(res, opts):
    why = have_root_netns()
    if why:
        res.skip("differential", why)
        return
    with Differ(opts["bindir"]) as d:
        run_errors(res, d)
    with Differ(opts["bindir"]) as d:
        run_restores(res, d)
    run_sequences(res, opts["bindir"])
