# SPDX-License-Identifier: BSD-2-Clause
"""Generators: rulesets and packets, deterministic from (seed, batch).

A batch is one ruleset and the cases sent through it.  Each batch draws
from its own random.Random(f"{seed}:{batch}"), so any batch can be rebuilt
alone from the run's seed and its number.  What is random per run and not
from the seed (the namespace suffix in interface names, the token in LOG
prefixes) is passed in through Env.

Rulesets (iptables-restore text for raw, mangle, nat, filter and security,
every table listed so that each batch replaces the previous one):
  - user chains with jumps (-j), gotos (-g), RETURNs (conditional and
    unconditional), in a random DAG (no loops), shared between hooks;
  - matches: -s/-d with prefixes, -i/-o with exact names, '+' wildcards and
    '!', -p (names, numbers, '!'), -f / ! -f, tcp (ports, ranges, flags,
    --syn, --tcp-option), udp, icmp (types by name, number, type/code),
    multiport, mark, iprange, limit (slow rates, so that the outcome does
    not depend on timing), comment;
  - targets: ACCEPT, DROP, RETURN, jump, goto, LOG (prefix, level 4-7, every
    flag), NFLOG (group, prefix, size), REJECT (every --reject-with, aliases
    included), MARK (every form), TCPMSS (--set-mss and
    --clamp-mss-to-pmtu, on SYN-matching rules), TRACE, and rules without a
    target (counters only);
  - every rule valid where it is: a user chain may only be called from
    chains whose hooks it allows (so clamp-mss-to-pmtu and -i/-o are placed
    where the kernel accepts them); the nat table gets rules too, which are
    never traversed (no conntrack);
  - no connection tracking or NAT matches/targets (a later issue).
  LOG levels stay in 4-7: lower ones go to the serial console.

Cases: one or more packets in one direction ('c' from the client link,
's' from the server link, 'l' sent by a local process in dut), all of one
kind:
  - TCP/UDP/ICMP/other protocols, addresses from pools shared with the
    rules (dut's own, both sides, routed networks, a blackhole, broadcast,
    multicast, martians), ports, marks-relevant fields, TTL 0/1/2, TOS/ECN,
    DF, sizes beyond the server link's MTU;
  - malformed: bad version/IHL/tot_len/header checksum, trailing bytes,
    truncated L4 headers, bad TCP data offset, impossible flag sets, bad L4
    checksums, bad UDP length;
  - IP options (ipopt): record route, timestamps (every flag; room, full,
    overflowing), loose and strict source routes through dut (next hops
    near, behind gateways, dut itself, unroutable), router alert, CIPSO,
    security, stream ID, NOPs, END, unknown, and every kind of broken
    length or pointer; one to three per header, on datagrams forwarded,
    delivered, looped back from a local sender, fragmented by dut or sent
    in fragments.  Each batch sets dut's accept_source_route its own way
    (batch_sysctls);
  - ICMP errors quoting real packets, garbage or nothing; unknown types;
  - fragments: single non-first fragments, whole datagrams in order, in
    reverse, shuffled, overlapping, duplicated, tiny first fragments;
  - link layer: unicast to dut, broadcast, multicast, another host's MAC.
Local cases are datagrams the kernel's raw socket passes on unchanged
(valid IP header, non-zero ID and source, within the route's MTU).
"""

import random
import struct

from . import netns as N
from .netns import mac_bytes
from .pkt import fragments, icmp, ip2b, ipv4, tcp, udp

# --- address and value pools shared by rules and packets --------------------

A = N.NET
CLIENT_SIDE = [A + ".1.2", A + ".1.3", A + ".1.9", A + ".4.5", A + ".4.77"]
SERVER_SIDE = [A + ".2.2", A + ".2.7", A + ".3.3", A + ".3.200",
               "192.0.2.33", "198.51.100.7"]
DUT = [N.DUT_A_IP, N.DUT_B_IP]
SPECIAL_DST = [A + ".1.255", "255.255.255.255", A + ".2.255", "224.0.0.1",
               "239.1.2.3", "127.0.0.1", "0.0.0.0", A + ".6.9"]
SPECIAL_SRC = ["127.0.0.1", "0.0.0.0", "224.1.2.3", A + ".1.255",
               N.DUT_A_IP, "255.255.255.255"]
ALL_ADDRS = CLIENT_SIDE + SERVER_SIDE + DUT

PORTS = [0, 22, 25, 53, 80, 123, 443, 1000, 1001, 1023, 1024, 3306, 5000,
         5005, 8080, 33434, 65535]
MARKS = [0, 1, 2, 3, 0x10, 0xff, 0x100, 0x8000_0000, 0xdead]
ICMP_TYPES = {   # name: (type, code or None)
    "echo-request": (8, None), "echo-reply": (0, None),
    "destination-unreachable": (3, None), "port-unreachable": (3, 3),
    "host-unreachable": (3, 1), "fragmentation-needed": (3, 4),
    "network-prohibited": (3, 9), "communication-prohibited": (3, 13),
    "time-exceeded": (11, None), "ttl-zero-during-transit": (11, 0),
    "parameter-problem": (12, None), "source-quench": (4, None),
    "redirect": (5, None), "timestamp-request": (13, None),
    "address-mask-reply": (18, None), "router-advertisement": (9, None),
}
REJECT_WITH = ["icmp-net-unreachable", "icmp-host-unreachable",
               "icmp-port-unreachable", "icmp-proto-unreachable",
               "icmp-net-prohibited", "icmp-host-prohibited",
               "icmp-admin-prohibited", "net-unreach", "host-unreach",
               "port-unreach", "proto-unreach", "net-prohib", "host-prohib",
               "admin-prohib"]
TCP_FLAG_NAMES = ["SYN", "ACK", "FIN", "RST", "URG", "PSH"]
LOG_LEVELS = ["4", "5", "6", "7", "warning", "notice", "info", "debug"]
NFLOG_GROUPS = [0, 1, 7]

