# SPDX-License-Identifier: BSD-2-Clause
"""The kernel differential suite of connection tracking and NAT
(tests/ct_diff.py): scripted flows through a kernel router and through
uxtables, compared.

  bed.py      the test bed: kdiff's client - dut - server namespaces, with a
              sink in dut after conntrack's confirm, conntrack always
              active, and the conntrack-tools helpers (flush, -L, -E with
              markers)
  flows.py    flows: scripted packet sequences (TCP, UDP, ICMP, ICMP
              errors) whose answers are addressed from what the kernel
              actually sent (the translated tuple)
  gen.py      batches: flows and the ruleset that goes with them (ctstate
              counters in every chain, NAT of every kind, NOTRACK, zones,
              CONNMARK, conntrack/state matches), deterministic from
              (seed, batch)
  kside.py    the kernel side: a batch run live (answers made from
              observations) or replayed from a recording (--self-check)
  uside.py    the uxtables side: iptables-restore, one `uxt replay` of the
              recorded frames (Linux cooked v2, every direction in one
              capture), iptables-save -c, conntrack -L / -E of uxtables
  compare.py  conntrack -L / -E parsing, attribution to flows, comparison
              with the timeout tolerance
  suite.py    the run: batches, results, reports
"""
