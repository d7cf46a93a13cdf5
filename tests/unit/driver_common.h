/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers shared by the test drivers ct_run.c, nat_run.c and
 * icmp_frag_run.c (compiled in by tests/ct_units.py, tests/nat_units.py
 * and tests/packet_units.py).
 */
#ifndef UXT_TEST_DRIVER_COMMON_H
#define UXT_TEST_DRIVER_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "ct.h"
#include "engine.h"

/* len bytes as lower-case hex on stdout */
void drv_print_hex(const unsigned char *p, uint32_t len);

/* The xmit event: "xmit IFACE HEX" */
void drv_ev_xmit(void *ctx, const struct uxt_pkt *pkt,
		 const struct uxt_iface *dev);

/* An interface with one address: MAC 00:..:00 on lo, 02:00:00:00:00:INDEX
 * otherwise; send_redirects off (the kernel test beds turn them off). */
struct uxt_iface *drv_add_iface(struct uxt_host *h, const char *name,
				int index, const char *addr, uint8_t plen,
				uint32_t mtu, bool lo);

/* An iptables command (ARGS, split on blanks; modified) added to rs as
 * iptables-restore would; 0, or -1 with the reason on stderr. */
int drv_add_rule(struct uxt_ruleset *rs, char *args);

/* Hex digits to bytes (at most max); the count, or -1 if not hex. */
int drv_parse_hex(const char *s, unsigned char *out, uint32_t max);

/* A conntrack entry in the canonical form of tests/ct_units.py (see
 * ct_run.c); event false for a dump (kind and mask then unused). */
void drv_ct_text(struct uxt_buf *b, const struct uxt_ct *ct, bool event,
		 unsigned int kind, uint32_t mask, uint64_t now);

/* The conntrack event: "event NEW|UPDATE|DESTROY ENTRY" */
void drv_ev_ct(void *ctx, unsigned int kind, uint32_t mask,
	       const struct uxt_ct *ct, uint64_t now_ns);

#endif
