# SPDX-License-Identifier: BSD-2-Clause
"""The host model and routing, compared with the kernel.

Network namespaces are built with veth pairs, addresses (primary, secondary,
explicit broadcast, /31, /32), routes (gateways, metrics, nested prefixes,
preferred sources, route MTU, blackhole, unreachable, prohibit), interfaces
down or without carrier, forwarding on and off, rp_filter strict and loose.
In each, `uxt host route get` runs inside the namespace (the host comes from
netlink) and `ip route get` asks the kernel, for many destinations, sources,
input and output interfaces, martians included: type, device, gateway,
source address and MTU, or the error the kernel answers, must agree.  The
namespace is also captured with `uxt host > file`; `uxt host --host file`
must print the same model and take the same decisions offline.

Without root (or network namespaces) only the file-format checks run; the
kernel comparisons are skipped with the reason.
"""

import concurrent.futures
import os
import shutil
import subprocess
import tempfile
import uuid

from common import Netns

ERRNO_OF_MESSAGE = {
    "Network is unreachable": "ENETUNREACH",
    "No route to host": "EHOSTUNREACH",
    "Invalid argument": "EINVAL",
    "Permission denied": "EACCES",
    "Invalid cross-device link": "EXDEV",
    "No such device": "ENODEV",
    "Network is down": "ENETDOWN",
}

IP_MAX_MTU = 0xFFFF  # include/linux/ip.h; a SYN over lo says mss 65495


def uxt_env():
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:exitcode=99")
    env.setdefault("UBSAN_OPTIONS",
                   "halt_on_error=1:print_stacktrace=1:exitcode=99")
    return env


