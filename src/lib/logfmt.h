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

/* The level of TRACE lines (trace_loginfo in ip_tables.c). */
#define UXT_LOG_TRACE_LEVEL 4

/*
 * prefix + the dump of pkt at hook; no newline, trailing space kept.  As
 * in the kernel the text is cut at 1016 characters (it never gets that
 * long for IPv4) and the prefix at 127.
 */
void uxt_log_format(struct uxt_buf *b, const struct uxt_pkt *pkt,
		    unsigned int hook, const struct uxt_iface *in,
		    const struct uxt_iface *out, const char *prefix,
		    unsigned int logflags);
/* The TRACE line of a rule that matched a traced packet, written through
 * uxt_ns_log() at level 4. */
void uxt_log_trace(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		   unsigned int hook, const struct uxt_iface *in,
		   const struct uxt_iface *out, const char *table,
		   const char *chain, const char *comment, unsigned int rulenum);

/*
 * skb->dev at hook for a packet between in and out: the input device,
 * except at POSTROUTING, where ip_output() has set the output device.
 * Its type and header length are what MAC= and NFLOG's HWTYPE/HWLEN use.
 */
const struct uxt_iface *uxt_log_skb_dev(unsigned int hook,
					const struct uxt_iface *in,
					const struct uxt_iface *out);
/*
 * The link-layer header the kernel would show for pkt on dev
 * (dev->hard_header_len bytes from skb_mac_header): fills hdr (at least
 * UXT_MAC_HDR_MAX bytes) and returns that length, 0 when the packet has no
 * link-layer header.  *hdr_len is how many of those bytes are the header
 * kept with the packet (the rest run into the datagram, as in the kernel).
 * A packet without a kept header on lo gets loopback's all-zero Ethernet
 * header.
 */
unsigned int uxt_log_link_header(const struct uxt_pkt *pkt,
				 const struct uxt_iface *dev,
				 unsigned char *hdr, unsigned int *hdr_len);

#endif