HOOKS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
TABLES = (("raw", ("PREROUTING", "OUTPUT")),
          ("mangle", HOOKS),
          ("nat", ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")),
          ("filter", ("INPUT", "FORWARD", "OUTPUT")),
          ("security", ("INPUT", "FORWARD", "OUTPUT")))


class Env:
    """What generation needs to know about this run's test bed."""

    def __init__(self, dut_a, dut_b, token, mtu_a, mtu_b):
        self.dut_a, self.dut_b = dut_a, dut_b
        self.token = token
        self.mtu_a, self.mtu_b = mtu_a, mtu_b
        common = 0
        while common < min(len(dut_a), len(dut_b)) and \
                dut_a[common] == dut_b[common]:
            common += 1
        self.common_prefix = dut_a[:common]


class Case:
    def __init__(self, index, direction, kind, frames, oif=None):
        self.index = index
        self.direction = direction   # 'c', 's' or 'l'
        self.kind = kind             # what the generator made, in short
        self.frames = frames         # Ethernet frames ('c', 's') or
                                     # IP datagrams ('l')
        self.oif = oif               # 'l': the device the route picks

    def datagrams(self):
        return [f if self.direction == "l" else f[14:] for f in self.frames]


class Batch:
    def __init__(self, seed, index, ruleset, cases, nflog_groups,
                 sysctls=()):
        self.seed = seed
        self.index = index
        self.ruleset = ruleset
        self.cases = cases
        self.nflog_groups = nflog_groups
        self.sysctls = list(sysctls)    # (key, value) set in dut first


def batch_sysctls(seed, index, env):
    """Settings of dut that vary per batch, from their own Random (so
    that the rest of the batch does not depend on them): source routes
    accepted (accept_source_route is on only when conf/all and the
    interface's are; a fresh namespace has all 0 and the devices 1)."""
    r = random.Random("%s:%s:sysctls" % (seed, index))
    k = r.choice(["off", "on", "on", "on but not link A"])
    key = "net.ipv4.conf.%s.accept_source_route"
    return [(key % "all", 0 if k == "off" else 1),
            (key % env.dut_a, 0 if k == "on but not link A" else 1)]


def batch(seed, index, env, ncases):
    rnd = random.Random("%s:%s" % (seed, index))
    rules = RulesetGen(rnd, env, index)
    text = rules.text()
    cases = PacketGen(rnd, env, index).cases(ncases)
    # received first, then sent by dut: one uxt replay per direction
    order = {"c": 0, "s": 1, "l": 2}
    cases.sort(key=lambda c: (order[c.direction], c.oif or "", c.index))
    return Batch(seed, index, text, cases, sorted(rules.nflog_groups),
                 batch_sysctls(seed, index, env))


# --- rulesets ---------------------------------------------------------------

class Chain:
    def __init__(self, name, table, hooks, builtin, order):
        self.name = name
        self.table = table
        self.hooks = frozenset(hooks)
        self.builtin = builtin
        self.order = order           # user chains: jumps go to higher orders
        self.rules = []


class RulesetGen:
    def __init__(self, rnd, env, batch_index):
        self.r = rnd
        self.env = env
        self.batch = batch_index
        self.nflog_groups = set()
        self.log_n = 0
        self.tables = {}
        self.policies = {}
        for table, builtins in TABLES:
            self._table(table, builtins)

    # chains and the call graph

    def _table(self, table, builtins):
        r = self.r
        weight = {"raw": 0.6, "mangle": 0.7, "nat": 0.25, "filter": 1.0,
                  "security": 0.25}[table]
        chains = [Chain(b, table, [b], True, -1) for b in builtins]
        used = r.random() < weight
        nuser = 0
        if used:
            nuser = {"filter": r.randint(0, 4), "mangle": r.randint(0, 2)}.get(
                table, r.randint(0, 1))
        for i in range(nuser):
            hooks = [h for h in builtins if r.random() < 0.6] or \
                [r.choice(builtins)]
            name = r.choice(["U", "user", "chain", "x", "LONG_chain_name"]) + \
                "%d" % i
            chains.append(Chain(name, table, hooks, False, i))
        self.tables[table] = chains
        for c in chains:
            if c.builtin:
                pol = "ACCEPT"
                if r.random() < {"filter": 0.15, "nat": 0}.get(table, 0.03):
                    pol = "DROP"
                self.policies[(table, c.name)] = pol
        if not used:
            return
        # user chains first (deepest last), so callers can refer to them
        for c in sorted(chains, key=lambda c: -c.order):
            n = r.randint(1, 6) if not c.builtin else r.randint(0, 8)
            for _ in range(n):
                c.rules.append(self._rule(c, chains))
        # every user chain gets a caller when one is allowed
        for c in chains:
            if c.builtin:
                continue
            if any(("-j %s" % c.name) in x or ("-g %s" % c.name) in x
                   for o in chains for x in o.rules):
                continue
            callers = [o for o in chains if self._may_call(o, c)]
            if callers:
                o = r.choice(callers)
                rule = "-A %s%s -%s %s" % (o.name, self._matches(o),
                                           r.choice("jjjg"), c.name)
                o.rules.insert(r.randint(0, len(o.rules)), rule)

    @staticmethod
    def _may_call(caller, callee):
        if callee.builtin or not caller.hooks <= callee.hooks:
            return False
        return caller.builtin or callee.order > caller.order

    # one rule

    def _rule(self, chain, chains):
        r = self.r
        table = chain.table
        tw = [("ACCEPT", 7), ("DROP", 5), ("RETURN", 8), ("jump", 14),
              ("goto", 6), ("LOG", 18), ("NFLOG", 4), ("MARK", 10),
              ("none", 8), ("TCPMSS", 8)]
        if table == "filter":
            tw.append(("REJECT", 14))
        if table == "raw":
            tw.append(("TRACE", 8))
        if table == "nat":
            tw = [t for t in tw if t[0] not in ("DROP", "TCPMSS")]
        target = _weighted(r, tw)
        callees = [c for c in chains if self._may_call(chain, c)]
        if target in ("jump", "goto") and not callees:
            target = "LOG"
        if target == "TCPMSS":
            return "-A %s%s" % (chain.name, self._tcpmss(chain))
        if target == "REJECT" and r.random() < 0.3:
            m = self._matches(chain, proto="tcp") if r.random() < 0.5 \
                else " -p tcp"
            return "-A %s%s -j REJECT --reject-with tcp-reset" % (
                chain.name, m)
        unconditional = r.random() < 0.1
        m = "" if unconditional else self._matches(chain)
        if target == "REJECT" and r.random() < 0.4:
            # few conditions, so that replies are common
            m = r.choice(["", " -p udp", " -p icmp", " -p tcp", " ! -p tcp",
                          " -p udp --dport %s" % self._ports()])
        head = "-A %s%s" % (chain.name, m)
        if target == "none":
            return head
        if target in ("ACCEPT", "DROP", "RETURN"):
            return head + " -j " + target
        if target == "jump":
            return head + " -j " + r.choice(callees).name
        if target == "goto":
            return head + " -g " + r.choice(callees).name
        if target == "LOG":
            return head + self._log()
        if target == "NFLOG":
            return head + self._nflog()
        if target == "MARK":
            return head + self._mark_target()
        if target == "REJECT":
            if r.random() < 0.2:
                return head + " -j REJECT"
            return head + " -j REJECT --reject-with " + r.choice(REJECT_WITH)
        if target == "TRACE":
            return head + " -j TRACE"
        raise AssertionError(target)

    def _tcpmss(self, chain):
        r = self.r
        clamp_ok = chain.hooks <= {"FORWARD", "OUTPUT", "POSTROUTING"}
        if r.random() < 0.5:
            m = self._matches(chain, proto="tcp", syn=True)
        else:
            m = " -p tcp " + r.choice(["--syn", "--tcp-flags SYN,RST SYN"])
        if clamp_ok and r.random() < 0.5:
            return m + " -j TCPMSS --clamp-mss-to-pmtu"
        return m + " -j TCPMSS --set-mss %d" % r.choice(
            [88, 536, 1000, 1200, 1260, 1360, 1400, 1460, 1500, 9000])

    def _log(self):
        r = self.r
        self.log_n += 1
        s = " -j LOG"
        p = r.random()
        if p < 0.08:
            pass                                  # no prefix
        elif p < 0.15:
            s += ' --log-prefix "K%s.%d.%d:"' % (self.env.token, self.batch,
                                                  self.log_n)
        else:
            tail = r.choice(["", "", "x ", "a-long-prefix-text "])
            pre = "K%s.%d.%d %s" % (self.env.token, self.batch, self.log_n,
                                    tail)
            s += ' --log-prefix "%s"' % pre[:29]
        if r.random() < 0.5:
            s += " --log-level " + r.choice(LOG_LEVELS)
        for flag in ("--log-tcp-sequence", "--log-tcp-options",
                     "--log-ip-options", "--log-uid", "--log-macdecode"):
            if r.random() < 0.2:
                s += " " + flag
        return s

    def _nflog(self):
        r = self.r
        g = r.choice(NFLOG_GROUPS)
        self.nflog_groups.add(g)
        s = " -j NFLOG"
        if g or r.random() < 0.5:
            s += " --nflog-group %d" % g
        if r.random() < 0.6:
            s += " --nflog-prefix %s" % r.choice(["nf", "nflog-test",
                                                  "p%d" % self.batch])
        if r.random() < 0.3:
            s += " --nflog-size %d" % r.choice([0, 20, 40, 64, 128])
        return s

    def _mark_target(self):
        r = self.r
        v = r.choice(MARKS[1:])
        k = r.random()
        if k < 0.35:
            return " -j MARK --set-mark 0x%x" % v
        if k < 0.5:
            return " -j MARK --set-mark 0x%x/0x%x" % (v, r.choice([0xff, 0xf,
                                                                   0xffff]))
        if k < 0.65:
            return " -j MARK --set-xmark 0x%x/0x%x" % (v, r.choice(
                [0xff, 0xffffffff, 0]))
        if k < 0.75:
            return " -j MARK --and-mark 0x%x" % r.choice([0xf0, 0xff, 0])
        if k < 0.9:
            return " -j MARK --or-mark 0x%x" % v
        return " -j MARK --xor-mark 0x%x" % v

    # matches

    def _matches(self, chain, proto=None, syn=False):
        r = self.r
        parts = []
        if proto is None:
            k = r.random()
            if k < 0.25:
                proto = "tcp"
            elif k < 0.42:
                proto = "udp"
            elif k < 0.6:
                proto = "icmp"
            elif k < 0.66:
                proto = r.choice(["47", "esp", "ah", "sctp", "all", "0"])
            elif k < 0.7:
                proto = "!" + r.choice(["tcp", "udp", "icmp"])
        if proto:
            if proto.startswith("!"):
                parts.append("! -p " + proto[1:])
            else:
                parts.append("-p " + proto)
        if r.random() < 0.3:
            parts.append(self._addr("-s"))
        if r.random() < 0.3:
            parts.append(self._addr("-d"))
        for opt, bad in (("-i", ("OUTPUT", "POSTROUTING")),
                         ("-o", ("PREROUTING", "INPUT"))):
            if r.random() < 0.2 and not (chain.builtin and chain.name in bad):
                parts.append(self._iface(opt))
        if r.random() < 0.1 and not syn:
            parts.append(r.choice(["-f", "! -f"]))
        if proto == "tcp":
            parts += self._tcp(syn)
        elif proto == "udp":
            parts += self._udp()
        elif proto == "icmp" and r.random() < 0.7:
            parts.append(self._icmp())
        if r.random() < 0.12:
            parts.append(("-m mark %s--mark 0x%x" % (
                "! " if r.random() < 0.2 else "", r.choice(MARKS))) + (
                "/0x%x" % r.choice([0xff, 0xf0, 0x1]) if r.random() < 0.3
                else ""))
        if r.random() < 0.08:
            parts.append(self._iprange())
        if r.random() < 0.06:
            unit = r.choice(["minute", "hour", "day"])
            # slow enough that no credit comes back while a batch runs; a
            # day rate below 10 overflows with bursts (xt_limit refuses)
            rate = {"minute": r.randint(1, 2), "hour": r.randint(1, 50),
                    "day": r.randint(10, 50)}[unit]
            s = "-m limit --limit %d/%s" % (rate, unit)
            if r.random() < 0.7:
                s += " --limit-burst %d" % r.randint(1, 6)
            parts.append(s)
        if r.random() < 0.06:
            parts.append('-m comment --comment "%s"' % r.choice(
                ["c", "a comment", "rule %d" % r.randint(0, 99)]))
        return "".join(" " + p for p in parts)

    def _addr(self, opt):
        r = self.r
        a = r.choice(ALL_ADDRS + ["0.0.0.0", A + ".0.0"])
        plen = r.choice([32, 32, 32, 24, 24, 16, 8, 0, 30])
        neg = "! " if r.random() < 0.2 else ""
        return "%s%s %s/%d" % (neg, opt, a, plen)

    def _iface(self, opt):
        r = self.r
        e = self.env
        name = r.choice([e.dut_a, e.dut_b, e.dut_a, e.dut_b, "lo",
                         e.common_prefix + "+", e.dut_a[:-1] + "+",
                         e.dut_a + "+", "+", "kd+", "eth0"])
        neg = "! " if r.random() < 0.25 else ""
        return "%s%s %s" % (neg, opt, name)

    def _ports(self):
        r = self.r
        p = r.choice(PORTS)
        if r.random() < 0.25:
            q = r.choice(PORTS)
            return "%d:%d" % (min(p, q), max(p, q))
        return str(p)

    def _tcp(self, syn):
        r = self.r
        parts = []
        if r.random() < 0.35:
            parts.append(("! " if r.random() < 0.2 else "") + "--sport " +
                         self._ports())
        if r.random() < 0.45:
            parts.append(("! " if r.random() < 0.2 else "") + "--dport " +
                         self._ports())
        if syn:
            parts.append(r.choice(["--syn", "--tcp-flags SYN,RST SYN",
                                   "--tcp-flags SYN SYN",
                                   "--tcp-flags ALL SYN,ACK",
                                   "--tcp-flags SYN,ACK,FIN SYN"]))
        elif r.random() < 0.35:
            k = r.random()
            if k < 0.3:
                parts.append(r.choice(["--syn", "! --syn"]))
            else:
                mask = r.sample(TCP_FLAG_NAMES, r.randint(1, 4))
                comp = [f for f in mask if r.random() < 0.5] or ["NONE"]
                if r.random() < 0.15:
                    mask = ["ALL"]
                neg = "! " if r.random() < 0.2 else ""
                parts.append("%s--tcp-flags %s %s" % (neg, ",".join(mask),
                                                      ",".join(comp)))
        if r.random() < 0.1:
            parts.append(("! " if r.random() < 0.3 else "") +
                         "--tcp-option %d" % r.choice([2, 3, 4, 8, 1, 99]))
        # multiport last, and tcp's own options behind an explicit -m tcp:
        # else iptables takes --sport/--dport for abbreviations of
        # multiport's --sports/--dports
        if r.random() < 0.3 and not syn:
            return (["-m tcp"] + parts if parts else []) + \
                ["-m multiport " + self._multiport()]
        return (["-m tcp"] + parts) if parts and r.random() < 0.3 else parts

    def _udp(self):
        r = self.r
        parts = []
        if r.random() < 0.3:
            parts.append(("! " if r.random() < 0.2 else "") + "--sport " +
                         self._ports())
        if r.random() < 0.45:
            parts.append(("! " if r.random() < 0.2 else "") + "--dport " +
                         self._ports())
        if r.random() < 0.3:
            return (["-m udp"] + parts if parts else []) + \
                ["-m multiport " + self._multiport()]
        return parts

    def _multiport(self):
        r = self.r
        opt = r.choice(["--dports", "--sports", "--ports"])
        items = []
        for _ in range(r.randint(1, 5)):
            items.append(self._ports())
        neg = "! " if r.random() < 0.2 else ""
        # multiport wants a range's ends in increasing order, not equal
        items = [i.split(":")[0] if ":" in i and len(set(i.split(":"))) == 1
                 else i for i in items]
        return "%s%s %s" % (neg, opt, ",".join(items))

    def _icmp(self):
        r = self.r
        k = r.random()
        if k < 0.5:
            t = r.choice(list(ICMP_TYPES))
        elif k < 0.75:
            t = str(r.choice([0, 3, 8, 11, 12, 13, 5, 200]))
        elif k < 0.9:
            t = "%d/%d" % (r.choice([3, 11, 5, 8]), r.choice([0, 1, 3, 4, 13]))
        else:
            t = "any"
        neg = "! " if r.random() < 0.2 else ""
        return "-m icmp %s--icmp-type %s" % (neg, t)

    def _iprange(self):
        r = self.r
        parts = ["-m iprange"]
        for opt in ("--src-range", "--dst-range"):
            if r.random() < 0.6 or len(parts) == 1 and opt == "--dst-range":
                a, b = sorted(r.sample(ALL_ADDRS, 2), key=_addr_key)
                neg = "! " if r.random() < 0.2 else ""
                parts.append("%s%s %s-%s" % (neg, opt, a, b))
        return " ".join(parts)

    # text

    def text(self):
        out = []
        for table, _builtins in TABLES:
            out.append("*" + table)
            for c in self.tables[table]:
                pol = self.policies.get((table, c.name), "-")
                out.append(":%s %s [0:0]" % (c.name, pol))
            for c in self.tables[table]:
                out.extend(c.rules)
            out.append("COMMIT")
        return "\n".join(out) + "\n"


def _addr_key(a):
    return struct.unpack("!I", bytes(int(o) for o in a.split(".")))[0]


def _weighted(r, items):
    total = sum(w for _, w in items)
    x = r.uniform(0, total)
    for v, w in items:
        x -= w
        if x <= 0:
            return v
    return items[-1][0]


# --- packets ----------------------------------------------------------------

OTHER_MAC = bytes.fromhex("020000000099")
BCAST_MAC = b"\xff" * 6


def mcast_mac(ip):
    b = bytes(int(x) for x in ip.split("."))
    return bytes([1, 0, 0x5e, b[1] & 0x7f, b[2], b[3]])


class PacketGen:
    def __init__(self, rnd, env, batch_index):
        self.r = rnd
        self.env = env
        self.batch = batch_index
        self.ident = 0

    def next_id(self, case):
        # unique per run for the datagrams of one case, so that fragments of
        # different cases never meet in the kernel's reassembly queues
        return (self.batch * 61 + case * 7 + 1) & 0xFFFF or 1

    def cases(self, n):
        out = []
        for i in range(n):
            d = _weighted(self.r, [("c", 50), ("s", 22), ("l", 28)])
            out.append(self.case(i, d))
        return out

    # addresses per direction

    def _src_dst(self, direction):
        r = self.r
        if direction == "c":
            src = r.choice(CLIENT_SIDE) if r.random() < 0.9 else \
                r.choice(SPECIAL_SRC + SERVER_SIDE)
            k = r.random()
            if k < 0.3:
                dst = r.choice(DUT)
            elif k < 0.8:
                dst = r.choice(SERVER_SIDE)
            elif k < 0.86:
                dst = r.choice(CLIENT_SIDE)
            else:
                dst = r.choice(SPECIAL_DST)
        elif direction == "s":
            src = r.choice(SERVER_SIDE) if r.random() < 0.9 else \
                r.choice(SPECIAL_SRC + CLIENT_SIDE)
            k = r.random()
            if k < 0.3:
                dst = r.choice(DUT)
            elif k < 0.8:
                dst = r.choice(CLIENT_SIDE)
            elif k < 0.86:
                dst = r.choice(SERVER_SIDE)
            else:
                dst = r.choice([d for d in SPECIAL_DST if d != A + ".1.255"]
                               + [A + ".2.255"])
        else:
            src = r.choice(DUT) if r.random() < 0.85 else \
                r.choice(CLIENT_SIDE + SERVER_SIDE + ["127.0.0.1"])
            k = r.random()
            if k < 0.4:
                dst = r.choice(SERVER_SIDE)
            elif k < 0.75:
                dst = r.choice(CLIENT_SIDE)
            elif k < 0.92:
                dst = r.choice(DUT + ["127.0.0.1"])
            else:
                dst = A + ".1.255"
        return src, dst

    def _oif(self, dst):
        e = self.env
        if dst in DUT or dst.startswith("127."):
            return "lo"
        if dst.startswith(A + ".1.") or dst.startswith(A + ".4."):
            return e.dut_a
        return e.dut_b

    def _mtu(self, direction, dst):
        e = self.env
        if direction == "c":
            return e.mtu_a
        if direction == "s":
            return e.mtu_b
        oif = self._oif(dst)
        return {e.dut_a: e.mtu_a, e.dut_b: e.mtu_b}.get(oif, 1500)

    # one case

    def case(self, i, direction):
        r = self.r
        ident = self.next_id(i)
        src, dst = self._src_dst(direction)
        mtu = self._mtu(direction, dst)
        local = direction == "l"
        kinds = [("tcp", 26), ("udp", 18), ("icmp", 18), ("icmperr", 8),
                 ("other", 5), ("frag", 10), ("big", 5)]
        if not local:
            kinds += [("badip", 8), ("ipopt", 5)]
        else:
            kinds += [("ipopt", 2)]
        kind = _weighted(r, kinds)
        ip = dict(ttl=r.choice([64] * 8 + [1, 0, 2, 255]), ident=ident,
                  tos=r.choice([0] * 6 + [0x10, 0x1c, 0xb8, 0x03, 0xff]),
                  df=r.random() < 0.4)
        if local and ip["ttl"] == 0:
            ip["ttl"] = 1
        sub = kind
        if kind == "tcp":
            l4, sub = self._tcp(src, dst, local)
            dgrams = [ipv4(src, dst, 6, l4, **ip)]
        elif kind == "udp":
            l4, sub = self._udp(src, dst)
            dgrams = [ipv4(src, dst, 17, l4, **ip)]
        elif kind == "icmp":
            l4, sub = self._icmp()
            dgrams = [ipv4(src, dst, 1, l4, **ip)]
        elif kind == "icmperr":
            l4, sub = self._icmperr(src, dst)
            dgrams = [ipv4(src, dst, 1, l4, **ip)]
        elif kind == "other":
            proto = r.choice([47, 50, 51, 132, 255, 0, 41, 2])
            body = bytes(r.randrange(256) for _ in range(r.randint(0, 40)))
            dgrams = [ipv4(src, dst, proto, body, **ip)]
            sub = "proto %d" % proto
        elif kind == "frag":
            dgrams, sub = self._frag(src, dst, ip, mtu, local)
        elif kind == "big":
            size = r.choice([self.env.mtu_b + r.randint(1, 60),
                             self.env.mtu_b, mtu - r.randint(0, 20)])
            size = min(size, mtu)
            proto = r.choice([1, 17, 6])
            body_len = size - 20 - (8 if proto != 6 else 20)
            body = bytes((x * 7) & 0xFF for x in range(max(0, body_len)))
            if proto == 1:
                l4 = icmp(8, 0, struct.pack("!HH", ident, 1), body)
            elif proto == 17:
                l4 = udp(src, dst, r.choice(PORTS), r.choice(PORTS), body)
            else:
                l4 = tcp(src, dst, r.choice(PORTS), r.choice(PORTS), seq=1,
                         ack=1, flags="PA", payload=body)
            ip["df"] = r.random() < 0.6
            dgrams = [ipv4(src, dst, proto, l4, **ip)]
            sub = "big %d%s" % (size, " DF" if ip["df"] else "")
        elif kind == "badip":
            dgrams, sub = self._badip(src, dst, ip)
        elif kind == "ipopt":
            dgrams, sub, dst = self._ipopt(src, dst, ip, direction, mtu)
        else:
            raise AssertionError(kind)
        desc = "%s %s" % (kind, sub) if sub != kind else kind
        if local:
            return Case(i, "l", desc, dgrams, oif=self._oif(dst))
        return Case(i, direction, desc, [self._frame(direction, dst, d)
                                         for d in dgrams])

    def _frame(self, direction, dst, d):
        r = self.r
        if direction == "c":
            me, peer = mac_bytes(N.MAC_DUT_A), mac_bytes(N.MAC_CLIENT)
        else:
            me, peer = mac_bytes(N.MAC_DUT_B), mac_bytes(N.MAC_SERVER)
        if dst.endswith(".255"):
            to = BCAST_MAC if r.random() < 0.9 else me
        elif dst.split(".")[0] in ("224", "239"):
            to = mcast_mac(dst) if r.random() < 0.9 else me
        else:
            k = r.random()
            to = me if k < 0.94 else (BCAST_MAC if k < 0.97 else OTHER_MAC)
        return to + peer + b"\x08\x00" + d

    # transport layers

    def _tcp(self, src, dst, local):
        r = self.r
        sport, dport = r.choice(PORTS), r.choice(PORTS)
        flags = r.choice(["S", "S", "S", "SA", "A", "PA", "FA", "R", "RA",
                          "F", "", "SF", "SR", "FSRPAUEC", "SEC", "U",
                          "AN", "SN", "PAU"])
        opts = b""
        if "S" in flags:
            opts = r.choice([
                bytes.fromhex("020405b40402080a00001234000000000103030a"),
                bytes.fromhex("02040578"), bytes.fromhex("020402180101"),
                b"", bytes.fromhex("0204ffff"), bytes.fromhex("01010402"),
                bytes.fromhex("0203"), bytes.fromhex("0204"),
                bytes.fromhex("00020405b4"),
                bytes.fromhex("0101080a000000010000000202040400")])
        elif r.random() < 0.3:
            opts = bytes.fromhex("0101080a0000abcd0000dcba")
        payload = b""
        if r.random() < 0.3:
            payload = bytes(r.randrange(256) for _ in range(r.randint(1, 64)))
        kw = {}
        sub = "flags %s" % (flags or "none")
        k = r.random()
        if k < 0.06:
            kw["doff"] = r.choice([0, 2, 4])
            sub += " doff<5"
        elif k < 0.11:
            kw["doff"] = 15
            sub += " doff>len"
        elif k < 0.18:
            kw["bad_csum"] = True
            sub += " bad csum"
        elif k < 0.22:
            kw["res"] = r.randint(1, 7)
            sub += " res bits"
        elif k < 0.25:
            kw["urg"] = 77
        seg = tcp(src, dst, sport, dport, seq=r.randrange(1 << 32),
                  ack=r.choice([0, r.randrange(1 << 32)]), flags=flags,
                  win=r.choice([0, 512, 64240, 65535]), options=opts,
                  payload=payload, **kw)
        if r.random() < 0.06:
            seg = seg[:r.choice([0, 4, 10, 13, 19])]
            sub += " truncated %d" % len(seg)
        return seg, sub

    def _udp(self, src, dst):
        r = self.r
        payload = bytes(r.randrange(256) for _ in range(r.randint(0, 48)))
        sport, dport = r.choice(PORTS), r.choice(PORTS)
        k = r.random()
        if k < 0.07:
            return udp(src, dst, sport, dport, payload, bad_csum=True), \
                "bad csum"
        if k < 0.12:
            return udp(src, dst, sport, dport, payload, zero_csum=True), \
                "no csum"
        if k < 0.17:
            ln = r.choice([0, 4, 7, len(payload) + 20])
            return udp(src, dst, sport, dport, payload, length=ln), \
                "udp len %d" % ln
        if k < 0.21:
            seg = udp(src, dst, sport, dport, payload)[:r.choice([0, 3, 6])]
            return seg, "truncated %d" % len(seg)
        return udp(src, dst, sport, dport, payload), "%d>%d" % (sport, dport)

    def _icmp(self):
        r = self.r
        t = r.choice([8, 8, 8, 0, 0, 13, 14, 15, 16, 17, 18, 9, 10, 19, 30,
                      200, 255, 42])
        code = r.choice([0] * 6 + [1, 5, 255])
        payload = bytes(r.randrange(256) for _ in range(r.choice([0, 8, 32,
                                                                  56])))
        rest = struct.pack("!HH", r.randrange(65536), r.randrange(65536))
        if r.random() < 0.06:
            return icmp(t, code, rest, payload, bad_csum=True), \
                "%d/%d bad csum" % (t, code)
        m = icmp(t, code, rest, payload)
        if r.random() < 0.05:
            m = m[:r.choice([0, 1, 3, 6])]
            return m, "%d/%d truncated %d" % (t, code, len(m))
        return m, "%d/%d" % (t, code)

    def _icmperr(self, src, dst):
        r = self.r
        t = r.choice([3, 3, 3, 11, 12, 4, 5])
        code = {3: r.choice([0, 1, 3, 4, 13]), 11: r.choice([0, 1]),
                12: 0, 4: 0, 5: r.choice([0, 1])}[t]
        rest = b"\0\0\0\0"
        if t == 3 and code == 4:
            rest = struct.pack("!HH", 0, r.choice([576, 1280, 1400]))
        elif t == 5:
            rest = bytes(int(x) for x in r.choice(ALL_ADDRS).split("."))
        elif t == 12:
            rest = bytes([r.randrange(60), 0, 0, 0])
        k = r.random()
        if k < 0.5:
            proto = r.choice([17, 6, 1])
            if proto == 17:
                inner_l4 = udp(dst, src, r.choice(PORTS), r.choice(PORTS),
                               b"abc")
            elif proto == 6:
                inner_l4 = tcp(dst, src, r.choice(PORTS), r.choice(PORTS),
                               seq=99)[:8]
            else:
                inner_l4 = icmp(8, 0, b"\0\1\0\2", b"ping")
            inner = ipv4(dst, src, proto, inner_l4, ttl=r.choice([1, 63, 64]),
                         ident=r.randrange(65536))
            sub = "quoting a datagram"
        elif k < 0.7:
            inner = bytes(r.randrange(256) for _ in range(r.randint(1, 40)))
            sub = "quoting garbage"
        elif k < 0.85:
            inner = ipv4(dst, src, 6, b"")[:r.choice([8, 12, 19, 20])]
            sub = "quoting a truncated header"
        else:
            inner = b""
            sub = "quoting nothing"
        return icmp(t, code, rest, inner), "%d/%d %s" % (t, code, sub)

    # IP-level cases

    def _frag(self, src, dst, ip, mtu, local):
        r = self.r
        proto = r.choice([17, 1, 6])
        size = r.choice([24, 100, 600, 1200, min(mtu, 1400) - 20, 2000, 2900])
        body = bytes((x * 13 + 5) & 0xFF for x in range(size))
        if proto == 17:
            l4 = udp(src, dst, r.choice(PORTS), r.choice(PORTS), body)
        elif proto == 1:
            l4 = icmp(8, 0, b"\0\7\0\1", body)
        else:
            l4 = tcp(src, dst, r.choice(PORTS), r.choice(PORTS), seq=5,
                     flags=r.choice(["S", "PA"]), payload=body)
        ip = dict(ip, df=False)
        whole = ipv4(src, dst, proto, l4, **ip)
        fsize = r.choice([8, 16, 64, 256, 512, 1024,
                          ((min(mtu, 1500) - 20) // 8) * 8])
        frs = fragments(whole, fsize)
        how = _weighted(r, [("in order", 5), ("reverse", 2), ("shuffled", 2),
                            ("overlapping", 2), ("duplicate", 1),
                            ("first only", 2), ("non-first only", 3),
                            ("last only", 1)])
        if how == "reverse":
            frs = frs[::-1]
        elif how == "shuffled":
            r.shuffle(frs)
        elif how == "overlapping":
            frs = fragments(whole, fsize, overlap=r.choice([1, 2]))
        elif how == "duplicate":
            frs = frs + [r.choice(frs)]
        elif how == "first only":
            frs = frs[:1]
        elif how == "non-first only":
            frs = [r.choice(frs[1:])] if len(frs) > 1 else frs
        elif how == "last only":
            frs = frs[-1:]
        frs = [f for f in frs if len(f) <= mtu][:24]
        if not frs:
            frs = [whole[:mtu]]
        return frs, "proto %d %d bytes in %d-byte pieces, %s, %d sent" % (
            proto, len(l4), fsize, how, len(frs))

    def _badip(self, src, dst, ip):
        r = self.r
        l4 = udp(src, dst, r.choice(PORTS), r.choice(PORTS), b"payload!")
        what = r.choice(["version", "ihl<5", "ihl>len", "tot_len>len",
                         "tot_len<ihl", "trailing", "ip csum", "short",
                         "tot_len<len"])
        ip = dict(ip)
        if what == "version":
            d = ipv4(src, dst, 17, l4, version=r.choice([0, 5, 6, 15]), **ip)
        elif what == "ihl<5":
            d = ipv4(src, dst, 17, l4, ihl=r.choice([0, 1, 4]), **ip)
        elif what == "ihl>len":
            d = ipv4(src, dst, 17, l4, ihl=15, **ip)
        elif what == "tot_len>len":
            d = ipv4(src, dst, 17, l4, tot_len=20 + len(l4) + 10, **ip)
        elif what == "tot_len<ihl":
            d = ipv4(src, dst, 17, l4, tot_len=12, **ip)
        elif what == "tot_len<len":
            d = ipv4(src, dst, 17, l4, tot_len=20 + 8, **ip)
        elif what == "trailing":
            d = ipv4(src, dst, 17, l4, **ip) + b"\xee" * r.randint(1, 30)
        elif what == "ip csum":
            d = ipv4(src, dst, 17, l4, bad_csum=True, **ip)
        else:
            d = ipv4(src, dst, 17, l4, **ip)[:r.choice([1, 12, 19])]
        return [d], what

    # IP options (ipopt cases)

    def _ipopt(self, src, dst, ip, direction, mtu):
        """A datagram with IP options: one to three options of every kind
        the kernel handles, well-formed or broken; source routes mostly
        through dut (its destination then dut's address); often TTL 1 (an
        ICMP error echoes the options); sometimes large enough to be
        fragmented on the way to the server, or sent in fragments."""
        r = self.r
        local = direction == "l"
        names, opts = [], b""
        # errors about it (time exceeded when forwarded) echo its options
        if r.random() < 0.25:
            ip = dict(ip, ttl=1)
        n = _weighted(r, [(1, 6), (2, 3), (3, 1)])
        if r.random() < 0.2:
            # combinations that reach paths random ones seldom do
            n = 0
            names, opts, dst, ip = self._opt_recipe(src, dst, ip, direction)
        for _ in range(n):
            name, o, to = self._ip_option(src, direction)
            if len(opts) + len(o) > 40 or (to and "SRR" in " ".join(names)):
                continue
            names.append(name)
            opts += o
            if to:
                dst = to
        proto = r.choice([1, 17])
        size = 4
        how = _weighted(r, [("one", 8), ("big", 2 if direction == "c" else 0),
                            ("fragments", 1 if not local else 0)])
        if how == "big":
            # beyond the server link's MTU: fragmented when forwarded
            # there (a source route goes where it goes)
            if not any("SRR" in x for x in names):
                dst = r.choice(SERVER_SIDE)
            if ip["ttl"] <= 1:
                ip = dict(ip, ttl=64)
            size = self.env.mtu_b + r.randint(1, 200) - 28 - len(opts)
            size = max(4, min(size, mtu - 28 - 40))
        elif how == "fragments":
            size = r.choice([40, 100, 300])
        body = bytes((x * 11 + 3) & 0xFF for x in range(size))
        if proto == 1:
            l4 = icmp(8, 0, b"\0\5\0\1", body)
        else:
            l4 = udp(src, dst, r.choice(PORTS), r.choice(PORTS), body)
        if how == "big":
            ip = dict(ip, df=r.random() < 0.2)
        d = ipv4(src, dst, proto, l4, options=opts, **ip)
        name = " + ".join(names) or "none"
        if how == "big":
            name += " (%d bytes%s)" % (len(d), " DF" if ip["df"] else "")
        if how == "fragments":
            frs = fragments(ipv4(src, dst, proto, l4, options=opts,
                                 **dict(ip, df=False)),
                            r.choice([8, 16, 32]))
            if r.random() < 0.3:
                r.shuffle(frs)
            return frs[:12], name + " (in %d fragments)" % len(frs[:12]), dst
        return [d], name, dst

    def _opt_recipe(self, src, dst, ip, direction):
        """([names], options, destination, ip fields) of a combination:
        a source route through dut with a timestamp that records
        addresses (ip_forward_options fills both), or a datagram forwarded
        with TTL 1 whose options the time exceeded error echoes (record
        route, prespecified timestamps naming dut first)."""
        r = self.r
        me = {"c": N.DUT_A_IP, "s": N.DUT_B_IP}.get(direction,
                                                   r.choice(DUT))
        near = {"c": [A + ".2.2", A + ".2.7", "192.0.2.33", A + ".3.3"],
                "s": [A + ".1.2", A + ".1.9", A + ".4.5"]}.get(
                    direction, [A + ".2.2", A + ".1.2"])
        far = {"c": SERVER_SIDE, "s": CLIENT_SIDE}.get(direction,
                                                       SERVER_SIDE)
        k = r.choice(["SRR + TS addresses", "RR, TTL 1",
                      "TS prespecified, TTL 1"])
        if k == "SRR + TS addresses":
            hop = r.choice(near)
            srr = bytes([r.choice([131, 137]), 7, 4]) + ip2b(hop)
            ts = bytes([68, 20, 5, 1]) + b"\0" * 16
            opts = srr + ts if r.random() < 0.5 else ts + srr
            return ["%s via %s" % (k, hop)], opts, me, ip
        ip = dict(ip, ttl=1)
        if k == "RR, TTL 1":
            ln = r.choice([7, 11, 15])
            return [k], bytes([7, ln, 4]) + b"\0" * (ln - 3), \
                r.choice(far), ip
        other = r.choice(DUT + ["0.0.0.0", A + ".2.255", "224.0.0.1"] +
                         CLIENT_SIDE[:2] + SERVER_SIDE[:2])
        return ["%s %s,%s" % (k, me, other)], \
            bytes([68, 20, 5, 3]) + ip2b(me) + b"\0" * 4 + ip2b(other) + \
            b"\0" * 4, r.choice(far), ip

    def _ip_option(self, src, direction):
        """(name, option bytes, new destination or None)"""
        r = self.r
        kind = _weighted(r, [("RR", 5), ("TS", 6), ("SRR", 7), ("RA", 1),
                             ("CIPSO", 1), ("other", 2)])
        if kind == "RR":
            return self._opt_rr() + (None,)
        if kind == "TS":
            return self._opt_ts() + (None,)
        if kind == "SRR":
            return self._opt_srr(src, direction)
        if kind == "RA":
            k = r.choice(["ok", "value", "short"])
            o = {"ok": [148, 4, 0, 0], "value": [148, 4, 0, 1],
                 "short": [148, 2]}[k]
            return "RA" + ("" if k == "ok" else " " + k), bytes(o), None
        if kind == "CIPSO":
            ln = r.choice([6, 10, 14])
            o = bytes([134, ln, 0, 0, 0, 3, 1, ln - 6]) + b"\0" * (ln - 8) \
                if ln >= 8 else bytes([134, ln, 0, 0, 0, 3])
            return "CIPSO len %d" % ln, o, None
        k = r.choice(["NOPs", "NOPs, END", "END + junk", "SEC", "SID",
                      "unknown", "zero length", "bad length", "truncated"])
        o = {"NOPs": [1, 1, 1, 1], "NOPs, END": [1, 1, 1, 0],
             "END + junk": [0, 7, 1, 1],
             "SEC": [130, 11] + [0] * 9, "SID": [136, 4, 0x12, 0x34],
             "unknown": [99, 4, 0, 0], "zero length": [7, 0, 4, 0],
             "bad length": [7, 40, 4, 0], "truncated": [1, 1, 1, 68]}[k]
        return k, bytes(o), None

    def _opt_rr(self):
        r = self.r
        k = _weighted(r, [("room", 4), ("one recorded", 2), ("full", 2),
                          ("misaligned", 1), ("pointer<4", 1), ("short", 1),
                          ("twice", 1)])
        if k == "room":
            ln = r.choice([7, 11, 23, 39])
            return "RR", bytes([7, ln, 4]) + b"\0" * (ln - 3)
        if k == "one recorded":
            ln = r.choice([11, 15])
            return "RR " + k, bytes([7, ln, 8]) + ip2b(
                r.choice(CLIENT_SIDE)) + b"\0" * (ln - 7)
        if k == "full":
            return "RR full", bytes([7, 7, 8]) + ip2b(r.choice(CLIENT_SIDE))
        if k == "misaligned":
            ln, ptr = r.choice([(9, 4), (10, 8), (8, 6)])
            return "RR misaligned %d/%d" % (ln, ptr), \
                bytes([7, ln, ptr]) + b"\0" * (ln - 3)
        if k == "pointer<4":
            return "RR pointer 3", bytes([7, 7, 3, 0, 0, 0, 0])
        if k == "short":
            return "RR length 2", bytes([7, 2])
        return "RR twice", bytes([7, 7, 4, 0, 0, 0, 0, 7, 7, 4, 0, 0, 0, 0])

    def _opt_ts(self):
        r = self.r
        flag = r.choice([0, 0, 1, 1, 3, 3, 2])
        k = _weighted(r, [("room", 5), ("full", 2), ("overflow 15", 1),
                          ("pointer<5", 1), ("misaligned", 1), ("short", 1)])
        step = 4 if flag == 0 else 8
        n = r.choice([1, 2, 3]) if flag else r.choice([1, 2, 4, 8])
        ln = 4 + step * n
        slots = b""
        for i in range(n):
            if flag == 3:
                # often dut first: its entry made, the next one echoed
                a = r.choice(DUT) if i == 0 and r.random() < 0.5 else \
                    r.choice(DUT + CLIENT_SIDE + SERVER_SIDE +
                             ["127.0.0.1", A + ".2.255", "224.0.0.1",
                              "0.0.0.0"])
                slots += ip2b(a) + b"\0" * 4
            else:
                slots += b"\0" * step
        name = "TS flag %d" % flag
        if k == "room" and r.random() < 0.15:
            # a length that is not a whole number of entries: no room
            # for the entry an ICMP error's echo would add
            extra = r.choice([1, 2, 3])
            return "%s %d slot(s) + %d bytes" % (name, n, extra), \
                bytes([68, ln + extra, 5, flag]) + slots + b"\0" * extra
        if k == "room":
            # sometimes one entry already made by a host before
            ptr = 5
            if n > 1 and r.random() < 0.3:
                ptr += step
                pre = ip2b(r.choice(CLIENT_SIDE)) + struct.pack("!I", 12345)
                slots = pre[-step:] + slots[step:] if flag == 0 else \
                    (pre if flag == 1 else slots[:4] + pre[4:]) + slots[8:]
            return "%s %d slot(s) ptr %d" % (name, n, ptr), \
                bytes([68, ln, ptr, flag]) + slots
        if k == "full":
            over = r.choice([0, 3, 14])
            return "%s full overflow %d" % (name, over), \
                bytes([68, ln, ln + 1, (over << 4) | flag]) + slots
        if k == "overflow 15":
            return name + " full overflow 15", \
                bytes([68, ln, ln + 1, 0xF0 | flag]) + slots
        if k == "pointer<5":
            return name + " pointer 4", bytes([68, ln, 4, flag]) + slots
        if k == "misaligned":
            ptr = ln - 2 if flag == 0 else ln - 6
            return "%s pointer %d of %d" % (name, ptr, ln), \
                bytes([68, ln, ptr, flag]) + slots
        return name + " length 3", bytes([68, 3, 5])

    def _opt_srr(self, src, direction):
        """A loose or strict source route, mostly through dut (the
        datagram's destination becomes dut's address)."""
        r = self.r
        strict = r.random() < 0.5
        t = 137 if strict else 131
        name = "SSRR" if strict else "LSRR"
        if direction == "c":
            hops = [A + ".2.2", A + ".2.7", A + ".3.3", "192.0.2.33",
                    A + ".1.3", A + ".4.5", N.DUT_B_IP]
            me = N.DUT_A_IP
        elif direction == "s":
            hops = [A + ".1.2", A + ".1.9", A + ".4.77", "198.51.100.7",
                    A + ".2.7", A + ".3.200", N.DUT_A_IP]
            me = N.DUT_B_IP
        else:
            hops = [A + ".2.2", A + ".1.2", A + ".3.3", N.DUT_B_IP,
                    N.DUT_A_IP]
            me = r.choice(DUT)
        hops += [A + ".6.9", A + ".2.255", "127.0.0.1", "224.0.0.1"]
        n = r.choice([1, 1, 2, 3])
        route = [r.choice(hops[:7]) if r.random() < 0.85 else r.choice(hops)
                 for _ in range(n)]
        passed = []
        if r.random() < 0.35:
            passed = [r.choice([src, src, r.choice(CLIENT_SIDE + SERVER_SIDE)])]
        body = b"".join(ip2b(a) for a in passed + route)
        ln = 3 + len(body)
        ptr = 4 + 4 * len(passed)
        k = _weighted(r, [("through dut", 10), ("passing by", 3),
                          ("exhausted", 2), ("misaligned", 3),
                          ("pointer<4", 1), ("twice", 1), ("short", 1),
                          ("to a broadcast", 1), ("to nowhere", 1)])
        to = me
        if k == "passing by":
            to = r.choice(SERVER_SIDE if direction != "s" else CLIENT_SIDE)
        elif k == "exhausted":
            ptr = ln + 1
        elif k == "misaligned":
            # the pointer in an address (read across two), or in the
            # last 2 bytes (parameter problem)
            body += b"\0\0"
            ln += 2
            ptr = r.choice([ln - 4, ln - 2, 5])
        elif k == "pointer<4":
            ptr = 3
        elif k == "to a broadcast":
            to = r.choice([A + ".1.255", A + ".2.255", "255.255.255.255",
                           "224.0.0.1"])
        elif k == "to nowhere":
            to = A + ".6.9"
        o = bytes([t, ln, ptr]) + body
        if k == "short":
            o = bytes([t, 2]) if r.random() < 0.5 else bytes([t, 3, 4])
        if k == "twice":
            o += bytes([131, 7, 4]) + ip2b(route[0])
        desc = "%s %s %s ptr %d%s" % (name, k, ",".join(route), ptr,
                                      " after " + passed[0] if passed else "")
        return desc, o, to

