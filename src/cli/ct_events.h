/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Connection tracking as the conntrack command shows it: one entry or one
 * event as a flat record of what the kernel would have put in its netlink
 * message (struct ctev_rec), the printing of such a record in
 * conntrack-tools 1.4.7's formats, and the namespace's event log.
 *
 * The event log lets "conntrack -E" see the events of other processes, as
 * the kernel's NFNLGRP_CONNTRACK_* groups let it: every process that moves
 * the table (uxt inject, uxt replay, and conntrack -D/-F/-U itself)
 * appends each event, as a record, to DIR/ct-events; conntrack -E follows
 * the file.  The live daemon appends too, without the state lock (a
 * command holds that lock while it waits for the daemon), so each append
 * takes the log's own lock, DIR/ct-events.lock (flock), and reads the
 * file's last sequence number afresh under it: writers of several
 * processes keep one sequence.  Records have a fixed size and are written
 * with one write() each, so a reader never sees half a record
 * interleaved with another.  The log is bounded: when ct-events reaches
 * CTEV_LOG_MAX bytes it is renamed to ct-events.1 (replacing the previous
 * one) and a new file begins; a reader that falls more than a whole file
 * behind loses events, and says so as conntrack says ENOBUFS.
 * See docs/conntrack-cli.md.
 */
#ifndef UXT_CT_EVENTS_H
#define UXT_CT_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "ct.h"
#include "err.h"

#define CTEV_LOG_NAME "ct-events"
#define CTEV_LOG_OLD "ct-events.1"
#define CTEV_LOG_LOCK "ct-events.lock"
#define CTEV_LOG_MAX (4u << 20)
#define CTEV_MAGIC 0x55584345u	/* "UXCE" */

/* What a record holds besides the tuples and the status (rec->has) */
enum {
	CTEV_HAS_TIMEOUT = 1 << 0,
	CTEV_HAS_TCPSTATE = 1 << 1,
	CTEV_HAS_COUNTERS = 1 << 2,
	CTEV_HAS_MARK = 1 << 3,
	CTEV_HAS_ZONE = 1 << 4,
	CTEV_HAS_TSTART = 1 << 5,	/* timestamp extension: start */
	CTEV_HAS_TSTOP = 1 << 6,	/* ... and stop (destroyed) */
	CTEV_HAS_USE = 1 << 7,
	CTEV_HAS_PORTID = 1 << 8,	/* caused by a process (USERSPACE) */
	CTEV_HAS_ZONE_ORIG = 1 << 9,	/* a zone of the original tuple only */
	CTEV_HAS_ZONE_REPL = 1 << 10,	/* ... of the reply tuple only */
};

/* rec->kind: a listing (no tag) or an event */
enum {
	CTEV_DUMP = 0,
	CTEV_NEW = UXT_CT_EVENT_NEW,
	CTEV_UPDATE = UXT_CT_EVENT_UPDATE,
	CTEV_DESTROY = UXT_CT_EVENT_DESTROY,
};

/* One entry or event; also the on-disk record of the log (host order). */
struct ctev_rec {
	uint32_t magic;
	uint16_t size;			/* sizeof(struct ctev_rec) */
	uint8_t kind;
	uint8_t tcp_state;
	uint32_t has;
	uint32_t event_mask;		/* 1 << enum uxt_ct_event */
	uint64_t seq;			/* log order, from 1 */
	uint64_t time_ns;		/* namespace clock at the event */
	struct uxt_ct_tuple tuple[2];
	uint32_t status, mark, id, timeout, use, portid;
	uint16_t zone;
	uint16_t pad0;
	uint32_t pad1;
	uint64_t packets[2], bytes[2];
	uint64_t start_ns, stop_ns;
	uint64_t delta_s;		/* delta-time= */
};

/* Output options (conntrack -o) */
enum {
	CTEV_O_XML = 1 << 0,
	CTEV_O_EXT = 1 << 1,
	CTEV_O_TMS = 1 << 2,
	CTEV_O_ID = 1 << 3,
	CTEV_O_KTMS = 1 << 4,
	CTEV_O_CL = 1 << 5,
	CTEV_O_SAVE = 1 << 6,
};

/*
 * The record of ct as the kernel dumps it (conntrack -L, -G, -D, -U):
 * everything, use=, the counters when the entry has the accounting
 * extension, the start time when it has the timestamp one.  now_ns is the
 * namespace's clock.
 */
void ctev_from_dump(struct ctev_rec *r, const struct uxt_ct *ct,
		    const struct uxt_ct_settings *set, uint64_t now_ns,
		    uint32_t use);
/*
 * The record of an event as ctnetlink_conntrack_event() builds its message:
 * timeout except for a DESTROY of an expired entry, the TCP state with
 * IPCT_PROTOINFO or on DESTROY, counters and times on DESTROY, the mark
 * when it is set or changed.  portid is the process that caused it (0: the
 * packet path or the timer).
 */
void ctev_from_event(struct ctev_rec *r, enum uxt_ct_event_kind kind,
		     uint32_t mask, const struct uxt_ct *ct,
		     const struct uxt_ct_settings *set, uint64_t now_ns,
		     uint32_t portid);

/* Prints the record as conntrack 1.4.7 does (no newline).  out is an
 * output mask (CTEV_O_*); for CTEV_O_SAVE the "-A/-U/-D ..." form. */
void ctev_format(struct uxt_buf *b, const struct ctev_rec *r, unsigned int out);

/* -o xml: one <flow> element (no newline); the <when> of an event with
 * CTEV_O_TMS.  The caller writes the document's head and tail. */
void ctev_format_xml(struct uxt_buf *b, const struct ctev_rec *r,
		     unsigned int out);

/* The protocol names libnetfilter_conntrack knows ("unknown" otherwise). */
const char *ctev_proto_name(uint8_t proto);
/* TCP state names as conntrack prints them */
const char *ctev_tcp_state_name(unsigned int state);

/* Appending to the log */
struct ctev_writer;

/*
 * Opens the log of the state directory dir for appending (created when
 * missing).  Each append takes the log's lock; the caller needs no other
 * (but a writer that is not the live daemon holds the state lock while it
 * changes the table, which keeps its events in order).  portid is
 * given to the events this process causes itself, as the netlink port of a
 * process that changes the table (0 for the packet path and the timer).
 */
struct ctev_writer *ctev_writer_open(const char *dir, uint32_t portid);
/* The table's settings, for the shape of the records (counters shown...) */
void ctev_writer_set_settings(struct ctev_writer *w,
			      const struct uxt_ct_settings *set);
/* The port of the events that follow (0: the packet path, the timer). */
void ctev_writer_set_portid(struct ctev_writer *w, uint32_t portid);
void ctev_writer_close(struct ctev_writer *w);
/* A uxt_ct_event_fn: ctx is a struct ctev_writer. */
void ctev_writer_event(void *ctx, enum uxt_ct_event_kind kind,
		       uint32_t event_mask, const struct uxt_ct *ct,
		       uint64_t now_ns);
/* The first write error, or 0. */
int ctev_writer_error(const struct ctev_writer *w);

/* Following the log (conntrack -E) */
struct ctev_reader;

/* Positions the reader after the last event logged so far. */
struct ctev_reader *ctev_reader_open(const char *dir);
/*
 * The next event: 1 with *r filled, 0 when there is none yet.  *lost is
 * set when events were lost (the reader fell behind a whole file).
 */
int ctev_reader_next(struct ctev_reader *rd, struct ctev_rec *r, bool *lost);
void ctev_reader_close(struct ctev_reader *rd);

#endif
