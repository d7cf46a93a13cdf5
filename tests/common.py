# SPDX-License-Identifier: BSD-2-Clause
"""Helpers shared by the test suites: running uxtables, the kernel oracle in
network namespaces, and the result bookkeeping that ends in
'N passed, N failed, N skipped'."""

import os
import shlex
import shutil
import subprocess
import tempfile
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
BANNER_OURS = "(uxtables)"
BANNER_LEGACY = "(legacy)"


class Results:
    def __init__(self, verbose=False):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.verbose = verbose
        self.failures = []

    def ok(self, name):
        self.passed += 1
        if self.verbose:
            print("ok   " + name)

    def fail(self, name, detail=""):
        self.failed += 1
        self.failures.append((name, detail))
        print("FAIL " + name)
        if detail:
            for line in detail.rstrip("\n").split("\n")[:40]:
                print("     " + line)

    def skip(self, name, why):
        self.skipped += 1
        print("skip %s: %s" % (name, why))

    def check(self, name, cond, detail=""):
        if cond:
            self.ok(name)
        else:
            self.fail(name, detail)
        return cond


class Uxt:
    """Runs the uxtables binaries against one private state directory."""

    def __init__(self, bindir, state=None, netns=None):
        self.bindir = os.path.abspath(bindir)
        self.netns = netns
        self.own = state is None
        self.state = state or tempfile.mkdtemp(prefix="uxt-test-")
        self.env = dict(os.environ)
        self.env["UXT_STATE"] = self.state
        self.env["LC_ALL"] = "C"
        # keep sanitizer reports loud and fatal
        self.env.setdefault("ASAN_OPTIONS", "abort_on_error=0:exitcode=99")
        self.env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1:exitcode=99")

    def run(self, prog, args, stdin=None, timeout=60):
        if isinstance(args, str):
            args = shlex.split(args)
        argv = [os.path.join(self.bindir, prog)] + list(args)
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns] + argv
        p = subprocess.run(argv,
                           input=stdin, capture_output=True, env=self.env,
                           timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), \
            p.stderr.decode("utf-8", "replace")

    def ipt(self, args, **kw):
        return self.run("iptables", args, **kw)

    def reset(self):
        shutil.rmtree(self.state, ignore_errors=True)
        os.makedirs(self.state, exist_ok=True)

    def close(self):
        if self.own:
            shutil.rmtree(self.state, ignore_errors=True)


def normalize_banner(text):
    return text.replace(BANNER_OURS, BANNER_LEGACY)


def have_root_netns():
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("ip") or not shutil.which("iptables-legacy"):
        return "ip or iptables-legacy missing"
    name = "uxtprobe-" + uuid.uuid4().hex[:8]
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True)
    if r.returncode != 0:
        return "cannot create network namespaces: " + r.stderr.decode().strip()
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def kernel_bed_unavailable(bindir, tools):
    """Why a kernel differential bed cannot run here (None: it can): root
    and namespaces, the uxt binary in bindir (unless None), the tools, and
    namespaced LOG (nf_log_all_netns)."""
    why = have_root_netns()
    if why:
        return why
    if bindir is not None and not os.access(os.path.join(bindir, "uxt"),
                                            os.X_OK):
        return "no uxt binary in " + bindir
    for tool in tools:
        if not shutil.which(tool):
            return tool + " missing"
    if not os.path.exists("/proc/sys/net/netfilter/nf_log_all_netns"):
        return "no /proc/sys/net/netfilter/nf_log_all_netns"
    return None


class Netns:
    """A throw-away network namespace; removed on close, also on failure."""

    def __init__(self, prefix="uxtt"):
        self.name = "%s-%s" % (prefix, uuid.uuid4().hex[:10])
        subprocess.run(["ip", "netns", "add", self.name], check=True,
                       capture_output=True)

    def run(self, argv, stdin=None, timeout=60, env=None):
        e = dict(os.environ)
        e["LC_ALL"] = "C"
        if env:
            e.update(env)
        p = subprocess.run(["ip", "netns", "exec", self.name] + list(argv),
                           input=stdin, capture_output=True, timeout=timeout,
                           env=e)
        return p.returncode, p.stdout.decode("utf-8", "replace"), \
            p.stderr.decode("utf-8", "replace")

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