def run_local(argv, stdin=None):
    p = subprocess.run(argv, input=stdin, capture_output=True,
                       env=uxt_env(), timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


# Parsing the two tools' answers into comparable records

def parse_kernel(rc, out, err):
    """ip route get's answer: ('ok', fields) or ('error', ERRNO)."""
    if rc != 0:
        msg = err.strip().splitlines()[-1] if err.strip() else ""
        msg = msg.replace("RTNETLINK answers: ", "")
        return ("error", ERRNO_OF_MESSAGE.get(msg, "?" + msg))
    words = out.split()
    f = {"type": "unicast", "via": None, "dev": None, "src": None,
         "mtu": None}
    if words and words[0] in ("local", "broadcast", "multicast",
                              "unicast", "anycast"):
        f["type"] = words[0]
    for i, w in enumerate(words[:-1]):
        if w in ("via", "dev", "src", "mtu") and f[w] is None:
            f[w] = words[i + 1]
    return ("ok", f)


def parse_ours(rc, out):
    """uxt host route get's answer, in the same shape."""
    words = out.split()
    if rc == 1 and "error" in words:
        return ("error", words[words.index("error") + 1])
    if rc != 0:
        return ("crash", "exit %d: %s" % (rc, out.strip()))
    f = {"type": words[0] if words else "?", "via": None, "dev": None,
         "src": None, "mtu": None}
    for i, w in enumerate(words[:-1]):
        if w in ("via", "dev", "src", "mtu") and f[w] is None:
            f[w] = words[i + 1]
    return ("ok", f)


def compare(kernel, ours, query, link_mtus):
    """A list of differences between the kernel's decision and ours."""
    if kernel[0] != ours[0]:
        return ["kernel %s, uxt %s" % (kernel, ours)]
    if kernel[0] != "ok":
        return [] if kernel[1] == ours[1] else \
            ["kernel error %s, uxt error %s" % (kernel[1], ours[1])]
    k, o = kernel[1], ours[1]
    diffs = []
    for field in ("type", "dev", "via"):
        if k[field] != o[field]:
            diffs.append("%s: kernel %s, uxt %s" % (field, k[field], o[field]))
    if "iif" not in query:
        # the kernel leaves src out when it is the bound address
        want = k["src"] or query.get("from")
        if want != o["src"]:
            diffs.append("src: kernel %s, uxt %s" % (want, o["src"]))
    if k["mtu"] is not None:
        want_mtu = int(k["mtu"])
    else:
        want_mtu = min(link_mtus.get(k["dev"], 0), IP_MAX_MTU)
    if o["mtu"] is None or int(o["mtu"]) != want_mtu:
        diffs.append("mtu: expected %s, uxt %s" % (want_mtu, o["mtu"]))
    return diffs


def query_args(q):
    args = [q["to"]]
    for key in ("from", "iif", "oif"):
        if key in q:
            args += [key, q[key]]
    return args


def describe(q):
    return "route get " + " ".join(query_args(q))


# The namespaces

class Host:
    """One namespace under test and what the suite knows of it."""

    def __init__(self, res, bindir, label, setup, stats):
        self.res = res
        self.stats = stats
        self.uxt = os.path.join(os.path.abspath(bindir), "uxt")
        self.label = label
        self.ns = Netns("uxthr")
        for cmd in setup:
            rc, out, err = self.ns.run(["sh", "-c", cmd])
            if rc != 0:
                raise RuntimeError("%s: setup '%s' failed: %s"
                                   % (label, cmd, err.strip()))

    def close(self):
        self.ns.close()

    def link_mtus(self):
        rc, out, _ = self.ns.run(["ip", "-o", "link", "show"])
        mtus = {}
        for line in out.splitlines():
            words = line.split()
            name = words[1].rstrip(":").split("@")[0]
            mtus[name] = int(words[words.index("mtu") + 1])
        return mtus

    def kernel(self, q):
        rc, out, err = self.ns.run(["ip", "route", "get"] + query_args(q))
        return parse_kernel(rc, out, err)

    def ours(self, q, host_file=None):
        argv = [self.uxt, "host"]
        if host_file:
            argv += ["--host", host_file]
        argv += ["route", "get"] + query_args(q)
        if host_file:
            rc, out, err = run_local(argv)
        else:
            rc, out, err = self.ns.run(argv, env=uxt_env())
        return rc, out, err

    def capture(self, tmpdir):
        """uxt host > file, then uxt host --host file must print the same."""
        name = "%s: uxt host round trip" % self.label
        rc, text, err = self.ns.run([self.uxt, "host"], env=uxt_env())
        if not self.res.check(name + " (capture)", rc == 0 and not err,
                              "exit %d, stderr %r" % (rc, err)):
            return None
        path = os.path.join(tmpdir, "%s.host" % self.label)
        with open(path, "w") as f:
            f.write(text)
        rc2, text2, err2 = run_local([self.uxt, "host", "--host", path])
        self.res.check(name, rc2 == 0 and text2 == text and not err2,
                       "exit %d, stderr %r\n--- from netlink\n%s--- from "
                       "the file\n%s" % (rc2, err2, text, text2))
        return path

    def one_query(self, q, host_file, mtus):
        """Runs one query everywhere; returns the checks to record."""
        name = "%s: %s" % (self.label, describe(q))
        checks = []
        kernel = self.kernel(q)
        rc, out, err = self.ours(q)
        ours = parse_ours(rc, out)
        diffs = compare(kernel, ours, q, mtus)
        if err:
            diffs.append("stderr: %s" % err.strip())
        checks.append((name, not diffs,
                       "\n".join(diffs) + "\nuxt: " + out.strip()))
        if host_file:
            rc2, out2, err2 = self.ours(q, host_file)
            checks.append((name + " (offline)",
                           (rc2, out2) == (rc, out) and not err2,
                           "netlink: %r\nfile:    %r %s" % (out, out2, err2)))
        return kernel[0], checks

    def compare_queries(self, queries, host_file, jobs=2):
        """Every query against the kernel; every third one also offline
        (the round trip of the model itself is checked in full)."""
        mtus = self.link_mtus()
        with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
            futures = [pool.submit(self.one_query, q,
                                   host_file if i % 3 == 0 else None, mtus)
                       for i, q in enumerate(queries)]
            for f in futures:
                verdict, checks = f.result()
                self.stats["routed" if verdict == "ok" else "refused"] += 1
                self.stats["offline"] += len(checks) - 1
                for name, ok, detail in checks:
                    self.res.check(name, ok, detail)

    def sysctl(self, setting):
        self.ns.run(["sysctl", "-q", "-w", setting])

    ICMP_KEYS = (("ratelimit", "icmp_ratelimit"), ("ratemask", "icmp_ratemask"),
                 ("msgs_per_sec", "icmp_msgs_per_sec"),
                 ("msgs_burst", "icmp_msgs_burst"))

    def check_icmp_settings(self, tmpdir):
        """The ICMP rate limits as the kernel reads them back (sysctl -n),
        after changing them, in uxt host's icmp line; then the round trip."""
        for key, value in (("icmp_ratelimit", 250), ("icmp_ratemask", 0),
                           ("icmp_msgs_per_sec", 7), ("icmp_msgs_burst", 9)):
            self.sysctl("net.ipv4.%s=%d" % (key, value))
        kernel = []
        for word, key in self.ICMP_KEYS:
            rc, out, _ = self.ns.run(["sysctl", "-n", "net.ipv4." + key])
            kernel.append("%s %s" % (word, out.strip()))
        want = "icmp " + " ".join(kernel)
        self.label = "router icmp settings"
        path = self.capture(tmpdir)
        text = open(path).read() if path else ""
        lines = [l for l in text.splitlines() if l.startswith("icmp ")]
        self.res.check("router: uxt host's icmp line is the kernel's settings",
                       lines == [want], "kernel: %s\nuxt: %s" % (want, lines))


ROUTER_SETUP = [
    "ip link set lo up",
    "ip link add a0 type veth peer name a1",
    "ip link add b0 type veth peer name b1",
    "ip link add c0 type veth peer name c1",
    "ip link add d0 type veth peer name d1",
    "ip link add e0 type veth peer name e1",
    "ip link add f0 mtu 9000 type veth peer name f1 mtu 9000",
    "for d in a0 a1 b0 b1 d0 e0 e1 f0 f1; do ip link set $d up; done",
    # a0: two subnets, a secondary address, an explicit broadcast
    "ip addr add 10.0.0.1/24 dev a0",
    "ip addr add 10.0.0.2/24 dev a0",
    "ip addr add 10.0.1.1/28 brd 10.0.1.15 dev a0",
    "ip addr add 10.0.0.3/24 dev a0",
    # b0: a /16 with brd +, and a link-scope address
    "ip addr add 10.9.0.1/16 brd + dev b0",
    "ip addr add 169.254.7.7/16 scope link dev b0",
    # c0 down: its local address stays, its subnet route is gone
    "ip addr add 10.20.0.1/24 dev c0",
    # d0 up without carrier (d1 down)
    "ip addr add 172.16.5.1/30 dev d0",
    # e0: a /31 and a /32
    "ip addr add 192.168.100.0/31 dev e0",
    "ip addr add 192.168.200.7/32 dev e0",
    # f0: no address at all, mtu 9000
    # routes
    "ip route add default via 10.0.0.254",
    "ip route add 10.5.0.0/16 via 10.0.0.253 metric 10",
    "ip route add 10.5.0.0/16 via 10.9.0.254 metric 5",
    "ip route add 10.5.5.0/24 via 10.9.0.253",
    "ip route add blackhole 10.6.0.0/16",
    "ip route add unreachable 10.7.0.0/16",
    "ip route add prohibit 10.8.0.0/16",
    "ip route add 10.8.8.0/24 via 10.0.0.252",
    "ip route add 192.0.2.0/24 dev b0 src 10.9.0.1",
    "ip route add 198.51.100.0/24 dev a0",
    "ip route add 203.0.113.0/24 via 10.0.0.250 mtu 1400",
    "ip route add 100.64.0.0/10 dev f0",
    "ip route add 10.30.0.0/16 via 10.9.0.254 metric 100",
    "ip route add unreachable 10.30.0.0/16 metric 50",
    "ip route add 10.31.0.0/16 via 172.16.5.2",
    "ip route add 10.32.0.0/16 dev e0 src 192.168.200.7",
    "ip route add 10.33.0.0/16 dev b0 scope host",
    "ip route add 0.0.0.0/8 via 10.9.0.254",
    # a second default route, of a higher metric
    "ip route add default via 10.9.0.254 metric 200",
    # a link-scope route takes b0's link-scope address as its source
    "ip route add 198.18.0.0/15 dev b0",
    # a gateway outside every subnet
    "ip route add 10.40.0.0/16 via 192.0.2.1 dev a0 onlink",
    # an address without its subnet route, one whose route has a metric,
    # an odd explicit broadcast address
    "ip addr add 10.50.0.1/24 dev b0 noprefixroute",
    "ip addr add 10.51.0.1/24 dev b0 metric 77",
    "ip addr add 10.60.0.1/24 brd 10.60.0.128 dev e0",
    # main-table host routes to a local and a broadcast address: the
    # local table's entries win over equal prefixes
    "ip route add 10.0.0.2/32 via 10.9.0.254",
    "ip route add 10.9.255.255/32 via 10.0.0.254",
    # a gateway on a0's second subnet: the source follows it
    "ip route add 10.34.0.0/16 via 10.0.1.14",
    # a1 comes before a0 in the device list; its link-scope address is
    # never a fallback source for global routes
    "ip addr add 169.253.9.9/16 scope link dev a1",
]

ROUTER_DESTS = """
10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.9 10.0.0.0 10.0.0.255 10.0.0.254
10.0.1.1 10.0.1.5 10.0.1.15 10.0.1.16 10.0.1.0
10.9.0.1 10.9.0.77 10.9.255.255 10.9.0.0 169.254.7.7 169.254.1.1
10.20.0.1 10.20.0.5 10.20.0.255 172.16.5.1 172.16.5.2 172.16.5.3
192.168.100.0 192.168.100.1 192.168.200.7 192.168.200.8
10.5.1.1 10.5.5.5 10.5.6.1 10.6.1.1 10.7.1.1 10.8.1.1 10.8.8.8
192.0.2.44 198.51.100.7 203.0.113.9 100.64.1.2 100.127.255.255
10.30.1.1 10.31.1.1 10.32.1.1 10.33.1.1 8.8.8.8 1.1.1.1
198.18.3.4 10.40.2.2 10.34.1.1 169.253.1.1 10.50.0.1 10.50.0.9 10.51.0.9 10.60.0.128 10.60.0.255
0.0.0.0 0.1.2.3 127.0.0.1 127.3.4.5 127.255.255.255
255.255.255.255 224.0.0.1 224.0.0.5 239.1.2.3 240.0.0.1
""".split()


def router_queries(forwarding):
    qs = []
    # output routing: unbound sockets
    for d in ROUTER_DESTS:
        qs.append({"to": d})
    # bound to a source address, local or not
    for src in ("10.9.0.1", "10.0.0.2", "10.20.0.1", "127.0.0.1",
                "127.0.0.9", "192.168.200.7", "1.2.3.4", "10.0.0.255",
                "224.0.0.9", "169.254.7.7"):
        for d in ("8.8.8.8", "10.9.0.77", "10.0.0.1", "127.0.0.1",
                  "224.0.0.5", "255.255.255.255", "10.6.1.1", "0.0.0.0"):
            qs.append({"to": d, "from": src})
    # bound to a device
    for oif in ("a0", "b0", "c0", "d0", "e0", "f0", "lo"):
        for d in ("8.8.8.8", "10.9.0.77", "10.0.0.1", "10.6.1.1", "10.7.1.1",
                  "224.0.0.5", "239.1.2.3", "255.255.255.255", "0.0.0.0",
                  "127.0.0.1", "100.64.1.2"):
            qs.append({"to": d, "oif": oif})
    for oif, src in (("b0", "10.0.0.1"), ("a0", "127.0.0.1"),
                     ("lo", "10.0.0.1"), ("f0", "10.9.0.1")):
        for d in ("8.8.8.8", "10.0.0.1", "224.0.0.5"):
            qs.append({"to": d, "oif": oif, "from": src})
    # input routing
    sources = ("10.0.0.9", "10.9.3.3", "8.8.4.4", "0.0.0.0", "10.0.0.1",
               "10.20.0.1", "127.0.0.1", "224.0.0.9", "255.255.255.255",
               "10.0.0.255", "10.9.255.255", "10.6.0.1", "10.7.0.1",
               "192.0.2.9", "0.1.2.3", "169.254.7.7")
    in_dests = ("10.0.0.1", "10.0.0.3", "10.0.1.1", "10.20.0.1",
                "10.0.0.255", "10.9.255.255", "255.255.255.255", "224.0.0.1",
                "224.0.0.5", "10.9.0.77", "10.0.0.77", "8.8.8.8", "10.6.1.1",
                "10.7.1.1", "10.8.1.1", "10.8.8.8", "203.0.113.9", "10.30.1.1",
                "0.0.0.0", "127.0.0.1", "10.20.0.5", "100.64.1.2")
    for i, s in enumerate(sources):
        for j, d in enumerate(in_dests):
            # every pair through a0; a rotating sample through the others
            qs.append({"to": d, "from": s, "iif": "a0"})
            other = ("b0", "e0", "f0", "lo", "d0")[(i + j) % 5]
            if (i * 7 + j) % 3 == 0:
                qs.append({"to": d, "from": s, "iif": other})
    # received on an interface that is down
    for d in ("224.0.0.1", "10.0.0.1", "10.20.0.1", "255.255.255.255",
              "8.8.8.8", "10.9.0.77"):
        qs.append({"to": d, "from": "10.20.0.9", "iif": "c0"})
    return qs


NOROUTE_SETUP = [
    "ip link set lo up",
    "ip link add x0 type veth peer name x1",
    "ip link set x0 up",
    "ip link set x1 up",
    "ip addr add 10.44.0.1/24 dev x0",
    "ip addr add 10.44.1.1/24 dev x1",
    # names the kernel allows: '#' and bytes beyond ASCII
    "ip link add 'v#1' type veth peer name '\u00fc0'",
    "ip link set 'v#1' up",
    "ip addr add 10.45.0.1/24 dev 'v#1'",
]


def noroute_queries():
    qs = []
    for d in ("10.44.0.9", "10.44.1.9", "10.45.0.1", "8.8.8.8", "10.44.1.1",
              "224.0.0.1", "255.255.255.255"):
        qs.append({"to": d})
        qs.append({"to": d, "from": "10.44.0.9", "iif": "x0"})
        qs.append({"to": d, "from": "10.44.1.9", "iif": "x0"})
        qs.append({"to": d, "from": "10.44.0.9", "iif": "x1"})
        qs.append({"to": d, "from": "10.45.0.9", "iif": "v#1"})
    return qs


def rpfilter_queries():
    qs = []
    for s in ("10.0.0.9", "10.9.3.3", "8.8.4.4", "192.0.2.9", "10.6.0.1",
              "100.64.0.3", "0.0.0.0"):
        for d in ("10.0.0.1", "10.9.0.77", "8.8.8.8", "255.255.255.255",
                  "224.0.0.1"):
            for iif in ("a0", "b0", "f0"):
                qs.append({"to": d, "from": s, "iif": iif})
    return qs


def run_kernel(res, opts, tmpdir):
    bindir = opts["bindir"]
    jobs = min(opts.get("jobs") or 2, 4)
    hosts = []
    stats = {"routed": 0, "refused": 0, "offline": 0}
    try:
        router = Host(res, bindir, "router", ROUTER_SETUP, stats)
        hosts.append(router)
        for fwd in (0, 1):
            router.sysctl("net.ipv4.ip_forward=%d" % fwd)
            router.label = "router fwd=%d" % fwd
            path = router.capture(tmpdir)
            router.compare_queries(router_queries(fwd), path, jobs)
        for mode in (1, 2):
            router.sysctl("net.ipv4.conf.all.rp_filter=%d" % mode)
            router.label = "router rp_filter=%d" % mode
            path = router.capture(tmpdir)
            router.compare_queries(rpfilter_queries(), path, jobs)
        router.check_icmp_settings(tmpdir)

        noroute = Host(res, bindir, "noroute", NOROUTE_SETUP, stats)
        hosts.append(noroute)
        for fwd in (0, 1):
            noroute.sysctl("net.ipv4.ip_forward=%d" % fwd)
            noroute.label = "noroute fwd=%d" % fwd
            path = noroute.capture(tmpdir)
            noroute.compare_queries(noroute_queries(), path, jobs)

        # lo taken down after it was up: its host-scope routes stay
        lodown = Host(res, bindir, "lodown", LODOWN_SETUP, stats)
        hosts.append(lodown)
        path = lodown.capture(tmpdir)
        lodown.compare_queries(lodown_queries(), path, jobs)

        # a fresh namespace: lo down, without an address
        fresh = Host(res, bindir, "fresh", [], stats)
        hosts.append(fresh)
        path = fresh.capture(tmpdir)
        fresh.compare_queries([{"to": "127.0.0.1"}, {"to": "8.8.8.8"},
                               {"to": "0.0.0.0"},
                               {"to": "127.0.0.1", "from": "127.0.0.1",
                                "iif": "lo"}], path)
    except RuntimeError as e:
        res.fail("host_routing setup", str(e))
    finally:
        for h in hosts:
            h.close()
    print("host_routing: %d decisions compared with the kernel (%d routed, "
          "%d refused or dropped), %d repeated offline from captured files"
          % (stats["routed"] + stats["refused"], stats["routed"],
             stats["refused"], stats["offline"]))


LODOWN_SETUP = [
    "ip link set lo up",
    "ip addr add 127.0.0.2/8 dev lo",
    "ip link add y0 type veth peer name y1",
    "ip link set y0 up",
    "ip addr add 10.70.0.1/24 dev y0",
    "ip link set lo down",
]


def lodown_queries():
    qs = []
    for d in ("127.0.0.1", "127.0.0.2", "127.9.9.9", "127.255.255.255",
              "10.70.0.1", "10.70.0.255", "10.70.0.7"):
        qs.append({"to": d})
        qs.append({"to": d, "from": "10.70.0.7", "iif": "y0"})
    return qs


# The file format, without the kernel

OFFLINE_HOST = """\
# a hand-written host
forwarding on
iface eth0 index 2 mac 52:54:00:12:34:56
	addr 192.168.1.10/24 brd +
	addr 192.168.1.11/24 secondary
iface eth1 index 3 mtu 1400
	addr 10.1.0.1/16
iface lo type loopback index 1
	addr 127.0.0.1/8
route default via 192.168.1.1
route 10.2.0.0/16 via 10.1.0.254 metric 20
route blackhole 10.3.0.0/16
route prohibit 10.4.0.0/16
"""

OFFLINE_EXPECT = [
    (["8.8.8.8"],
     "unicast 8.8.8.8 via 192.168.1.1 dev eth0 src 192.168.1.10 mtu 1500\n"),
    (["10.2.3.4"],
     "unicast 10.2.3.4 via 10.1.0.254 dev eth1 src 10.1.0.1 mtu 1400\n"),
    (["192.168.1.11"],
     "local 192.168.1.11 dev lo src 192.168.1.10 mtu 65535\n"),
    (["192.168.1.255"],
     "broadcast 192.168.1.255 dev eth0 src 192.168.1.10 mtu 1500\n"),
    (["10.3.0.1"], "blackhole 10.3.0.1 error EINVAL (blackhole route)\n"),
    (["10.1.9.9", "from", "192.168.1.20", "iif", "eth0"],
     "unicast 10.1.9.9 from 192.168.1.20 dev eth1 mtu 1400 iif eth0\n"),
    (["10.4.0.1", "from", "192.168.1.20", "iif", "eth0"],
     "prohibit 10.4.0.1 from 192.168.1.20 iif eth0 error EACCES "
     "(prohibit route)\n"),
    (["192.168.1.10", "from", "192.168.1.11", "iif", "eth0"],
     "drop 192.168.1.10 from 192.168.1.11 iif eth0 error EINVAL (martian "
     "source: a local address, or a broadcast route toward it)\n"),
]

BAD_FILES = [
    ("rout 10.0.0.0/8 dev eth0\n", ":1: unknown keyword 'rout'"),
    ("iface eth0\naddr 10.0.0.1/33\n", ":2: bad address '10.0.0.1/33'"),
    ("addr 10.0.0.1/24\n", ":1: an addr line must follow"),
    ("iface eth0\niface eth0\n", ":2: interface eth0 is described twice"),
    ("iface eth0\n\troute 10.0.0.1/8 dev eth0\n",
     ":2: 10.0.0.1/8 has bits set beyond its prefix length"),
    ("iface eth0\n\taddr 10.0.0.1/24\nroute default via 10.1.0.1\n",
     ":3: gateway 10.1.0.1 is not on a subnet of any interface"),
    ("iface eth0\n\taddr 10.0.0.1/24\nroute 10.0.0.0/24 dev eth0 src "
     "10.0.0.1\n", ":3: the same route is already there"),
    ("iface eth0 mtu lots\n", ":1: bad mtu 'lots'"),
    ("forwarding maybe\n", ":1: forwarding is 'on' or 'off'"),
    ("iface eth0\nroute blackhole 10.0.0.0/8 dev eth0\n",
     ":2: a blackhole route takes no via, dev or src"),
    ("iface a\x00b\n", ":1: a NUL byte"),
    ("iface eth0\n\taddr 10.0.0.1/24 secondary\n",
     ":2: 10.0.0.1/24 is the first address of its subnet"),
    ("iface eth0 index\n", ":1: 'index' needs a value"),
    ("route local 10.0.0.1/32 dev lo\n", ":1: routes of type local"),
    ("iface " + "x" * 16 + "\n", ":1: '" + "x" * 16 + "' is not a valid"),
]


def run_offline(res, opts, tmpdir):
    uxt = os.path.join(os.path.abspath(opts["bindir"]), "uxt")
    path = os.path.join(tmpdir, "offline.host")
    with open(path, "w") as f:
        f.write(OFFLINE_HOST)
    rc, text, err = run_local([uxt, "host", "--host", path])
    if res.check("file: a hand-written host loads", rc == 0 and not err,
                 "exit %d: %s" % (rc, err)):
        again = os.path.join(tmpdir, "offline2.host")
        with open(again, "w") as f:
            f.write(text)
        rc2, text2, err2 = run_local([uxt, "host", "--host", again])
        res.check("file: printed model reads back the same",
                  rc2 == 0 and text2 == text,
                  "first:\n%s\nsecond:\n%s%s" % (text, text2, err2))
    for args, want in OFFLINE_EXPECT:
        rc, out, err = run_local([uxt, "host", "--host", path, "route",
                                  "get"] + args)
        res.check("file: route get " + " ".join(args), out == want and
                  rc == (0 if not want.split()[0] in
                         ("drop", "blackhole", "prohibit", "unreachable")
                         else 1),
                  "got %r (exit %d, %s)\nwant %r" % (out, rc, err, want))
    for i, (text, want) in enumerate(BAD_FILES):
        bad = os.path.join(tmpdir, "bad%d.host" % i)
        with open(bad, "w") as f:
            f.write(text)
        rc, out, err = run_local([uxt, "host", "--host", bad])
        res.check("file: rejects %r" % text[:40],
                  rc == 2 and (bad + want) in err and not out,
                  "exit %d, stderr %r, wanted %r" % (rc, err, bad + want))
    # usage errors
    for args, want in ((["route", "get"], "needs a destination"),
                       (["route", "get", "10.0.0.1", "iif", "eth0", "oif",
                         "eth0"], "do not go together"),
                       (["route", "get", "10.0.0.1", "iif", "nope"],
                        "no interface 'nope'"),
                       (["--bogus"], "unknown option"),
                       (["route", "show"], "route get"),
                       (["route", "get", "10.0.0.256"], "unexpected")):
        rc, out, err = run_local([uxt, "host", "--host", path] + args)
        res.check("usage: uxt host %s" % " ".join(args),
                  rc == 2 and want in err, "exit %d, stderr %r" % (rc, err))
    rc, out, err = run_local([uxt, "host", "--host",
                              os.path.join(tmpdir, "missing")])
    res.check("file: a missing file is an error",
              rc == 2 and "cannot open" in err, err)


def why_no_namespaces():
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("ip"):
        return "ip (iproute2) missing"
    name = "uxtprobe-" + uuid.uuid4().hex[:8]
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True)
    if r.returncode != 0:
        return "cannot create network namespaces: " + \
            r.stderr.decode().strip()
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def run(res, opts):
    tmpdir = tempfile.mkdtemp(prefix="uxt-host-")
    try:
        run_offline(res, opts, tmpdir)
        why = why_no_namespaces()
        if why:
            res.skip("host_routing kernel comparisons", why)
            return
        run_kernel(res, opts, tmpdir)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
