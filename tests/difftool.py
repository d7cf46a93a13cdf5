#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Developer tool: run commands through iptables-legacy and uxtables side by
side and show the differences.

  python3 tests/difftool.py [--bin build/bin] 'iptables -A INPUT -j ACCEPT' 'iptables -S'
  python3 tests/difftool.py --restore FILE 'iptables-save'   (FILE fed to both restores first)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from differ import Differ  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--restore")
    ap.add_argument("cmds", nargs="*")
    a = ap.parse_args()
    bad = 0
    with Differ(a.bin) as d:
        if a.restore:
            r = d.step(["iptables-restore"], stdin=open(a.restore).read())
            print(r or "same: iptables-restore < %s" % a.restore)
            bad += bool(r)
        for c in a.cmds:
            r = d.step(c)
            if r:
                print(r)
                bad += 1
            else:
                print("same: %s" % c)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
