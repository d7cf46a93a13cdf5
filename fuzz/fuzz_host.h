/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Shared setup of the packet-path fuzz targets (fuzz_packet, fuzz_ctpkt):
 * the host model and the loading of a fixed ruleset.  Not a target itself;
 * fuzz/Makefile links it into the targets that use it.
 */
#ifndef UXT_FUZZ_HOST_H
#define UXT_FUZZ_HOST_H

#include <stddef.h>

#include "engine.h"

/* A host with lo, eth0 (10.0.0.1/24, MTU 1500) and eth1 (10.1.0.1/24,
 * MTU 1400), forwarding on and a default route via 10.0.0.254 on eth0. */
struct uxt_host *fuzz_host_new(void);

/* Initialise rs and add each rule (iptables arguments, split on spaces)
 * as iptables-restore would; aborts if one is refused. */
void fuzz_load_rules(struct uxt_ruleset *rs, const char *const *rules,
		     size_t n);

#endif
