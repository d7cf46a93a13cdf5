# SPDX-License-Identifier: BSD-2-Clause
"""Batches: flows and the ruleset that goes with them, deterministic from
(seed, batch): each batch draws from its own random.Random("seed:batch"),
so any batch can be rebuilt alone.  The interface names (random per run)
come in through Env.

The ruleset (iptables-restore text for raw, mangle, nat, filter, security;
every table listed, so that each batch replaces the previous one):
  - at the top of every built-in chain, counter rules (no target) per
    ctstate: NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED, and a drawn
    selection of SNAT/DNAT states, -m state, --ctdir, --ctstatus,
    --ctproto, --ctexpire (bands far from any timeout's edge), address and
    port matches of the conntrack match; the raw chains also at the bottom
    (after NOTRACK/CT, UNTRACKED shows);
  - per flow, matched by its unique service port (ICMP: its addresses):
    its NAT (SNAT with addresses, address ranges, ports, port ranges,
    --random, --random-fully, --persistent; MASQUERADE with or without
    --to-ports, --random, --random-fully; DNAT with and without ports and
    ranges; REDIRECT with and without --to-ports; in PREROUTING, OUTPUT,
    INPUT and POSTROUTING as the kind allows), NOTRACK / CT --notrack,
    CT --zone, CONNMARK (set, save, restore), MARK and -m connmark / -m
    mark, REJECT of its NEW packets, DROP of its replies;
  - per batch: INVALID dropped or not, a FORWARD policy of DROP with
    ESTABLISHED,RELATED accepted, a user chain for NEW packets.

Every NAT choice is forced, so that the kernel's tuple is a function of the
packets: every flow of a batch has its own source port (ICMP: id) and its
own service port, so no two flows' tuples can clash; a port range given to
SNAT/MASQUERADE either holds the flow's own source port (kept) or is one
port; --random and --random-fully only with a range of one port; DNAT and
REDIRECT port ranges start at an unused port (the kernel searches them from
the bottom for DNAT); address ranges are picked by the kernel's jhash,
which has no random seed.  Nothing is normalised.
"""

import random

from kdiff import netns as N

from . import flows as F
from .flows import Flow

A = N.NET
DUT_A, DUT_B = N.DUT_A_IP, N.DUT_B_IP

