# SPDX-License-Identifier: BSD-2-Clause
"""iptables 1.8.9's own extension tests, compared with the golden outputs of
real iptables-legacy 1.8.9 (../shared/conformance): for every test line and
chain, a fresh state, "iptables -t T -A CHAIN RULE", then exit status, stderr
(banner aside) and, for accepted rules, -S, -L, -L -n, -L -v -n -x and -v -S
of that rule, byte for byte."""

import collections
import concurrent.futures
import json
import os
import shlex
import tempfile

from common import SHARED, Netns, Uxt, have_root_netns, normalize_banner

# The extensions of the command-line issue, and iptables.t.
FILES = """iptables.t libxt_standard.t libxt_tcp.t libxt_udp.t libipt_icmp.t
libxt_conntrack.t libxt_state.t libxt_mark.t libxt_connmark.t
libxt_multiport.t libxt_comment.t libxt_iprange.t libxt_limit.t
libipt_LOG.t libxt_NFLOG.t libipt_REJECT.t libxt_MARK.t libxt_CONNMARK.t
libxt_TCPMSS.t libipt_DNAT.t libipt_SNAT.t libipt_MASQUERADE.t
libxt_REDIRECT.t libxt_NOTRACK.t libxt_CT.t libxt_TRACE.t""".split()

GOLDEN = os.path.join(SHARED, "conformance", "golden",
                      "golden-ipv4-legacy-1.8.9.jsonl")

LISTINGS = [
    ("S", "-S {c} 1"),
    ("L", "-L {c} 1"),
    ("Ln", "-L {c} 1 -n"),
    ("Lvnx", "-L {c} 1 -v -n -x"),
    ("vS", "-v -S {c} 1"),
]


def load(files=None):
    wanted = set(files or FILES)
    runs = []
    with open(GOLDEN) as f:
        for line in f:
            d = json.loads(line)
            if d["file"] in wanted:
                runs.append(d)
    return runs


def one(bindir, netns, d):
    """Returns a list of differences (empty if the run matches)."""
    diffs = []
    with tempfile.TemporaryDirectory(prefix="uxt-conf-") as state:
        u = Uxt(bindir, state, netns)
        t, c = d["table"], d["chain"]
        args = ["-t", t, "-A", c] + shlex.split(d["rule"])
        rc, out, err = u.ipt(args)
        if rc != d["rc"]:
            diffs.append("exit %d, expected %d" % (rc, d["rc"]))
        if normalize_banner(err) != d["stderr"]:
            diffs.append("stderr %r, expected %r" % (err, d["stderr"]))
        if d["rc"] == 0 and "S" in d:
            for key, cmd in LISTINGS:
                rc2, out2, err2 = u.ipt(["-t", t] + shlex.split(cmd.format(c=c)))
                if out2 != d[key] or rc2 != 0 or err2:
                    diffs.append("%s: %r (rc %d, stderr %r), expected %r"
                                 % (key, out2, rc2, err2, d[key]))
    return diffs


def run(res, opts):
    runs = load(opts.get("files"))
    per_file = collections.OrderedDict()
    # The golden outputs were taken in a fresh network namespace, where the
    # resolver is unreachable; -L without -n depends on that, so run there.
    why = have_root_netns()
    ns = None
    if why:
        print("conformance: running outside a network namespace (%s); "
              "name lookups of -L may differ" % why)
    else:
        ns = Netns("uxtconf")
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=opts.get("jobs", 4)) as ex:
            futs = [(d, ex.submit(one, opts["bindir"], ns and ns.name, d))
                    for d in runs]
            results = [(d, f.result()) for d, f in futs]
    finally:
        if ns:
            ns.close()
    for d, diffs in results:
        name = "conformance %s:%d %s %s" % (d["file"], d["line"],
                                            d["chain"], d["rule"])
        stat = per_file.setdefault(d["file"], [0, 0])
        stat[1] += 1
        if not diffs:
            stat[0] += 1
            res.ok(name)
        else:
            res.fail(name, "\n".join(diffs))
    for f, (p, n) in per_file.items():
        print("conformance %-24s %3d/%d" % (f, p, n))
