/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NFQUEUE over netlink (nfnetlink_queue), with libmnl: one queue per
 * struct uxt_nfq, bound on its own netlink socket.
 *
 * The kernel sends one NFQNL_MSG_PACKET per queued packet: its id, the hook,
 * mark, devices, source link-layer address, socket owner, timestamp and the
 * datagram itself (copy mode "packet", the whole datagram).  The reader
 * answers each id with a verdict, which may carry a new mark and new bytes
 * (NFQA_PAYLOAD replaces the datagram, longer or shorter).  Verdicts are
 * collected in a buffer and sent together (uxt_nfq_flush); the kernel
 * handles the messages of one send in order.  Consecutive ids with the
 * same verdict and mark and no new bytes become one batch verdict
 * (NFQNL_MSG_VERDICT_BATCH): one message, one lookup for the kernel.
 *
 * Lost messages.  When the socket's receive buffer overflows the kernel
 * drops the messages it cannot deliver (ENOBUFS), but keeps their packets
 * queued, waiting for verdicts that will never come.  Ids are given in
 * order, so a gap in the ids says which were lost: before the verdict of
 * the packet after a gap, a batch verdict (NFQNL_MSG_VERDICT_BATCH, which
 * applies to every queued id up to the one named) settles the lost ones
 * with the queue's failure verdict.  Packets must therefore be answered in
 * the order they were received.
 *
 * Library code: errors come back in a struct uxt_err, nothing is printed.
 */
#ifndef UXT_NFQUEUE_H
#define UXT_NFQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct uxt_nfq_config {
	uint16_t queue;		/* queue number */
	uint32_t maxlen;	/* NFQA_CFG_QUEUE_MAXLEN, 0: the kernel's */
	bool fail_open;		/* NFQA_CFG_F_FAIL_OPEN: a full queue
				 * accepts; lost messages are accepted */
	bool uid_gid;		/* NFQA_CFG_F_UID_GID: the socket owner */
	uint32_t rcvbuf;	/* socket receive buffer, 0: default */
	unsigned int batch;	/* messages read per uxt_nfq_recv (max) */
};

/* One packet as the kernel queued it. */
struct uxt_nfq_packet {
	uint32_t id;
	uint8_t hook;			/* NF_INET_* */
	uint16_t hw_protocol;		/* host order (ETH_P_IP) */
	uint32_t mark;
	int indev, outdev;		/* ifindex, 0: none */
	unsigned char hwaddr[8];	/* source link-layer address */
	uint8_t hwaddr_len;
	unsigned char *payload;		/* the datagram, writable */
	uint32_t len;
	uint32_t room;			/* bytes usable at payload (>= len) */
	uint32_t skb_info;		/* NFQA_SKB_* */
	bool has_uid, has_gid;
	uint32_t uid, gid;
	uint64_t tstamp_ns;		/* 0: none */
	uint32_t lost_before;		/* ids lost just before this one */
};

struct uxt_nfq_stats {
	uint64_t packets;		/* messages received */
	uint64_t enobufs;		/* receive overruns */
	uint64_t lost;			/* ids never received */
	uint64_t errors;		/* error messages from the kernel */
	int last_error;			/* errno of the last one */
};

struct uxt_nfq;

/* Opens a netlink socket, binds it to c->queue and configures the queue
 * (copy mode packet, range 65535, maxlen, flags).  0 or -1 with err. */
int uxt_nfq_open(struct uxt_nfq **q, const struct uxt_nfq_config *c,
		 struct uxt_err *err);
void uxt_nfq_close(struct uxt_nfq *q);
int uxt_nfq_fd(const struct uxt_nfq *q);

/*
 * Waits up to timeout_ms (-1: forever) for packets, then reads what is
 * there, at most max (and the configured batch).  Returns how many packets
 * were read into pkts (0: none within the time), or -1 with err set.  The
 * packets (and their payloads) stay valid until the next call.
 */
int uxt_nfq_recv(struct uxt_nfq *q, struct uxt_nfq_packet *pkts, int max,
		 int timeout_ms, struct uxt_err *err);

/*
 * Adds the verdict of a packet read by the last uxt_nfq_recv (NF_ACCEPT,
 * NF_DROP, ...) to the buffer: with set_mark its new mark, with payload
 * (not NULL) its new bytes.  0, or -1 with err when a full buffer could
 * not be sent.
 */
int uxt_nfq_verdict(struct uxt_nfq *q, const struct uxt_nfq_packet *p,
		    uint32_t verdict, bool set_mark, uint32_t mark,
		    const void *payload, uint32_t len, struct uxt_err *err);
/* Sends the buffered verdicts.  0 or -1 with err. */
int uxt_nfq_flush(struct uxt_nfq *q, struct uxt_err *err);

const struct uxt_nfq_stats *uxt_nfq_stats(const struct uxt_nfq *q);

#endif