TABLES = (("raw", ("PREROUTING", "OUTPUT")),
          ("mangle", ("PREROUTING", "INPUT", "FORWARD", "OUTPUT",
                      "POSTROUTING")),
          ("nat", ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")),
          ("filter", ("INPUT", "FORWARD", "OUTPUT")),
          ("security", ("INPUT", "FORWARD", "OUTPUT")))

CTSTATES = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"]
EXTRA_COUNTERS = [
    "-m conntrack --ctstate SNAT", "-m conntrack --ctstate DNAT",
    "-m conntrack --ctstate SNAT,DNAT",
    "-m state --state NEW", "-m state --state ESTABLISHED,RELATED",
    "-m state --state INVALID,UNTRACKED",
    "-m conntrack ! --ctstate NEW,ESTABLISHED",
    "-m conntrack --ctdir ORIGINAL", "-m conntrack --ctdir REPLY",
    "-m conntrack --ctstatus ASSURED", "-m conntrack --ctstatus SEEN_REPLY",
    "-m conntrack --ctstatus CONFIRMED", "-m conntrack --ctstatus EXPECTED",
    "-m conntrack ! --ctstatus ASSURED",
    "-m conntrack --ctstate ESTABLISHED --ctstatus ASSURED",
    "-m conntrack --ctproto tcp", "-m conntrack --ctproto udp",
    "-m conntrack --ctproto icmp",
    "-m conntrack --ctexpire 0:100", "-m conntrack --ctexpire 101:1000",
    "-m conntrack --ctexpire 1001:500000",
    "-m conntrack --ctorigsrc %s.1.0/24" % A,
    "-m conntrack --ctorigdst %s" % DUT_A,
    "-m conntrack --ctreplsrc %s.2.0/24" % A,
    "-m conntrack --ctrepldst %s" % DUT_B,
    "-m conntrack ! --ctreplsrc %s.2.2" % A,
    "-m conntrack --ctproto tcp --ctorigdstport 1:1023",
    "-m conntrack --ctproto udp --ctreplsrcport 8000:9999",
    "-m conntrack --ctproto tcp --ctorigsrcport 30000:30999",
    "-m conntrack --ctrepldstport 30000:30999",
    "-p tcp -m conntrack --ctstate NEW --ctdir ORIGINAL",
    "-p icmp -m conntrack --ctstate RELATED",
    "-p udp -m state --state ESTABLISHED",
]

# NAT port pools (flows' own ports never fall in them)
SNAT_PORTS = range(30000, 31000)
DNAT_PORTS = range(8000, 9000)
REDIR_PORTS = range(9000, 10000)
FLOW_PORTS = list(range(1024, 8000)) + list(range(10000, 30000)) + \
    list(range(31000, 61000))
WELL_KNOWN = [22, 25, 53, 80, 123, 443, 993, 3306, 5000, 8080]


class Env:
    def __init__(self, dut_a, dut_b):
        self.dut_a, self.dut_b = dut_a, dut_b


class Batch:
    def __init__(self, seed, index, ruleset, flows, notes):
        self.seed = seed
        self.index = index
        self.ruleset = ruleset
        self.flows = flows
        self.notes = notes

    def schedule(self):
        """[(flow index, step index)] in send order: every flow's steps
        that are not late, flow after flow, then the late ones."""
        out = []
        for f in self.flows:
            out += [(f.index, k) for k, s in enumerate(f.steps)
                    if not s.late]
        for f in self.flows:
            out += [(f.index, k) for k, s in enumerate(f.steps) if s.late]
        return out


def batch(seed, index, env, nflows, nat=True):
    """nat False: no NAT rule at all (while uxtables has conntrack but no
    NAT yet); a different batch from the same seed."""
    r = random.Random("%s:%s%s" % (seed, index, "" if nat else ":nonat"))
    g = BatchGen(r, env, index, nat)
    flows = [g.flow(i) for i in range(nflows)]
    text = g.ruleset()
    return Batch(seed, index, text, flows, g.notes)


class BatchGen:
    def __init__(self, r, env, index, nat=True):
        self.r = r
        self.env = env
        self.index = index
        self.nat = nat
        self.rules = {(t, c): [] for t, cs in TABLES for c in cs}
        self.user = {}              # (table, chain): [rule]
        self.notes = []
        self.ports = r.sample(FLOW_PORTS, 400)
        self.snat_ports = r.sample(SNAT_PORTS, 200)
        self.dnat_ports = r.sample(range(8000, 9000, 20), 40)
        self.redir_ports = r.sample(range(9000, 10000, 20), 40)
        self.ids = r.sample(range(1, 65535), 200)
        self.virt5 = r.sample(range(1, 255), 120)
        self.virt6 = r.sample(range(1, 255), 120)
        self.virt4 = r.sample(range(100, 255), 120)
        self.marks = r.sample(range(1, 0x7F), 60)
        self.zones = r.sample(range(1, 60000), 60)
        self.wk = list(WELL_KNOWN)
        r.shuffle(self.wk)
        self.policy_drop = r.random() < 0.2
        self.drop_invalid = r.random() < 0.35

    # --- pools ------------------------------------------------------------

    def port(self):
        return self.ports.pop()

    def service_port(self):
        if self.wk and self.r.random() < 0.3:
            return self.wk.pop()
        return self.port()

    def source_port(self):
        if self.r.random() < 0.06:
            # below 1024: SNAT's port classes (1-511, 600-1023)
            p = self.r.choice([self.r.randint(1, 511),
                               self.r.randint(600, 1023)])
            if p not in WELL_KNOWN and p not in self.ports:
                self.ports.append(p)        # never drawn again below
                self.ports.remove(p)
                return p
        return self.port()

    def add(self, table, chain, text, prio=1):
        self.rules[(table, chain)].append((prio, text))

    # --- one flow ---------------------------------------------------------

    def flow(self, i):
        r = self.r
        proto = r.choices(["tcp", "udp", "icmp"], [45, 30, 25])[0]
        cat = r.choices(["cs", "sc", "to dut", "from dut", "dut dut"],
                        [42, 12, 20, 20, 6])[0]
        if cat == "cs":
            init, resp = "c", "s"
        elif cat == "sc":
            init, resp = "s", "c"
        elif cat == "to dut":
            init, resp = r.choice("cs"), "l"
        elif cat == "from dut":
            init, resp = "l", r.choice("cs")
        else:
            init, resp = "l", "l"
        sp = self.ids.pop() if proto == "icmp" else self.source_port()
        dp = 0 if proto == "icmp" else self.service_port()
        f = Flow(i, proto, init, resp, None, "")
        f.ident = r.randrange(1, 60000)
        f.tos = r.choice([0] * 8 + [0x10, 0x28])
        nat = Nat(self, f, sp, dp)
        getattr(nat, {"cs": "fwd", "sc": "fwd", "to dut": "to_dut",
                      "from dut": "from_dut", "dut dut": "dut_dut"}[cat])()
        # the script
        {"tcp": F.tcp_flow, "udp": F.udp_flow, "icmp": F.icmp_flow}[proto](
            r, f)
        self.extras(f, nat)
        # ICMP flows: the type the first request carries is the "port"
        if proto == "icmp":
            first = next((s for s in f.steps if s.what == "icmp"), None)
            if first is not None:
                f.orig = (f.orig[0], f.orig[1], f.orig[2], first.p["type"])
                if f.expect:
                    f.expect = (f.expect[0], f.expect[1], f.expect[2],
                                first.p["type"])
        return f

    def extras(self, f, nat):
        """NOTRACK, zones, marks, REJECT and DROP for this flow."""
        r = self.r
        x = r.random()
        hooks = set()
        if "c" in (f.I, f.R) or "s" in (f.I, f.R):
            hooks.add("PREROUTING")
        if "l" in (f.I, f.R):
            hooks.add("OUTPUT")
            if f.I == "l" and f.R == "l":
                hooks.add("PREROUTING")
        both = nat.both_ways()
        if x < 0.08:
            target = r.choice(["CT --notrack", "NOTRACK"])
            for h in sorted(hooks):
                for m2 in both:
                    self.add("raw", h, "%s -j %s" % (m2, target))
            f.plan.append("untracked (raw -j %s)" % target)
            if r.random() < 0.6:
                F.add_error(r, f, "r")
        elif x < 0.16:
            z = self.zones.pop()
            f.zone = z
            for h in sorted(hooks):
                for m2 in both:
                    self.add("raw", h, "%s -j CT --zone %d" % (m2, z))
            f.plan.append("zone %d" % z)
        # marks
        x = r.random()
        pre = "OUTPUT" if f.I == "l" else "PREROUTING"
        m = nat.match_orig()
        if x < 0.1:
            v = self.marks.pop()
            self.add("mangle", pre, "%s -j CONNMARK --set-mark 0x%x" % (m, v))
            f.plan.append("connmark 0x%x" % v)
            if r.random() < 0.5:
                self.add("mangle", "PREROUTING",
                         "-m connmark --mark 0x%x -j MARK --set-mark 0x%x"
                         % (v, v + 0x100))
        elif x < 0.17:
            v = self.marks.pop()
            self.add("mangle", pre, "%s -j MARK --set-mark 0x%x" % (m, v))
            self.add("mangle", "POSTROUTING" if f.R != "l" else "INPUT",
                     "-m mark --mark 0x%x -j CONNMARK --save-mark" % v)
            self.add("mangle", "PREROUTING",
                     "-m connmark --mark 0x%x/0xff -j CONNMARK "
                     "--restore-mark" % v)
            f.plan.append("mark 0x%x saved to the connmark" % v)
        elif x < 0.2:
            v = self.marks.pop()
            self.add("mangle", pre, "%s -j CONNMARK --set-xmark 0x%x/0xf0"
                     % (m, v))
            f.plan.append("connmark xset 0x%x/0xf0" % v)
        # filtering
        x = r.random()
        fchain = {"l": "INPUT"}.get(f.R, "FORWARD") if f.I != "l" \
            else "OUTPUT"
        if x < 0.05:
            rw = " --reject-with tcp-reset" if f.proto == "tcp" and \
                r.random() < 0.6 else ""
            self.add("filter", fchain, "%s -m conntrack --ctstate NEW -j "
                     "REJECT%s" % (m, rw))
            f.plan.append("NEW rejected%s" % rw)
        elif x < 0.1 and f.proto != "icmp":
            mr = nat.match_reply_filter()
            if mr:
                chain = "FORWARD" if f.I != "l" and f.R != "l" else (
                    "INPUT" if f.I == "l" else "OUTPUT")
                self.add("filter", chain, "%s -m conntrack --ctstate "
                         "ESTABLISHED --ctdir REPLY -j DROP" % mr)
                f.plan.append("replies dropped in %s" % chain)

    # --- the ruleset ------------------------------------------------------

    def counters(self, chain_hook):
        r = self.r
        out = ["-m conntrack --ctstate %s" % s for s in CTSTATES]
        out += r.sample(EXTRA_COUNTERS, r.randint(3, 8))
        return out

    def ruleset(self):
        r = self.r
        e = self.env
        # per batch
        if self.drop_invalid:
            for c in ("FORWARD", "INPUT"):
                self.add("filter", c, "-m conntrack --ctstate INVALID -j "
                         "DROP", prio=2)
            self.notes.append("INVALID dropped in filter FORWARD/INPUT")
        if self.policy_drop:
            self.add("filter", "FORWARD", "-m state --state "
                     "ESTABLISHED,RELATED -j ACCEPT", prio=3)
            self.add("filter", "FORWARD", "-m conntrack --ctstate NEW "
                     "-j ACCEPT", prio=3)
            self.notes.append("filter FORWARD policy DROP")
        if r.random() < 0.4:
            self.user[("filter", "CTNEW")] = [
                "-p tcp", "-p udp -j RETURN", "-p icmp",
                "-m conntrack --ctstatus CONFIRMED"]
            self.add("filter", r.choice(["FORWARD", "INPUT"]),
                     "-m conntrack --ctstate NEW -j CTNEW", prio=0)
        if r.random() < 0.3:
            self.user[("mangle", "CTSEEN")] = [
                "-m conntrack --ctstate ESTABLISHED --ctdir REPLY",
                "-m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL",
                "-m conntrack --ctstate RELATED"]
            self.add("mangle", "POSTROUTING", "-j CTSEEN", prio=0)
        lines = []
        for table, chains in TABLES:
            lines.append("*" + table)
            for c in chains:
                pol = "ACCEPT"
                if table == "filter" and c == "FORWARD" and self.policy_drop:
                    pol = "DROP"
                lines.append(":%s %s [0:0]" % (c, pol))
            users = sorted(c for (t, c) in self.user if t == table)
            for c in users:
                lines.append(":%s - [0:0]" % c)
            for c in chains:
                rules = []
                for text in self.counters(c):
                    rules.append((0, text))
                rules += self.rules[(table, c)]
                if table == "raw":
                    rules.append((4, "-m conntrack --ctstate UNTRACKED"))
                    rules.append((4, "-m conntrack --ctstate INVALID"))
                # flows' and the batch's rules in a drawn order, after the
                # counters
                mid = [x for x in rules if 0 < x[0] < 3]
                r.shuffle(mid)
                ordered = [x for x in rules if x[0] == 0] + mid + \
                    [x for x in rules if x[0] >= 3]
                for _p, text in ordered:
                    lines.append("-A %s %s" % (c, text))
            for c in users:
                for text in self.user[(table, c)]:
                    lines.append("-A %s %s" % (c, text))
            lines.append("COMMIT")
        return "\n".join(lines) + "\n"


class Nat:
    """The addresses and the NAT rules of one flow."""

    def __init__(self, g, f, sp, dp):
        self.g = g
        self.f = f
        self.r = g.r
        self.sp = sp
        self.dp = dp
        self.nat_ports = []         # ports the flow's replies may carry

    # matches

    def match_orig(self):
        """The flow's packets as its initiator sends them (before NAT)."""
        f = self.f
        if f.proto == "icmp":
            return "-p icmp -s %s -d %s" % (f.orig[0], f.orig[1])
        return "-p %s --dport %d" % (f.proto, self.dp)

    def match_at(self, dst, dport):
        """The flow's original-direction packets where their destination is
        dst:dport (after a DNAT); dst None: any."""
        f = self.f
        if f.proto == "icmp":
            return "-p icmp -s %s%s" % (f.orig[0],
                                        " -d %s" % dst if dst else "")
        return "-p %s --dport %d" % (f.proto, dport)

    def both_ways(self):
        """Matches for both directions of the flow, before and after NAT
        (raw table: NOTRACK, CT --zone)."""
        f = self.f
        if f.proto == "icmp":
            out = ["-p icmp -s %s -d %s" % (f.orig[0], f.orig[1])]
            if f.expect:
                out.append("-p icmp -s %s -d %s" % (f.expect[1],
                                                     f.expect[0]))
            return out
        ports = [self.dp] + [p for p in self.nat_ports if p != self.dp]
        return ["-p %s -m multiport --ports %s" % (
            f.proto, ",".join(str(p) for p in ports[:15]))]

    def match_reply_filter(self):
        f = self.f
        ports = [self.dp] + [p for p in self.nat_ports if p != self.dp]
        return "-p %s -m multiport --sports %s" % (
            f.proto, ",".join(str(p) for p in ports[:15]))

    def _m_to(self, dst):
        if self.f.proto == "icmp":
            return self.match_orig()
        return "-d %s %s" % (dst, self.match_orig())

    # address helpers

    def _set(self, src, dst, expect, plan):
        f = self.f
        f.orig = (src, dst, self.sp, self.dp)
        f.expect = expect
        if plan:
            f.plan.append(plan)

    def _snat_spec(self, base_addrs, tcpudp):
        """(--to-source text, address it gives or None, port it gives)."""
        r = self.r
        k = r.random()
        addr = r.choice(base_addrs)
        if tcpudp and k < 0.2:
            p = self.g.snat_ports.pop()
            self.nat_ports.append(p)
            return "%s:%d" % (addr, p), addr, p, ""
        if tcpudp and k < 0.35 and self.sp >= 1024:
            lo = max(1024, self.sp - r.randint(0, 40))
            hi = min(65535, self.sp + r.randint(0, 40))
            return "%s:%d-%d" % (addr, lo, hi), addr, self.sp, ""
        if tcpudp and k < 0.45:
            p = self.g.snat_ports.pop()
            self.nat_ports.append(p)
            return "%s:%d" % (addr, p), addr, p, r.choice(
                [" --random", " --random-fully"])
        if k < 0.6 and addr not in (DUT_A, DUT_B):
            last = int(addr.split(".")[3])
            hi = "%s.%d" % (addr.rsplit(".", 1)[0], last + r.randint(1, 3))
            return "%s-%s" % (addr, hi), None, self.sp, r.choice(
                ["", "", " --persistent"])
        return addr, addr, self.sp, ""

    def snat(self, chain, out_dev, addrs, expect_dst, expect_dp):
        """SNAT of the flow where its destination is expect_dst:expect_dp
        (None: an address a range picks)."""
        spec, a, p, extra = self._snat_spec(addrs, self.f.proto != "icmp")
        o = "-o %s " % out_dev if out_dev else ""
        self.g.add("nat", chain, "%s%s -j SNAT --to-source %s%s" % (
            o, self.match_at(expect_dst, expect_dp), spec, extra))
        return (a or addrs[0], expect_dst, p, expect_dp), \
            "SNAT %s --to-source %s%s" % (chain, spec, extra)

    def masq(self, out_dev, dev_addr, expect_dst, expect_dp):
        r = self.r
        extra = ""
        p = self.sp
        if self.f.proto != "icmp":
            k = r.random()
            if k < 0.25:
                p = self.g.snat_ports.pop()
                self.nat_ports.append(p)
                extra = " --to-ports %d" % p
                extra += r.choice(["", "", " --random", " --random-fully"])
            elif k < 0.4 and self.sp >= 1024:
                extra = " --to-ports %d-%d" % (
                    max(1024, self.sp - r.randint(0, 30)),
                    min(65535, self.sp + r.randint(0, 30)))
        self.g.add("nat", "POSTROUTING", "-o %s %s -j MASQUERADE%s" % (
            out_dev, self.match_at(expect_dst, expect_dp), extra))
        return (dev_addr, expect_dst, p, expect_dp), "MASQUERADE%s" % extra

    def dnat(self, chain, in_dev, virt, targets):
        """DNAT of packets to virt: returns (address, port) expected and
        the plan text."""
        r = self.r
        tcpudp = self.f.proto != "icmp"
        addr = r.choice(targets)
        k = r.random()
        port = self.dp
        extra = ""
        if tcpudp and k < 0.35:
            port = self.g.dnat_ports.pop()
            spec = "%s:%d" % (addr, port)
            self.nat_ports.append(port)
            if r.random() < 0.15:
                extra = " --random"
        elif tcpudp and k < 0.5:
            port = self.g.dnat_ports.pop()
            spec = "%s:%d-%d" % (addr, port, port + r.randint(1, 15))
            self.nat_ports += list(range(port, port + 3))
        elif k < 0.65 and addr.startswith(A + ".2.") and \
                int(addr.split(".")[3]) < 18:
            hi = "%s.%d" % (addr.rsplit(".", 1)[0],
                            int(addr.split(".")[3]) + r.randint(1, 2))
            spec = "%s-%s" % (addr, hi)
            addr = None
        else:
            spec = addr
        i = "-i %s " % in_dev if in_dev else ""
        self.g.add("nat", chain, "%s%s -j DNAT --to-destination %s%s" % (
            i, self._m_to(virt), spec, extra))
        return addr, port, "DNAT %s %s --to-destination %s%s" % (
            chain, virt, spec, extra)

    def redirect(self, chain, in_dev, dst):
        r = self.r
        port = self.dp
        extra = ""
        if self.f.proto != "icmp":
            k = r.random()
            if k < 0.4:
                port = self.g.redir_ports.pop()
                extra = " --to-ports %d" % port
                self.nat_ports.append(port)
                if r.random() < 0.15:
                    extra += " --random"
            elif k < 0.55:
                port = self.g.redir_ports.pop()
                extra = " --to-ports %d-%d" % (port, port + r.randint(1, 9))
                self.nat_ports += list(range(port, port + 3))
        i = "-i %s " % in_dev if in_dev else ""
        self.g.add("nat", chain, "%s%s -j REDIRECT%s" % (
            i, self._m_to(dst), extra))
        return port, "REDIRECT %s%s" % (chain, extra)

    # --- the kinds ----------------------------------------------------------

    def fwd(self):
        """Forwarded, client -> server or server -> client."""
        r = self.r
        f = self.f
        e = self.g.env
        if f.I == "c":
            src = r.choice(F.CLIENTS)
            peer = r.choice(F.SERVERS)
            in_dev, out_dev = e.dut_a, e.dut_b
            out_addr = DUT_B
            snat_addrs = [DUT_B, A + ".2.50", A + ".2.60"]
            targets = [A + ".2.2", A + ".2.7", A + ".2.11", A + ".3.3"]
            virts = [DUT_A, DUT_B, "%s.5.%d" % (A, self.g.virt5.pop())]
        else:
            src = r.choice(F.SERVERS)
            peer = r.choice(F.CLIENTS)
            in_dev, out_dev = e.dut_b, e.dut_a
            out_addr = DUT_A
            snat_addrs = [DUT_A, A + ".1.50", A + ".1.60"]
            targets = [A + ".1.2", A + ".1.3", A + ".4.5"]
            virts = [DUT_B, "%s.6.%d" % (A, self.g.virt6.pop())]
        self.f.orig = (src, peer, self.sp, self.dp)
        k = r.random() if self.g.nat else 0.0
        if k < 0.35:
            self._set(src, peer, (src, peer, self.sp, self.dp), "")
            return
        if k < 0.55:
            self.f.orig = (src, peer, self.sp, self.dp)
            exp, plan = self.snat("POSTROUTING", out_dev, snat_addrs, peer,
                                  self.dp)
            self._set(src, peer, exp, plan)
            return
        if k < 0.7:
            self.f.orig = (src, peer, self.sp, self.dp)
            exp, plan = self.masq(out_dev, out_addr, peer, self.dp)
            self._set(src, peer, exp, plan)
            return
        virt = r.choice(virts) if f.proto != "icmp" else virts[-1]
        self.f.orig = (src, virt, self.sp, self.dp)
        addr, port, plan = self.dnat("PREROUTING", in_dev, virt, targets)
        exp = (src, addr or targets[0], self.sp, port)
        if r.random() < 0.4:
            self.f.plan.append(plan)
            if r.random() < 0.5:
                exp2, plan2 = self.snat("POSTROUTING", out_dev, snat_addrs,
                                        addr, port)
            else:
                exp2, plan2 = self.masq(out_dev, out_addr, addr, port)
            exp2 = (exp2[0], exp[1], exp2[2], exp2[3])
            self._set(src, virt, exp2, plan2)
        else:
            self._set(src, virt, exp, plan)

    def to_dut(self):
        """From the client or the server to dut itself."""
        r = self.r
        f = self.f
        e = self.g.env
        if f.I == "c":
            src = r.choice(F.CLIENTS)
            in_dev, near, far = e.dut_a, DUT_A, DUT_B
            elsewhere = r.choice(F.SERVERS)
            virt = "%s.5.%d" % (A, self.g.virt5.pop())
        else:
            src = r.choice(F.SERVERS)
            in_dev, near, far = e.dut_b, DUT_B, DUT_A
            elsewhere = r.choice(F.CLIENTS)
            virt = "%s.6.%d" % (A, self.g.virt6.pop())
        k = r.random() if self.g.nat else 0.0
        if k < 0.4:
            dst = r.choice([near, near, far])
            self._set(src, dst, (src, dst, self.sp, self.dp), "")
            return
        if k < 0.65:
            dst = r.choice([elsewhere, virt, near])
            self.f.orig = (src, dst, self.sp, self.dp)
            port, plan = self.redirect("PREROUTING", in_dev, dst)
            # REDIRECT: the primary address of the incoming interface
            self._set(src, dst, (src, near, self.sp, port), plan)
            return
        if k < 0.85:
            self.f.orig = (src, virt, self.sp, self.dp)
            addr, port, plan = self.dnat("PREROUTING", in_dev, virt,
                                         [far, near])
            self._set(src, virt, (src, addr or far, self.sp, port), plan)
            return
        dst = near
        self.f.orig = (src, dst, self.sp, self.dp)
        addr = A + (".1.77" if f.I == "c" else ".2.77")
        exp, plan = self.snat("INPUT", None, [addr], dst, self.dp)
        self._set(src, dst, exp, plan)

    def from_dut(self):
        """From dut (a raw socket) to the client or the server."""
        r = self.r
        f = self.f
        e = self.g.env
        if f.R == "s":
            peer = r.choice(F.SERVERS)
            out_dev, near, far = e.dut_b, DUT_B, DUT_A
            snat_addrs = [A + ".2.60", A + ".2.61"]
            virt = "%s.5.%d" % (A, self.g.virt5.pop())
            targets = [A + ".2.2", A + ".2.7", A + ".3.3"]
        else:
            peer = r.choice(F.CLIENTS)
            out_dev, near, far = e.dut_a, DUT_A, DUT_B
            snat_addrs = [A + ".1.60", A + ".1.61"]
            virt = "%s.4.%d" % (A, self.g.virt4.pop())
            targets = [A + ".1.2", A + ".1.3", A + ".4.5"]
        src = near if r.random() < 0.75 else far
        k = r.random() if self.g.nat else 0.0
        if k < 0.35:
            self._set(src, peer, (src, peer, self.sp, self.dp), "")
            return
        if k < 0.55:
            self.f.orig = (src, peer, self.sp, self.dp)
            exp, plan = self.snat("POSTROUTING", out_dev, snat_addrs, peer,
                                  self.dp)
            self._set(src, peer, exp, plan)
            return
        if k < 0.7:
            self.f.orig = (src, peer, self.sp, self.dp)
            exp, plan = self.masq(out_dev, near, peer, self.dp)
            self._set(src, peer, exp, plan)
            return
        self.f.orig = (src, virt, self.sp, self.dp)
        addr, port, plan = self.dnat("OUTPUT", None, virt, targets)
        exp = (src, addr or targets[0], self.sp, port)
        if r.random() < 0.3:
            self.f.plan.append(plan)
            exp2, plan = self.snat("POSTROUTING", out_dev, snat_addrs, addr,
                                   port)
            exp = (exp2[0], exp[1], exp2[2], exp2[3])
        self._set(src, virt, exp, plan)

    def dut_dut(self):
        """dut to itself, over lo."""
        r = self.r
        src = r.choice([DUT_A, DUT_B])
        k = r.random() if self.g.nat else 0.0
        if k < 0.3:
            dst = DUT_B if src == DUT_A else DUT_A
            self._set(src, dst, (src, dst, self.sp, self.dp), "")
            return
        if k < 0.7:
            dst = r.choice(F.SERVERS + F.CLIENTS)
            self.f.orig = (src, dst, self.sp, self.dp)
            port, plan = self.redirect("OUTPUT", None, dst)
            self._set(src, dst, (src, "127.0.0.1", self.sp, port), plan)
            return
        virt = "%s.5.%d" % (A, self.g.virt5.pop())
        self.f.orig = (src, virt, self.sp, self.dp)
        addr, port, plan = self.dnat("OUTPUT", None, virt, [DUT_A, DUT_B])
        self._set(src, virt, (src, addr or DUT_A, self.sp, port), plan)

