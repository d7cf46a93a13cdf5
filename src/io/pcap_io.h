/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Captures in and out, through libpcap.
 *
 * Reading (uxt replay): pcap and pcapng files of the link types a Linux
 * host captures IPv4 with (Ethernet, raw IP, Linux cooked v1 and v2, BSD
 * loopback null/loop, NFLOG), each record decoded into the IPv4 datagram
 * and what the link layer says about it: direction and packet type and
 * interface index where the format has them (cooked captures, NFLOG), the
 * link-layer header or source address.  A record that cannot be handed to
 * the namespace (not IPv4, cut by the snapshot length, too short) comes
 * back with the reason; a damaged file is an error.
 *
 * Writing: the packets that leave (-w) as Linux cooked v2 records with the
 * outgoing interface.  (NFLOG files are written by nflog_pcap.h.)
 *
 * Library code: errors are returned in a struct uxt_err, nothing is
 * printed.
 */
#ifndef UXT_PCAP_IO_H
#define UXT_PCAP_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "host.h"
#include "pkt.h"

enum uxt_frame_dir {
	UXT_FRAME_DIR_UNKNOWN = 0,	/* the format does not say */
	UXT_FRAME_DIR_IN,		/* received by the capturing host */
	UXT_FRAME_DIR_OUT,		/* sent by it */
};

/* One record of a capture, decoded. */
struct uxt_frame {
	uint64_t index;			/* 1-based record number */
	uint64_t tstamp_ns;		/* capture time */
	const unsigned char *ip;	/* the IPv4 datagram as captured */
	size_t ip_len;			/* captured bytes of it */
	size_t ip_wire_len;		/* its bytes on the wire */
	/* link layer */
	enum uxt_frame_dir dir;
	int pkt_type;			/* UXT_PACKET_*, -1 if not recorded */
	int ifindex;			/* 0 if not recorded */
	uint16_t hwtype;		/* UXT_ARPHRD_* of the header below */
	unsigned char mac[UXT_MAC_HDR_MAX]; /* the whole header (Ethernet) */
	uint8_t mac_len;
	unsigned char link_src[8];	/* source address only (cooked) */
	uint8_t link_src_len;
	/* why the record cannot be replayed, or NULL */
	const char *skip;
	char skip_text[128];
};

struct uxt_pcap_reader;

/* Opens a capture; its link type must be one of those above. */
int uxt_pcap_open_read(struct uxt_pcap_reader **r, const char *path,
		       struct uxt_err *err);
void uxt_pcap_close_read(struct uxt_pcap_reader *r);
/* "EN10MB (Ethernet)"... */
const char *uxt_pcap_linktype_text(const struct uxt_pcap_reader *r);
/*
 * The next record: 1 with *f filled (f->skip set if it cannot be used;
 * f's pointers stay valid until the next call), 0 at the end, -1 with err
 * when the file is damaged (a truncated record, a bad block).
 */
int uxt_pcap_next(struct uxt_pcap_reader *r, struct uxt_frame *f,
		  struct uxt_err *err);

struct uxt_pcap_writer;

/* A new capture file (replaced if it exists) of Linux cooked v2 records. */
int uxt_pcap_open_sll2(struct uxt_pcap_writer **w, const char *path,
		       struct uxt_err *err);
/* One datagram leaving through dev at time now_ns. */
void uxt_pcap_write_sll2(struct uxt_pcap_writer *w, uint64_t now_ns,
			 const struct uxt_pkt *pkt, const struct uxt_iface *dev);

/* Flushes and closes; 0, or -1 with err when a write had failed. */
int uxt_pcap_close_write(struct uxt_pcap_writer *w, struct uxt_err *err);

#endif
