/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Entries and events as conntrack prints them, and the event log of a
 * state directory (see ct_events.h and docs/conntrack-cli.md).
 *
 * What a line holds follows the kernel's netlink messages (ctnetlink's
 * dump and event builders, 6.x) and how libnetfilter_conntrack 1.0.9
 * prints what is in them; the field order and spacing are those of its
 * default output, checked against conntrack 1.4.7 on the kernel.
 */
#include "ct_events.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000ull

const char *ctev_proto_name(uint8_t proto)
{
	switch (proto) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 33:
		return "dccp";
	case 47:
		return "gre";
	case 58:
		return "icmpv6";
	case 132:
		return "sctp";
	case 136:
		return "udplite";
	}
	return "unknown";
}

const char *ctev_tcp_state_name(unsigned int state)
{
	static const char *const names[] = {
		"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
		"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : names[0];
}

/* Records */

static void rec_init(struct ctev_rec *r, const struct uxt_ct *ct)
{
	memset(r, 0, sizeof(*r));
	r->magic = CTEV_MAGIC;
	r->size = sizeof(*r);
	/* field by field: the padding of the tuples stays zero on disk */
	for (int d = 0; d < 2; d++) {
		r->tuple[d].src = ct->tuple[d].src;
		r->tuple[d].dst = ct->tuple[d].dst;
		r->tuple[d].sport = ct->tuple[d].sport;
		r->tuple[d].dport = ct->tuple[d].dport;
		r->tuple[d].proto = ct->tuple[d].proto;
	}
	r->status = ct->status;
	r->mark = ct->mark;
	r->id = ct->id;
	r->zone = ct->zone;
	/* CTA_ZONE for a zone of both directions, CTA_TUPLE_ZONE in the
	 * tuple of a one-direction zone */
	if (ct->zone != 0)
		r->has |= ct->zone_dir == UXT_CT_ZONE_DIR_ORIG_ONLY ?
			  CTEV_HAS_ZONE_ORIG :
			  ct->zone_dir == UXT_CT_ZONE_DIR_REPL_ONLY ?
			  CTEV_HAS_ZONE_REPL : CTEV_HAS_ZONE;
	if (ct->tuple[0].proto == 6)
		r->tcp_state = ct->proto.tcp.state;
}

static void rec_counters(struct ctev_rec *r, const struct uxt_ct *ct)
{
	r->has |= CTEV_HAS_COUNTERS;
	for (int d = 0; d < 2; d++) {
		r->packets[d] = ct->packets[d];
		r->bytes[d] = ct->bytes[d];
	}
}

void ctev_from_dump(struct ctev_rec *r, const struct uxt_ct *ct,
		    const struct uxt_ct_settings *set, uint64_t now_ns,
		    uint32_t use)
{
	rec_init(r, ct);
	r->kind = CTEV_DUMP;
	r->time_ns = now_ns;
	r->has |= CTEV_HAS_TIMEOUT | CTEV_HAS_MARK | CTEV_HAS_USE;
	r->timeout = uxt_ct_seconds_left(ct, now_ns);
	if (ct->tuple[0].proto == 6)
		r->has |= CTEV_HAS_TCPSTATE;
	(void)set;
	if (ct->acct)
		rec_counters(r, ct);
	if (ct->tstamp) {
		r->has |= CTEV_HAS_TSTART;
		r->start_ns = ct->start_ns;
		r->delta_s = now_ns / NS >= ct->start_ns / NS ?
			     now_ns / NS - ct->start_ns / NS : 0;
	}
	r->use = use;
}

void ctev_from_event(struct ctev_rec *r, enum uxt_ct_event_kind kind,
		     uint32_t mask, const struct uxt_ct *ct,
		     const struct uxt_ct_settings *set, uint64_t now_ns,
		     uint32_t portid)
{
	uint32_t left = uxt_ct_seconds_left(ct, now_ns);

	(void)set;
	rec_init(r, ct);
	r->kind = (uint8_t)kind;
	r->event_mask = mask;
	r->time_ns = now_ns;
	r->timeout = left;
	if (kind == UXT_CT_EVENT_DESTROY) {
		/* the time left only when the entry did not simply expire */
		if (left != 0)
			r->has |= CTEV_HAS_TIMEOUT;
		if (ct->acct)
			rec_counters(r, ct);
		if (ct->tstamp) {
			r->has |= CTEV_HAS_TSTART | CTEV_HAS_TSTOP;
			r->start_ns = ct->start_ns;
			r->stop_ns = now_ns;
			r->delta_s = now_ns / NS >= ct->start_ns / NS ?
				     now_ns / NS - ct->start_ns / NS : 0;
		}
		if (ct->tuple[0].proto == 6)
			r->has |= CTEV_HAS_TCPSTATE;
	} else {
		r->has |= CTEV_HAS_TIMEOUT;
		if (ct->tuple[0].proto == 6 &&
		    (mask & (1u << UXT_IPCT_PROTOINFO)))
			r->has |= CTEV_HAS_TCPSTATE;
	}
	if (ct->mark != 0 || (mask & (1u << UXT_IPCT_MARK)))
		r->has |= CTEV_HAS_MARK;
	if (portid) {
		r->has |= CTEV_HAS_PORTID;
		r->portid = portid;
	}
}

/* Printing */

static void put_addr(struct uxt_buf *b, const char *tag, uint32_t a)
{
	uxt_buf_puts(b, tag);
	uxt_buf_ipv4(b, a);
	uxt_buf_putc(b, ' ');
}

static bool has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 136 || proto == 132 ||
	       proto == 33;
}

