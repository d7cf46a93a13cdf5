/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NFLOG messages as tcpdump -i nflog:GROUP -w writes them: pcap files of
 * link type DLT_NFLOG (239), one per group, DIR/nflog-GROUP.pcap.
 *
 * A record is what nfnetlink_log puts after the netlink header
 * (kernel-behaviour.md 6.5): the nfgenmsg {AF_INET, version 0, group in
 * network order}, then the attributes in the kernel's order, each a TLV
 * whose length and type are in host byte order and whose value is in
 * network order, padded to 4 bytes:
 *
 *   PACKET_HDR  PREFIX  INDEV  OUTDEV  MARK (if not 0)
 *   HWADDR HWTYPE HWLEN HWHEADER (received packets with a link header)
 *   TIMESTAMP (PREROUTING, INPUT, FORWARD)  UID GID (local socket)
 *   PAYLOAD (the first copy-length bytes of the IP datagram)
 *
 * The listener modelled is tcpdump's: copy mode "packet" with the largest
 * range the kernel grants (NFULNL_COPY_RANGE_MAX, 65531 bytes), no
 * sequence numbers, no conntrack attributes.
 */
#ifndef UXT_NFLOG_PCAP_H
#define UXT_NFLOG_PCAP_H

#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "pkt.h"

/* The copy length of an NFLOG rule without --nflog-size: the whole packet,
 * as far as the listener's range allows. */
#define UXT_NFLOG_COPY_ALL 0xFFFFFFFFu
/* NFULNL_COPY_RANGE_MAX, the range tcpdump's listener gets */
#define UXT_NFLOG_LISTENER_RANGE 65531u
/* DLT_NFLOG / LINKTYPE_NFLOG */
#define UXT_DLT_NFLOG 239
/* the snapshot length tcpdump writes in the file header */
#define UXT_NFLOG_SNAPLEN 262144u

/*
 * Appends the record nfnetlink_log builds for pkt at hook (the packet's
 * indev/outdev are the hook's devices), for group, prefix and copy_len
 * (an NFLOG rule's --nflog-size, or UXT_NFLOG_COPY_ALL).
 */
void uxt_nflog_record(struct uxt_buf *b, const struct uxt_pkt *pkt,
		      unsigned int hook, uint16_t group, const char *prefix,
		      uint32_t copy_len);

struct uxt_nflog_pcap;

/* A writer of DIR/nflog-GROUP.pcap files; DIR is created if missing, each
 * file is created (or truncated) when its group logs its first packet. */
struct uxt_nflog_pcap *uxt_nflog_pcap_open(const char *dir,
					   struct uxt_err *err);
/*
 * Writes one NFLOG message as a record of its group's file; now_ns is the
 * record's time (libpcap stamps a message when it reads it).  Returns 0, or
 * -1 with err set.
 */
int uxt_nflog_pcap_write(struct uxt_nflog_pcap *w, const struct uxt_pkt *pkt,
			 unsigned int hook, uint16_t group, const char *prefix,
			 uint32_t copy_len, uint64_t now_ns,
			 struct uxt_err *err);
/* Flushes and closes every file; returns 0, or -1 with err (if not NULL)
 * set to the first failure.  w may be NULL. */
int uxt_nflog_pcap_close(struct uxt_nflog_pcap *w, struct uxt_err *err);

#endif
