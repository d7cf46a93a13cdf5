/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The kernel's log line of a packet (net/netfilter/nf_log_syslog.c):
 * "IN=... OUT=... MAC=... SRC=... DST=... LEN=..." and the rest, every
 * field followed by one space, exactly as kernel-behaviour.md section 2
 * gives it, for the LOG target and for TRACE.
 */
#ifndef UXT_LOGFMT_H
#define UXT_LOGFMT_H

#include "buf.h"
#include "engine.h"

/* logflags (xt_LOG.h) */
#define UXT_LOG_TCPSEQ 0x01
#define UXT_LOG_TCPOPT 0x02
#define UXT_LOG_IPOPT 0x04
#define UXT_LOG_UID 0x08
#define UXT_LOG_MACDECODE 0x20
#define UXT_LOG_DEFAULT_MASK 0x0F

/* prefix + the dump of pkt at hook; no newline, trailing space kept. */
void uxt_log_format(struct uxt_buf *b, const struct uxt_pkt *pkt,
		    unsigned int hook, const struct uxt_iface *in,
		    const struct uxt_iface *out, const char *prefix,
		    unsigned int logflags);
/* The TRACE line of a rule that matched a traced packet. */
void uxt_log_trace(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		   unsigned int hook, const struct uxt_iface *in,
		   const struct uxt_iface *out, const char *table,
		   const char *chain, const char *comment, unsigned int rulenum);

#endif