static void icmp_fields(const struct uxt_ct_tuple *t, unsigned int *type,
			unsigned int *code, unsigned int *id)
{
	const uint8_t *tc = (const uint8_t *)&t->dport;

	*type = tc[0];
	*code = tc[1];
	*id = ntohs(t->sport);
}

static void put_tuple(struct uxt_buf *b, const struct uxt_ct_tuple *t)
{
	put_addr(b, "src=", t->src);
	put_addr(b, "dst=", t->dst);
	if (has_ports(t->proto)) {
		uxt_buf_printf(b, "sport=%u dport=%u ", ntohs(t->sport),
			       ntohs(t->dport));
	} else if (t->proto == 47) {
		uxt_buf_printf(b, "srckey=0x%x dstkey=0x%x ", ntohs(t->sport),
			       ntohs(t->dport));
	} else if (t->proto == 1) {
		unsigned int type, code, id;

		icmp_fields(t, &type, &code, &id);
		uxt_buf_printf(b, "type=%u code=%u id=%u ", type, code, id);
	}
}

static void put_ctime(struct uxt_buf *b, const char *tag, uint64_t ns)
{
	time_t t = (time_t)(ns / NS);
	char tmp[64];
	struct tm tm;

	if (!localtime_r(&t, &tm) ||
	    strftime(tmp, sizeof(tmp), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		snprintf(tmp, sizeof(tmp), "?");
	uxt_buf_printf(b, "[%s=%s] ", tag, tmp);
}

static bool is_dnat(const struct ctev_rec *r)
{
	return (r->status & UXT_IPS_DST_NAT_DONE) &&
	       r->tuple[1].src != r->tuple[0].dst;
}

static bool is_snat(const struct ctev_rec *r)
{
	return (r->status & UXT_IPS_SRC_NAT_DONE) &&
	       r->tuple[1].dst != r->tuple[0].src;
}

/* conntrack -o save: the command that would make the entry */
static void format_save(struct uxt_buf *b, const struct ctev_rec *r)
{
	static const char *const status_names[11] = {
		[0] = "EXPECTED", [1] = "SEEN_REPLY", [2] = "ASSURED",
		[10] = "FIXED_TIMEOUT",
	};
	const struct uxt_ct_tuple *o = &r->tuple[0], *rp = &r->tuple[1];
	size_t start = b->len;
	bool any = false;

	switch (r->kind) {
	case CTEV_UPDATE:
		uxt_buf_puts(b, "-U ");
		break;
	case CTEV_DESTROY:
		uxt_buf_puts(b, "-D ");
		break;
	default:
		uxt_buf_puts(b, "-A ");
		break;
	}
	if (r->has & CTEV_HAS_TIMEOUT)
		uxt_buf_printf(b, "-t %u ", r->timeout);
	uxt_buf_puts(b, "-u ");
	for (unsigned int i = 0; i < 11; i++) {
		if (!(r->status & (1u << i)) || !status_names[i])
			continue;
		uxt_buf_printf(b, "%s,", status_names[i]);
		any = true;
	}
	if (any)
		b->data[b->len - 1] = ' ';
	else
		uxt_buf_puts(b, "UNSET ");
	if (r->has & CTEV_HAS_ZONE)
		uxt_buf_printf(b, "-w %u ", r->zone);
	put_addr(b, "-s ", o->src);
	put_addr(b, "-d ", o->dst);
	put_addr(b, is_dnat(r) ? "-g " : "-r ", rp->src);
	put_addr(b, is_snat(r) ? "-n " : "-q ", rp->dst);
	if (has_ports(o->proto)) {
		uxt_buf_printf(b, "-p %s --sport %u --dport %u "
			       "--reply-port-src %u --reply-port-dst %u ",
			       ctev_proto_name(o->proto), ntohs(o->sport),
			       ntohs(o->dport), ntohs(rp->sport),
			       ntohs(rp->dport));
		if (o->proto == 6 && (r->has & CTEV_HAS_TCPSTATE))
			uxt_buf_printf(b, "--state %s ",
				       ctev_tcp_state_name(r->tcp_state));
	} else if (o->proto == 1) {
		unsigned int type, code, id;

		icmp_fields(o, &type, &code, &id);
		uxt_buf_printf(b, "-p icmp --icmp-type %u --icmp-code %u "
			       "--icmp-id %u ", type, code, id);
	} else if (o->proto == 47 || o->proto == 58) {
		uxt_buf_printf(b, "-p %s ", ctev_proto_name(o->proto));
	} else {
		uxt_buf_printf(b, "-p %u ", o->proto);
	}
	while (b->len > start && b->data[b->len - 1] == ' ')
		b->len--;
}

void ctev_format(struct uxt_buf *b, const struct ctev_rec *r, unsigned int out)
{
	const struct uxt_ct_tuple *o = &r->tuple[0];

	if (out & CTEV_O_SAVE) {
		format_save(b, r);
		return;
	}
	switch (r->kind) {
	case CTEV_NEW:
		uxt_buf_printf(b, "%9s ", "[NEW]");
		break;
	case CTEV_UPDATE:
		uxt_buf_printf(b, "%9s ", "[UPDATE]");
		break;
	case CTEV_DESTROY:
		uxt_buf_printf(b, "%9s ", "[DESTROY]");
		break;
	}
	if (out & CTEV_O_EXT)
		uxt_buf_printf(b, "%-8s %u ", "ipv4", 2u);
	uxt_buf_printf(b, "%-8s %u ", ctev_proto_name(o->proto), o->proto);
	if (r->has & CTEV_HAS_TIMEOUT)
		uxt_buf_printf(b, "%u ", r->timeout);
	if (r->has & CTEV_HAS_TCPSTATE)
		uxt_buf_printf(b, "%s ", ctev_tcp_state_name(r->tcp_state));
	put_tuple(b, o);
	if (r->has & CTEV_HAS_ZONE_ORIG)
		uxt_buf_printf(b, "zone-orig=%u ", r->zone);
	if (r->has & CTEV_HAS_COUNTERS)
		uxt_buf_printf(b, "packets=%llu bytes=%llu ",
			       (unsigned long long)r->packets[0],
			       (unsigned long long)r->bytes[0]);
	if (!(r->status & UXT_IPS_SEEN_REPLY))
		uxt_buf_puts(b, "[UNREPLIED] ");
	put_tuple(b, &r->tuple[1]);
	if (r->has & CTEV_HAS_ZONE_REPL)
		uxt_buf_printf(b, "zone-reply=%u ", r->zone);
	if (r->has & CTEV_HAS_COUNTERS)
		uxt_buf_printf(b, "packets=%llu bytes=%llu ",
			       (unsigned long long)r->packets[1],
			       (unsigned long long)r->bytes[1]);
	if (r->status & UXT_IPS_HW_OFFLOAD)
		uxt_buf_puts(b, "[HW_OFFLOAD] ");
	else if (r->status & UXT_IPS_OFFLOAD)
		uxt_buf_puts(b, "[OFFLOAD] ");
	else if (r->status & UXT_IPS_ASSURED)
		uxt_buf_puts(b, "[ASSURED] ");
	if (r->has & CTEV_HAS_MARK)
		uxt_buf_printf(b, "mark=%u ", r->mark);
	if (r->has & CTEV_HAS_ZONE)
		uxt_buf_printf(b, "zone=%u ", r->zone);
	if (r->has & CTEV_HAS_TSTART)
		uxt_buf_printf(b, "delta-time=%llu ",
			       (unsigned long long)r->delta_s);
	if (out & CTEV_O_KTMS) {
		if (r->has & CTEV_HAS_TSTART)
			put_ctime(b, "start", r->start_ns);
		if (r->has & CTEV_HAS_TSTOP)
			put_ctime(b, "stop", r->stop_ns);
	}
	if (r->has & CTEV_HAS_USE)
		uxt_buf_printf(b, "use=%u ", r->use);
	if (out & CTEV_O_ID)
		uxt_buf_printf(b, "id=%u ", r->id);
	/* the last blank goes */
	if (b->len > 0 && b->data[b->len - 1] == ' ')
		b->len--;
}

static void xml_tuple(struct uxt_buf *b, const struct ctev_rec *r, int d)
{
	const struct uxt_ct_tuple *t = &r->tuple[d];

	uxt_buf_printf(b, "<meta direction=\"%s\">", d ? "reply" : "original");
	uxt_buf_puts(b, "<layer3 protonum=\"2\" protoname=\"ipv4\"><src>");
	uxt_buf_ipv4(b, t->src);
	uxt_buf_puts(b, "</src><dst>");
	uxt_buf_ipv4(b, t->dst);
	uxt_buf_printf(b, "</dst></layer3><layer4 protonum=\"%u\" "
		       "protoname=\"%s\">", t->proto, ctev_proto_name(t->proto));
	if (has_ports(t->proto))
		uxt_buf_printf(b, "<sport>%u</sport><dport>%u</dport>",
			       ntohs(t->sport), ntohs(t->dport));
	else if (t->proto == 47)
		uxt_buf_printf(b, "<srckey>0x%x</srckey><dstkey>0x%x</dstkey>",
			       ntohs(t->sport), ntohs(t->dport));
	uxt_buf_puts(b, "</layer4>");
	if (r->has & (d ? CTEV_HAS_ZONE_REPL : CTEV_HAS_ZONE_ORIG))
		uxt_buf_printf(b, "<zone>%u</zone>", r->zone);
	if (r->has & CTEV_HAS_COUNTERS)
		uxt_buf_printf(b, "<counters><packets>%llu</packets><bytes>%llu"
			       "</bytes></counters>",
			       (unsigned long long)r->packets[d],
			       (unsigned long long)r->bytes[d]);
	uxt_buf_puts(b, "</meta>");
}

void ctev_format_xml(struct uxt_buf *b, const struct ctev_rec *r,
		     unsigned int out)
{
	static const char *const type[] = {
		[CTEV_DUMP] = "<flow>", [CTEV_NEW] = "<flow type=\"new\">",
		[CTEV_UPDATE] = "<flow type=\"update\">",
		[CTEV_DESTROY] = "<flow type=\"destroy\">",
	};

	uxt_buf_puts(b, r->kind <= CTEV_DESTROY && type[r->kind] ?
		     type[r->kind] : "<flow>");
	xml_tuple(b, r, 0);
	xml_tuple(b, r, 1);
	/* the status is always there: so is the independent part */
	uxt_buf_puts(b, "<meta direction=\"independent\">");
	if (r->has & CTEV_HAS_TCPSTATE)
		uxt_buf_printf(b, "<state>%s</state>",
			       ctev_tcp_state_name(r->tcp_state));
	if (r->has & CTEV_HAS_TIMEOUT)
		uxt_buf_printf(b, "<timeout>%u</timeout>", r->timeout);
	if (r->has & CTEV_HAS_MARK)
		uxt_buf_printf(b, "<mark>%u</mark>", r->mark);
	if (r->has & CTEV_HAS_ZONE)
		uxt_buf_printf(b, "<zone>%u</zone>", r->zone);
	if (r->has & CTEV_HAS_USE)
		uxt_buf_printf(b, "<use>%u</use>", r->use);
	uxt_buf_printf(b, "<id>%u</id>", r->id);
	if (r->status & UXT_IPS_ASSURED)
		uxt_buf_puts(b, "<assured/>");
	if (!(r->status & UXT_IPS_SEEN_REPLY))
		uxt_buf_puts(b, "<unreplied/>");
	if ((out & CTEV_O_KTMS) && (r->has & (CTEV_HAS_TSTART | CTEV_HAS_TSTOP))) {
		uxt_buf_puts(b, "<timestamp>");
		if (r->has & CTEV_HAS_TSTART)
			uxt_buf_printf(b, "<start>%llu</start>",
				       (unsigned long long)r->start_ns);
		if (r->has & CTEV_HAS_TSTOP)
			uxt_buf_printf(b, "<stop>%llu</stop>",
				       (unsigned long long)r->stop_ns);
		uxt_buf_puts(b, "</timestamp>");
	}
	if (r->has & CTEV_HAS_TSTART)
		uxt_buf_printf(b, "<deltatime>%llu</deltatime>",
			       (unsigned long long)r->delta_s);
	uxt_buf_puts(b, "</meta>");
	if ((out & CTEV_O_TMS) && r->kind != CTEV_DUMP) {
		time_t t = (time_t)(r->time_ns / NS);
		struct tm tm;

		if (localtime_r(&t, &tm))
			uxt_buf_printf(b, "<when><hour>%d</hour><min>%02d</min>"
				       "<sec>%02d</sec><wday>%d</wday><day>%d</day>"
				       "<month>%d</month><year>%d</year></when>",
				       tm.tm_hour, tm.tm_min, tm.tm_sec,
				       tm.tm_wday + 1, tm.tm_mday, tm.tm_mon + 1,
				       1900 + tm.tm_year);
	}
	uxt_buf_puts(b, "</flow>");
}

/* The log */

struct ctev_writer {
	char path[4200], old[4200], lock[4200];
	int fd;
	int lock_fd;
	ino_t ino;
	uint32_t portid;
	const struct uxt_ct_settings *set;
	int error;
	bool started;
};

/* The sequence number of the last whole record of the open file fd, or 0. */
static uint64_t last_seq_fd(int fd)
{
	struct ctev_rec r;
	struct stat st;

	if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(r)) {
		off_t off = st.st_size - st.st_size % (off_t)sizeof(r) -
			    (off_t)sizeof(r);

		if (pread(fd, &r, sizeof(r), off) == (ssize_t)sizeof(r) &&
		    r.magic == CTEV_MAGIC && r.size == sizeof(r))
			return r.seq;
	}
	return 0;
}

/* The sequence number of the last record of the file at path, or 0. */
static uint64_t last_seq(const char *path)
{
	uint64_t seq;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	seq = last_seq_fd(fd);
	close(fd);
	return seq;
}

static int writer_reopen(struct ctev_writer *w)
{
	struct stat st;

	if (w->fd >= 0)
		close(w->fd);
	/* read too: the last record's sequence number */
	w->fd = open(w->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (w->fd < 0)
		return -1;
	if (fstat(w->fd, &st) != 0)
		return -1;
	w->ino = st.st_ino;
	return 0;
}

struct ctev_writer *ctev_writer_open(const char *dir, uint32_t portid)
{
	struct ctev_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->fd = -1;
	w->lock_fd = -1;
	w->portid = portid;
	snprintf(w->path, sizeof(w->path), "%s/%s", dir, CTEV_LOG_NAME);
	snprintf(w->old, sizeof(w->old), "%s/%s", dir, CTEV_LOG_OLD);
	snprintf(w->lock, sizeof(w->lock), "%s/%s", dir, CTEV_LOG_LOCK);
	/* the files are opened by the first event */
	return w;
}

static int writer_start(struct ctev_writer *w)
{
	if (w->started)
		return w->fd >= 0 && w->lock_fd >= 0 ? 0 : -1;
	w->started = true;
	w->lock_fd = open(w->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (w->lock_fd < 0 || writer_reopen(w) != 0) {
		w->error = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

void ctev_writer_set_settings(struct ctev_writer *w,
			      const struct uxt_ct_settings *set)
{
	if (w)
		w->set = set;
}

void ctev_writer_set_portid(struct ctev_writer *w, uint32_t portid)
{
	if (w)
		w->portid = portid;
}

void ctev_writer_close(struct ctev_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	free(w);
}

int ctev_writer_error(const struct ctev_writer *w)
{
	return w ? w->error : 0;
}

static void writer_fail(struct ctev_writer *w, int err)
{
	if (!w->error)
		w->error = err ? err : EIO;
}

/*
 * Appends r under the log's lock.  Several processes write at once (the
 * live daemon's packets, a conntrack -D, a uxt inject), so nothing about
 * the file is kept between two records: under the lock, the file at path
 * (another writer may have rotated it), its size and the last sequence
 * number are read afresh.
 */
static void writer_append(struct ctev_writer *w, struct ctev_rec *r)
{
	struct stat st;
	uint64_t size, seq;
	size_t off = 0;

	if (writer_start(w) != 0)
		return;
	while (flock(w->lock_fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			writer_fail(w, errno);
			return;
		}
	if ((stat(w->path, &st) != 0 || st.st_ino != w->ino) &&
	    writer_reopen(w) != 0) {
		writer_fail(w, errno);
		goto out;
	}
	if (fstat(w->fd, &st) != 0) {
		writer_fail(w, errno);
		goto out;
	}
	size = (uint64_t)st.st_size;
	if (size % sizeof(*r) != 0) {
		/* a record cut short (disk full): drop it */
		size -= size % sizeof(*r);
		if (ftruncate(w->fd, (off_t)size) != 0) {
			writer_fail(w, errno);
			goto out;
		}
	}
	seq = size ? last_seq_fd(w->fd) : last_seq(w->old);
	if (size + sizeof(*r) > CTEV_LOG_MAX) {
		if (rename(w->path, w->old) != 0 || writer_reopen(w) != 0) {
			writer_fail(w, errno);
			goto out;
		}
	}
	r->seq = seq + 1;
	while (off < sizeof(*r)) {
		ssize_t n = write(w->fd, (const char *)r + off, sizeof(*r) - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			writer_fail(w, n < 0 ? errno : EIO);
			goto out;
		}
		off += (size_t)n;
	}
out:
	flock(w->lock_fd, LOCK_UN);
}

void ctev_writer_event(void *ctx, enum uxt_ct_event_kind kind,
		       uint32_t event_mask, const struct uxt_ct *ct,
		       uint64_t now_ns)
{
	struct ctev_writer *w = ctx;
	struct ctev_rec r;

	if (!w)
		return;
	ctev_from_event(&r, kind, event_mask, ct, w->set, now_ns, w->portid);
	writer_append(w, &r);
}

struct ctev_reader {
	char path[4200];
	int fd;
	ino_t ino;
	off_t off;
	uint64_t expect;	/* the next sequence number, 0: unknown */
};

static int reader_open_file(struct ctev_reader *rd, bool at_end)
{
	struct stat st;
	int fd = open(rd->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	if (rd->fd >= 0)
		close(rd->fd);
	rd->fd = fd;
	rd->ino = st.st_ino;
	rd->off = 0;
	if (at_end) {
		rd->off = st.st_size - st.st_size % (off_t)sizeof(struct ctev_rec);
		rd->expect = last_seq(rd->path);
		if (rd->expect)
			rd->expect++;
	}
	return 0;
}

struct ctev_reader *ctev_reader_open(const char *dir)
{
	struct ctev_reader *rd = calloc(1, sizeof(*rd));
	char old[4200];

	if (!rd)
		return NULL;
	rd->fd = -1;
	snprintf(rd->path, sizeof(rd->path), "%s/%s", dir, CTEV_LOG_NAME);
	if (reader_open_file(rd, true) != 0) {
		/* no log yet: everything written from now on is new */
		snprintf(old, sizeof(old), "%s/%s", dir, CTEV_LOG_OLD);
		rd->expect = last_seq(old);
		if (rd->expect)
			rd->expect++;
	}
	return rd;
}

int ctev_reader_next(struct ctev_reader *rd, struct ctev_rec *r, bool *lost)
{
	*lost = false;
	for (int tries = 0; tries < 2; tries++) {
		struct stat st;

		if (rd->fd < 0 && reader_open_file(rd, false) != 0)
			return 0;
		for (;;) {
			ssize_t n = pread(rd->fd, r, sizeof(*r), rd->off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n != (ssize_t)sizeof(*r))
				break;
			rd->off += (off_t)sizeof(*r);
			if (r->magic != CTEV_MAGIC || r->size != sizeof(*r))
				continue;	/* not ours: skip it */
			if (rd->expect && r->seq > rd->expect)
				*lost = true;
			if (rd->expect && r->seq < rd->expect)
				continue;	/* seen already */
			rd->expect = r->seq + 1;
			return 1;
		}
		/* at the end of this file: has a new one replaced it? */
		if (stat(rd->path, &st) != 0 || st.st_ino == rd->ino)
			return 0;
		close(rd->fd);
		rd->fd = -1;
	}
	return 0;
}

void ctev_reader_close(struct ctev_reader *rd)
{
	if (!rd)
		return;
	if (rd->fd >= 0)
		close(rd->fd);
	free(rd);
}
