/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The connection tracking table of a namespace and the packet path of
 * nf_conntrack (nf_conntrack_core.c, nf_conntrack_proto.c,
 * nf_conntrack_ecache.c, nf_conntrack_standalone.c): lookup, creation,
 * confirmation, events, expiry, the table limit, settings and the saved
 * form.  The protocol trackers are tcp.c, udp.c, icmp.c and generic.c.
 *
 * Design.  An entry is a struct ct_entry around the public struct uxt_ct.
 * A confirmed entry is in
 *   - the hash: one node per direction, keyed by that direction's tuple
 *     and zone id, in nf_conntrack_buckets buckets (newest first, as
 *     hlist_add_head), so that early_drop() scans what the kernel's scans;
 *   - the list of confirmed entries in order of insertion (walks, saves);
 *   - a binary heap ordered by expiry time (then insertion), so that
 *     uxt_ct_table_expire() takes the entries whose time is up in order;
 *   - the bysource index for NAT (original source address, port, proto,
 *     zone).
 * Unconfirmed entries are on a list of their own, killed ones on the
 * "dead" list; both are freed by uxt_ct_table_release_pending() (see
 * ct.h on why packets hold no counted references).
 *
 * Nothing here is global: the table is the namespace's.
 */
#include "ct.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ct_track.h"
#include "engine.h"
#include "logfmt.h"

/* The reference kernel: CONFIG_HZ, and what a fresh netns shows */
#define CT_HZ 250u
#define CT_TIMEOUT_MAX (0x7FFFFFFFu / CT_HZ)	/* proc_dointvec_jiffies */
#define CT_DEFAULT_MAX 262144u
#define CT_DEFAULT_BUCKETS 262144u
#define CT_EVICTION_RANGE 8
#define CT_REPEAT_MAX 8
/* net_ratelimit(): 10 messages per 5 s */
#define CT_RATELIMIT_BURST 10
#define CT_RATELIMIT_NS (5 * CT_NSEC)

enum { ON_UNCONFIRMED = 0, ON_CONFIRMED, ON_DEAD };

struct ct_entry;

struct ct_hnode {
	struct ct_hnode *next;
	struct ct_entry *e;
	uint8_t dir;
	bool hashed;
};

struct ct_entry {
	struct uxt_ct ct;		/* first: the public part */
	struct uxt_ct_table *t;
	struct ct_hnode node[2];
	struct ct_entry *prev, *next;	/* the list it is on */
	struct ct_entry *src_next;	/* bysource chain */
	uint32_t heap_idx;		/* UINT32_MAX: not in the heap */
	uint32_t holds;			/* live packets holding it */
	uint64_t seq;			/* creation order */
	uint16_t ctmask;		/* the events it reports */
	uint8_t on;			/* ON_* */
	bool in_src;
};

struct ct_list {
	struct ct_entry *head, *tail;
};

struct uxt_ct_table {
	struct uxt_ct_settings set;
	struct uxt_ct_stats stats;
	struct ct_hnode **buckets;
	uint32_t nbuckets;
	struct ct_entry **src;		/* bysource index */
	uint32_t nsrc, src_count;
	struct ct_list confirmed, unconfirmed, dead;
	unsigned int count;		/* confirmed */
	unsigned int live;		/* allocated (cnet->count) */
	struct ct_entry **heap;
	uint32_t heap_len, heap_cap;
	uint64_t seq;
	uint32_t next_id;
	uint64_t clock_ns;
	bool clock_wall;
	bool gc_early_drop;
	uint64_t rl_start;		/* net_ratelimit window */
	unsigned int rl_count;
	uxt_ct_event_fn ev_fn;
	void *ev_ctx;
};

static struct ct_entry *E(const struct uxt_ct *ct)
{
	return (struct ct_entry *)(void *)ct;
}

static void *ct_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p) {
		fputs("uxtables: out of memory\n", stderr);
		exit(4);
	}
	return p;
}

/* Settings */

void uxt_ct_settings_default(struct uxt_ct_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->tcp_timeouts[UXT_TCP_SYN_SENT] = 120;
	s->tcp_timeouts[UXT_TCP_SYN_RECV] = 60;
	s->tcp_timeouts[UXT_TCP_ESTABLISHED] = 432000;
	s->tcp_timeouts[UXT_TCP_FIN_WAIT] = 120;
	s->tcp_timeouts[UXT_TCP_CLOSE_WAIT] = 60;
	s->tcp_timeouts[UXT_TCP_LAST_ACK] = 30;
	s->tcp_timeouts[UXT_TCP_TIME_WAIT] = 120;
	s->tcp_timeouts[UXT_TCP_CLOSE] = 10;
	/* SYN_SENT2 has no sysctl of its own: syn_sent sets both */
	s->tcp_timeouts[UXT_TCP_SYN_SENT2] = 120;
	s->tcp_timeouts[UXT_TCP_RETRANS] = 300;
	s->tcp_timeouts[UXT_TCP_UNACK] = 300;
	s->udp_timeout = 30;
	s->udp_timeout_stream = 120;
	s->icmp_timeout = 30;
	s->generic_timeout = 600;
	s->tcp_loose = true;
	s->tcp_max_retrans = 3;
	s->checksum = true;
	s->events = 2;
	s->max = CT_DEFAULT_MAX;
	s->buckets = CT_DEFAULT_BUCKETS;
	s->expect_max = 4096;
	s->icmpv6_timeout = 30;
	s->gre_timeout = 30;
	s->gre_timeout_stream = 180;
	s->sctp_timeouts[UXT_CT_SCTP_CLOSED] = 10;
	s->sctp_timeouts[UXT_CT_SCTP_COOKIE_ECHOED] = 3;
	s->sctp_timeouts[UXT_CT_SCTP_COOKIE_WAIT] = 3;
	s->sctp_timeouts[UXT_CT_SCTP_ESTABLISHED] = 210;
	s->sctp_timeouts[UXT_CT_SCTP_HEARTBEAT_SENT] = 30;
	s->sctp_timeouts[UXT_CT_SCTP_SHUTDOWN_ACK_SENT] = 3;
	s->sctp_timeouts[UXT_CT_SCTP_SHUTDOWN_RECD] = 3;
	s->sctp_timeouts[UXT_CT_SCTP_SHUTDOWN_SENT] = 3;
	s->frag6_high_thresh = 4194304;
	s->frag6_low_thresh = 3145728;
	s->frag6_timeout = 60;
}

/* How a sysctl's value is kept and checked. */
enum sysctl_kind {
	SK_BOOL,	/* proc_dou8vec_minmax 0..1 */
	SK_U8,		/* 0..255 */
	SK_EVENTS,	/* 0..2 */
	SK_SECS,	/* proc_dointvec_jiffies: 0..INT_MAX/HZ here */
	SK_RO32,	/* read-only */
	SK_COUNT,	/* read-only, the table's */
	SK_FRAG6_HIGH,	/* proc_doulongvec_minmax, >= low */
	SK_FRAG6_LOW,	/* <= high */
};

struct sysctl_def {
	const char *name;
	uint8_t kind;
	size_t off;
};

#define SO(f) offsetof(struct uxt_ct_settings, f)

static const struct sysctl_def sysctl_defs[] = {
	{"nf_conntrack_acct", SK_BOOL, SO(acct)},
	{"nf_conntrack_buckets", SK_RO32, SO(buckets)},
	{"nf_conntrack_checksum", SK_BOOL, SO(checksum)},
	{"nf_conntrack_count", SK_COUNT, 0},
	{"nf_conntrack_events", SK_EVENTS, SO(events)},
	{"nf_conntrack_expect_max", SK_RO32, SO(expect_max)},
	{"nf_conntrack_frag6_high_thresh", SK_FRAG6_HIGH, SO(frag6_high_thresh)},
	{"nf_conntrack_frag6_low_thresh", SK_FRAG6_LOW, SO(frag6_low_thresh)},
	{"nf_conntrack_frag6_timeout", SK_SECS, SO(frag6_timeout)},
	{"nf_conntrack_generic_timeout", SK_SECS, SO(generic_timeout)},
	{"nf_conntrack_gre_timeout", SK_SECS, SO(gre_timeout)},
	{"nf_conntrack_gre_timeout_stream", SK_SECS, SO(gre_timeout_stream)},
	{"nf_conntrack_icmp_timeout", SK_SECS, SO(icmp_timeout)},
	{"nf_conntrack_icmpv6_timeout", SK_SECS, SO(icmpv6_timeout)},
	{"nf_conntrack_log_invalid", SK_U8, SO(log_invalid)},
	{"nf_conntrack_max", SK_RO32, SO(max)},
	{"nf_conntrack_sctp_timeout_closed", SK_SECS,
	 SO(sctp_timeouts[UXT_CT_SCTP_CLOSED])},
	{"nf_conntrack_sctp_timeout_cookie_echoed", SK_SECS,
	 SO(sctp_timeouts[UXT_CT_SCTP_COOKIE_ECHOED])},
	{"nf_conntrack_sctp_timeout_cookie_wait", SK_SECS,
	 SO(sctp_timeouts[UXT_CT_SCTP_COOKIE_WAIT])},
	{"nf_conntrack_sctp_timeout_established", SK_SECS,
	 SO(sctp_timeouts[UXT_CT_SCTP_ESTABLISHED])},
	{"nf_conntrack_sctp_timeout_heartbeat_sent", SK_SECS,
	 SO(sctp_timeouts[UXT_CT_SCTP_HEARTBEAT_SENT])},
	{"nf_conntrack_sctp_timeout_shutdown_ack_sent", SK_SECS,
	 SO(sctp_timeouts[UXT_CT_SCTP_SHUTDOWN_ACK_SENT])},
	{"nf_conntrack_sctp_timeout_shutdown_recd", SK_SECS,
	 SO(sctp_timeouts[UXT_CT_SCTP_SHUTDOWN_RECD])},
	{"nf_conntrack_sctp_timeout_shutdown_sent", SK_SECS,
	 SO(sctp_timeouts[UXT_CT_SCTP_SHUTDOWN_SENT])},
	{"nf_conntrack_tcp_be_liberal", SK_BOOL, SO(tcp_be_liberal)},
	{"nf_conntrack_tcp_ignore_invalid_rst", SK_BOOL, SO(tcp_ignore_invalid_rst)},
	{"nf_conntrack_tcp_loose", SK_BOOL, SO(tcp_loose)},
	{"nf_conntrack_tcp_max_retrans", SK_U8, SO(tcp_max_retrans)},
	{"nf_conntrack_tcp_timeout_close", SK_SECS,
	 SO(tcp_timeouts[UXT_TCP_CLOSE])},
	{"nf_conntrack_tcp_timeout_close_wait", SK_SECS,
	 SO(tcp_timeouts[UXT_TCP_CLOSE_WAIT])},
	{"nf_conntrack_tcp_timeout_established", SK_SECS,
	 SO(tcp_timeouts[UXT_TCP_ESTABLISHED])},
	{"nf_conntrack_tcp_timeout_fin_wait", SK_SECS,
	 SO(tcp_timeouts[UXT_TCP_FIN_WAIT])},
	{"nf_conntrack_tcp_timeout_last_ack", SK_SECS,
	 SO(tcp_timeouts[UXT_TCP_LAST_ACK])},
	{"nf_conntrack_tcp_timeout_max_retrans", SK_SECS,
	 SO(tcp_timeouts[UXT_TCP_RETRANS])},
	{"nf_conntrack_tcp_timeout_syn_recv", SK_SECS,
	 SO(tcp_timeouts[UXT_TCP_SYN_RECV])},
	{"nf_conntrack_tcp_timeout_syn_sent", SK_SECS,
	 SO(tcp_timeouts[UXT_TCP_SYN_SENT])},
	{"nf_conntrack_tcp_timeout_time_wait", SK_SECS,
	 SO(tcp_timeouts[UXT_TCP_TIME_WAIT])},
	{"nf_conntrack_tcp_timeout_unacknowledged", SK_SECS,
	 SO(tcp_timeouts[UXT_TCP_UNACK])},
	{"nf_conntrack_timestamp", SK_BOOL, SO(timestamp)},
	{"nf_conntrack_udp_timeout", SK_SECS, SO(udp_timeout)},
	{"nf_conntrack_udp_timeout_stream", SK_SECS, SO(udp_timeout_stream)},
};

#define N_SYSCTLS (sizeof(sysctl_defs) / sizeof(sysctl_defs[0]))

const struct uxt_ct_sysctl uxt_ct_sysctls[] = {
	{"nf_conntrack_acct", true},
	{"nf_conntrack_buckets", false},
	{"nf_conntrack_checksum", true},
	{"nf_conntrack_count", false},
	{"nf_conntrack_events", true},
	{"nf_conntrack_expect_max", false},
	{"nf_conntrack_frag6_high_thresh", true},
	{"nf_conntrack_frag6_low_thresh", true},
	{"nf_conntrack_frag6_timeout", true},
	{"nf_conntrack_generic_timeout", true},
	{"nf_conntrack_gre_timeout", true},
	{"nf_conntrack_gre_timeout_stream", true},
	{"nf_conntrack_icmp_timeout", true},
	{"nf_conntrack_icmpv6_timeout", true},
	{"nf_conntrack_log_invalid", true},
	{"nf_conntrack_max", false},
	{"nf_conntrack_sctp_timeout_closed", true},
	{"nf_conntrack_sctp_timeout_cookie_echoed", true},
	{"nf_conntrack_sctp_timeout_cookie_wait", true},
	{"nf_conntrack_sctp_timeout_established", true},
	{"nf_conntrack_sctp_timeout_heartbeat_sent", true},
	{"nf_conntrack_sctp_timeout_shutdown_ack_sent", true},
	{"nf_conntrack_sctp_timeout_shutdown_recd", true},
	{"nf_conntrack_sctp_timeout_shutdown_sent", true},
	{"nf_conntrack_tcp_be_liberal", true},
	{"nf_conntrack_tcp_ignore_invalid_rst", true},
	{"nf_conntrack_tcp_loose", true},
	{"nf_conntrack_tcp_max_retrans", true},
	{"nf_conntrack_tcp_timeout_close", true},
	{"nf_conntrack_tcp_timeout_close_wait", true},
	{"nf_conntrack_tcp_timeout_established", true},
	{"nf_conntrack_tcp_timeout_fin_wait", true},
	{"nf_conntrack_tcp_timeout_last_ack", true},
	{"nf_conntrack_tcp_timeout_max_retrans", true},
	{"nf_conntrack_tcp_timeout_syn_recv", true},
	{"nf_conntrack_tcp_timeout_syn_sent", true},
	{"nf_conntrack_tcp_timeout_time_wait", true},
	{"nf_conntrack_tcp_timeout_unacknowledged", true},
	{"nf_conntrack_timestamp", true},
	{"nf_conntrack_udp_timeout", true},
	{"nf_conntrack_udp_timeout_stream", true},
};

const unsigned int uxt_ct_nsysctls = N_SYSCTLS;

_Static_assert(sizeof(uxt_ct_sysctls) / sizeof(uxt_ct_sysctls[0]) == N_SYSCTLS,
	       "one uxt_ct_sysctls entry per sysctl");

static const struct sysctl_def *sysctl_find(const char *name)
{
	/* "net.netfilter.X" and "X" both name X */
	if (strncmp(name, "net.netfilter.", 14) == 0)
		name += 14;
	for (size_t i = 0; i < N_SYSCTLS; i++)
		if (strcmp(sysctl_defs[i].name, name) == 0)
			return &sysctl_defs[i];
	return NULL;
}

static uint64_t sysctl_read(const struct uxt_ct_settings *s,
			    const struct sysctl_def *d)
{
	const char *p = (const char *)s + d->off;

	switch (d->kind) {
	case SK_BOOL:
		return *(const bool *)(const void *)p;
	case SK_U8:
		if (d->off == SO(tcp_max_retrans))
			return *(const uint32_t *)(const void *)p;
		return *(const uint8_t *)(const void *)p;
	case SK_EVENTS:
		return *(const uint8_t *)(const void *)p;
	case SK_FRAG6_HIGH:
	case SK_FRAG6_LOW:
		return *(const uint64_t *)(const void *)p;
	case SK_COUNT:
		return 0;
	default:
		return *(const uint32_t *)(const void *)p;
	}
}

int uxt_ct_sysctl_get(const struct uxt_ct_settings *s, const char *name,
		      uint64_t *value, struct uxt_err *err)
{
	const struct sysctl_def *d = sysctl_find(name);

	if (!d)
		return uxt_error(err, UXT_OTHER_PROBLEM,
				 "sysctl: cannot stat /proc/sys/net/netfilter/%s: No such file or directory",
				 name);
	*value = sysctl_read(s, d);
	return 0;
}

int uxt_ct_sysctl_set(struct uxt_ct_settings *s, const char *name,
		      uint64_t value, struct uxt_err *err)
{
	const struct sysctl_def *d = sysctl_find(name);
	char *p;
	uint64_t limit;

	if (!d)
		return uxt_error(err, UXT_OTHER_PROBLEM,
				 "sysctl: cannot stat /proc/sys/net/netfilter/%s: No such file or directory",
				 name);
	p = (char *)s + d->off;
	switch (d->kind) {
	case SK_RO32:
	case SK_COUNT:
		return uxt_error(err, UXT_OTHER_PROBLEM,
				 "sysctl: permission denied on key \"net.netfilter.%s\"",
				 d->name);
	case SK_BOOL:
		limit = 1;
		break;
	case SK_EVENTS:
		limit = 2;
		break;
	case SK_U8:
		limit = 255;
		break;
	case SK_SECS:
		limit = CT_TIMEOUT_MAX;
		break;
	case SK_FRAG6_HIGH:
		if (value < s->frag6_low_thresh)
			goto invalid;
		s->frag6_high_thresh = value;
		return 0;
	case SK_FRAG6_LOW:
		if (value > s->frag6_high_thresh)
			goto invalid;
		s->frag6_low_thresh = value;
		return 0;
	default:
		goto invalid;
	}
	if (value > limit)
		goto invalid;
	switch (d->kind) {
	case SK_BOOL:
		*(bool *)(void *)p = value != 0;
		break;
	case SK_EVENTS:
		*(uint8_t *)(void *)p = (uint8_t)value;
		break;
	case SK_U8:
		if (d->off == SO(tcp_max_retrans))
			*(uint32_t *)(void *)p = (uint32_t)value;
		else
			*(uint8_t *)(void *)p = (uint8_t)value;
		break;
	default:
		*(uint32_t *)(void *)p = (uint32_t)value;
		/* one sysctl sets SYN_SENT and SYN_SENT2 (tcp_timeouts[]) */
		if (d->off == SO(tcp_timeouts[UXT_TCP_SYN_SENT]))
			s->tcp_timeouts[UXT_TCP_SYN_SENT2] = (uint32_t)value;
		break;
	}
	return 0;
invalid:
	return uxt_error(err, UXT_OTHER_PROBLEM,
			 "sysctl: setting key \"net.netfilter.%s\": Invalid argument",
			 d->name);
}

/* Lists */

static void list_add_tail(struct ct_list *l, struct ct_entry *e)
{
	e->prev = l->tail;
	e->next = NULL;
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
}

static void list_del(struct ct_list *l, struct ct_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

/* Hashing */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint32_t tuple_hash(const struct uxt_ct_tuple *tp, uint16_t zone)
{
	uint64_t h = mix64(((uint64_t)tp->src << 32 | tp->dst) ^
			   0x5555aaaa3c3c6996ull);

	h = mix64(h ^ ((uint64_t)tp->sport << 48 | (uint64_t)tp->dport << 32 |
		       (uint64_t)tp->proto << 16 | zone));
	return (uint32_t)(h >> 32);
}

static uint32_t bucket_of(const struct uxt_ct_table *t, uint32_t hash)
{
	return (uint32_t)(((uint64_t)hash * t->nbuckets) >> 32);
}

static bool tuple_equal(const struct uxt_ct_tuple *a, const struct uxt_ct_tuple *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport &&
	       a->dport == b->dport && a->proto == b->proto;
}

static uint16_t zone_id(uint16_t zone, uint8_t zone_dir, int dir)
{
	if ((dir == UXT_CT_DIR_ORIGINAL && zone_dir == UXT_CT_ZONE_DIR_REPL_ONLY) ||
	    (dir == UXT_CT_DIR_REPLY && zone_dir == UXT_CT_ZONE_DIR_ORIG_ONLY))
		return 0;
	return zone;
}

/* Allocates the buckets, or rebuilds them when nf_conntrack_buckets
 * changed (it is read-only; a test may set it). */
static void ensure_buckets(struct uxt_ct_table *t)
{
	uint32_t want = t->set.buckets ? t->set.buckets : 1;

	if (t->buckets && t->nbuckets == want)
		return;
	free(t->buckets);
	t->buckets = ct_xcalloc(want, sizeof(*t->buckets));
	t->nbuckets = want;
	/* oldest first, so that the newest ends up at each chain's head */
	for (struct ct_entry *e = t->confirmed.head; e; e = e->next)
		for (int d = 0; d < 2; d++) {
			struct ct_hnode *n = &e->node[d];
			uint32_t b;

			if (!n->hashed)
				continue;
			b = bucket_of(t, tuple_hash(&e->ct.tuple[d],
						    uxt_ct_zone_id(&e->ct, (enum uxt_ct_dir)d)));
			n->next = t->buckets[b];
			t->buckets[b] = n;
		}
}

static void hash_insert(struct uxt_ct_table *t, struct ct_entry *e)
{
	ensure_buckets(t);
	for (int d = 0; d < 2; d++) {
		struct ct_hnode *n = &e->node[d];
		uint32_t b = bucket_of(t, tuple_hash(&e->ct.tuple[d],
						     uxt_ct_zone_id(&e->ct, (enum uxt_ct_dir)d)));

		n->e = e;
		n->dir = (uint8_t)d;
		n->next = t->buckets[b];
		t->buckets[b] = n;
		n->hashed = true;
	}
}

static void hash_remove(struct uxt_ct_table *t, struct ct_entry *e)
{
	for (int d = 0; d < 2; d++) {
		struct ct_hnode *n = &e->node[d], **pp;
		uint32_t b;

		if (!n->hashed)
			continue;
		b = bucket_of(t, tuple_hash(&e->ct.tuple[d],
					    uxt_ct_zone_id(&e->ct, (enum uxt_ct_dir)d)));
		for (pp = &t->buckets[b]; *pp; pp = &(*pp)->next)
			if (*pp == n) {
				*pp = n->next;
				break;
			}
		n->next = NULL;
		n->hashed = false;
	}
}

/* The bysource index (original source address, port, proto, zone) */

static uint32_t src_hash(const struct uxt_ct_tuple *tp, uint16_t zone)
{
	return (uint32_t)(mix64(((uint64_t)tp->src << 32 | (uint64_t)tp->sport << 16 |
				 (uint64_t)tp->proto << 8) ^ (uint64_t)zone << 40) >> 32);
}

static void src_grow(struct uxt_ct_table *t)
{
	uint32_t n = t->nsrc ? t->nsrc * 2 : 1024;
	struct ct_entry **nb = ct_xcalloc(n, sizeof(*nb));

	for (uint32_t i = 0; i < t->nsrc; i++) {
		struct ct_entry *e = t->src[i], *next;

		for (; e; e = next) {
			uint32_t b = src_hash(&e->ct.tuple[0], e->ct.zone) & (n - 1);

			next = e->src_next;
			e->src_next = nb[b];
			nb[b] = e;
		}
	}
	free(t->src);
	t->src = nb;
	t->nsrc = n;
}

static void src_insert(struct uxt_ct_table *t, struct ct_entry *e)
{
	uint32_t b;

	if (t->src_count + 1 > t->nsrc)
		src_grow(t);
	b = src_hash(&e->ct.tuple[0], e->ct.zone) & (t->nsrc - 1);
	e->src_next = t->src[b];
	t->src[b] = e;
	e->in_src = true;
	t->src_count++;
}

static void src_remove(struct uxt_ct_table *t, struct ct_entry *e)
{
	struct ct_entry **pp;
	uint32_t b;

	if (!e->in_src)
		return;
	b = src_hash(&e->ct.tuple[0], e->ct.zone) & (t->nsrc - 1);
	for (pp = &t->src[b]; *pp; pp = &(*pp)->src_next)
		if (*pp == e) {
			*pp = e->src_next;
			break;
		}
	e->src_next = NULL;
	e->in_src = false;
	t->src_count--;
}

/* The expiry heap: earliest timeout first, then creation order */

static bool heap_less(const struct ct_entry *a, const struct ct_entry *b)
{
	if (a->ct.timeout_ns != b->ct.timeout_ns)
		return a->ct.timeout_ns < b->ct.timeout_ns;
	return a->seq < b->seq;
}

static void heap_set(struct uxt_ct_table *t, uint32_t i, struct ct_entry *e)
{
	t->heap[i] = e;
	e->heap_idx = i;
}

static void heap_up(struct uxt_ct_table *t, uint32_t i)
{
	struct ct_entry *e = t->heap[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (!heap_less(e, t->heap[p]))
			break;
		heap_set(t, i, t->heap[p]);
		i = p;
	}
	heap_set(t, i, e);
}

static void heap_down(struct uxt_ct_table *t, uint32_t i)
{
	struct ct_entry *e = t->heap[i];

	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		const struct ct_entry *best = e;

		if (l < t->heap_len && heap_less(t->heap[l], best)) {
			m = l;
			best = t->heap[l];
		}
		if (r < t->heap_len && heap_less(t->heap[r], best))
			m = r;
		if (m == i)
			break;
		heap_set(t, i, t->heap[m]);
		i = m;
	}
	heap_set(t, i, e);
}

static void heap_push(struct uxt_ct_table *t, struct ct_entry *e)
{
	if (t->heap_len == t->heap_cap) {
		uint32_t n = t->heap_cap ? t->heap_cap * 2 : 64;
		struct ct_entry **h = realloc(t->heap, n * sizeof(*h));

		if (!h) {
			fputs("uxtables: out of memory\n", stderr);
			exit(4);
		}
		t->heap = h;
		t->heap_cap = n;
	}
	heap_set(t, t->heap_len++, e);
	heap_up(t, e->heap_idx);
}

static void heap_remove(struct uxt_ct_table *t, struct ct_entry *e)
{
	uint32_t i = e->heap_idx;

	if (i == UINT32_MAX)
		return;
	e->heap_idx = UINT32_MAX;
	t->heap_len--;
	if (i == t->heap_len)
		return;
	{
		struct ct_entry *moved = t->heap[t->heap_len];

		heap_set(t, i, moved);
		heap_up(t, i);
		heap_down(t, moved->heap_idx);
	}
}

void ct_set_timeout(struct uxt_ct_table *t, struct uxt_ct *ct, uint64_t abs_ns)
{
	struct ct_entry *e = E(ct);

	if (ct->timeout_ns == abs_ns)
		return;
	ct->timeout_ns = abs_ns;
	if (e->heap_idx != UINT32_MAX) {
		heap_up(t, e->heap_idx);
		heap_down(t, e->heap_idx);
	}
}

/* The table */

struct uxt_ct_table *uxt_ct_table_new(void)
{
	struct uxt_ct_table *t = ct_xcalloc(1, sizeof(*t));

	uxt_ct_settings_default(&t->set);
	return t;
}

static void free_list(struct ct_list *l)
{
	struct ct_entry *e = l->head, *next;

	for (; e; e = next) {
		next = e->next;
		free(e);
	}
	l->head = l->tail = NULL;
}

static void table_clear(struct uxt_ct_table *t)
{
	free_list(&t->confirmed);
	free_list(&t->unconfirmed);
	free_list(&t->dead);
	free(t->buckets);
	free(t->src);
	free(t->heap);
	t->buckets = NULL;
	t->src = NULL;
	t->heap = NULL;
	t->nbuckets = t->nsrc = t->src_count = 0;
	t->heap_len = t->heap_cap = 0;
	t->count = t->live = 0;
}

void uxt_ct_table_free(struct uxt_ct_table *t)
{
	if (!t)
		return;
	table_clear(t);
	free(t);
}

struct uxt_ct_settings *uxt_ct_table_settings(struct uxt_ct_table *t)
{
	return &t->set;
}

const struct uxt_ct_stats *uxt_ct_table_stats(const struct uxt_ct_table *t)
{
	return &t->stats;
}

unsigned int uxt_ct_table_count(const struct uxt_ct_table *t)
{
	return t->count;
}

int uxt_ct_table_sysctl_get(const struct uxt_ct_table *t, const char *name,
			    uint64_t *value, struct uxt_err *err)
{
	const struct sysctl_def *d = sysctl_find(name);

	if (d && d->kind == SK_COUNT) {
		*value = t->count;
		return 0;
	}
	return uxt_ct_sysctl_get(&t->set, name, value, err);
}

void uxt_ct_table_set_events(struct uxt_ct_table *t, uxt_ct_event_fn fn,
			     void *ctx)
{
	t->ev_fn = fn;
	t->ev_ctx = ctx;
}

int uxt_ct_table_walk(struct uxt_ct_table *t,
		      int (*fn)(struct uxt_ct *ct, void *arg), void *arg)
{
	struct ct_entry *e = t->confirmed.head, *next;
	int r;

	for (; e; e = next) {
		next = e->next;
		r = fn(&e->ct, arg);
		if (r)
			return r;
	}
	return 0;
}

/* Events */

enum uxt_ct_event_kind uxt_ct_event_kind_of(uint32_t mask)
{
	if (mask & (1u << UXT_IPCT_DESTROY))
		return UXT_CT_EVENT_DESTROY;
	if (mask & ((1u << UXT_IPCT_NEW) | (1u << UXT_IPCT_RELATED)))
		return UXT_CT_EVENT_NEW;
	return UXT_CT_EVENT_UPDATE;
}

/* __nf_conntrack_eventmask_report(): nothing unless one of the bits is
 * one the entry reports; then the whole mask */
static void report(struct uxt_ct_table *t, struct ct_entry *e, uint32_t mask)
{
	if (!mask || !(mask & e->ctmask) || !t->ev_fn)
		return;
	t->ev_fn(t->ev_ctx, uxt_ct_event_kind_of(mask), mask, &e->ct, t->clock_ns);
}

void ct_event_cache(struct uxt_ct *ct, enum uxt_ct_event ev)
{
	ct->pending_events |= 1u << ev;
}

void uxt_ct_event(struct uxt_ct *ct, enum uxt_ct_event ev)
{
	/* a template has no events */
	if (ct && !(ct->status & UXT_IPS_TEMPLATE))
		ct_event_cache(ct, ev);
}

/* nf_ct_deliver_cached_events() */
static void deliver_cached(struct uxt_ct_table *t, struct ct_entry *e)
{
	uint32_t mask;

	if (!e->ct.confirmed || (e->ct.status & UXT_IPS_DYING))
		return;
	mask = e->ct.pending_events;
	e->ct.pending_events = 0;
	report(t, e, mask);
}

/* Killing */

/* nf_ct_delete(): [DESTROY] for a confirmed entry, out of the table; the
 * entry itself stays until release_pending */
bool ct_kill(struct uxt_ct_table *t, struct uxt_ct *ct)
{
	struct ct_entry *e = E(ct);

	if (ct->status & UXT_IPS_DYING)
		return false;
	ct->status |= UXT_IPS_DYING;
	if (e->on != ON_CONFIRMED)
		return true;
	report(t, e, 1u << UXT_IPCT_DESTROY);
	hash_remove(t, e);
	heap_remove(t, e);
	src_remove(t, e);
	list_del(&t->confirmed, e);
	e->on = ON_DEAD;
	list_add_tail(&t->dead, e);
	t->count--;
	return true;
}

void uxt_ct_destroy(struct uxt_ct_table *t, struct uxt_ct *ct)
{
	ct_kill(t, ct);
}

void uxt_ct_set_timeout(struct uxt_ct_table *t, struct uxt_ct *ct,
			uint64_t abs_ns)
{
	ct_set_timeout(t, ct, abs_ns);
}

/* Frees the entries of l that no live packet holds. */
static void release_list(struct uxt_ct_table *t, struct ct_list *l)
{
	struct ct_entry *e = l->head, *next;

	for (; e; e = next) {
		next = e->next;
		if (e->holds)
			continue;
		list_del(l, e);
		free(e);
		if (t->live)
			t->live--;
	}
}

void uxt_ct_table_release_pending(struct uxt_ct_table *t)
{
	release_list(t, &t->unconfirmed);
	release_list(t, &t->dead);
}

/* Frees an unconfirmed entry now: the packet that made it was refused
 * before anything else could point at it. */
static void free_unconfirmed(struct uxt_ct_table *t, struct ct_entry *e)
{
	list_del(&t->unconfirmed, e);
	free(e);
	if (t->live)
		t->live--;
}

/* Time */

static void rebase_list(struct ct_list *l, uint64_t back)
{
	for (struct ct_entry *e = l->head; e; e = e->next) {
		e->ct.timeout_ns = e->ct.timeout_ns > back ?
				   e->ct.timeout_ns - back : 0;
		e->ct.start_ns = e->ct.start_ns > back ? e->ct.start_ns - back : 0;
	}
}

/* Moves every entry back by back ns.  A uniform shift keeps the order of
 * expiry, except among entries clamped at 0 (due anyway), whose ties the
 * heap breaks by creation: it is built again. */
static void rebase(struct uxt_ct_table *t, uint64_t back)
{
	rebase_list(&t->confirmed, back);
	rebase_list(&t->unconfirmed, back);
	for (uint32_t i = t->heap_len / 2; i-- > 0;)
		heap_down(t, i);
}

static void set_clock(struct uxt_ct_table *t, uint64_t now)
{
	if (now < t->clock_ns)
		rebase(t, t->clock_ns - now);
	t->clock_ns = now;
}

static bool can_early_drop(const struct ct_entry *e)
{
	if (!(e->ct.status & UXT_IPS_ASSURED))
		return true;
	return e->ct.tuple[0].proto == CT_IPPROTO_TCP &&
	       uxt_ct_tcp_can_early_drop(&e->ct);
}

void uxt_ct_table_expire(struct uxt_ct_table *t, uint64_t now_ns)
{
	set_clock(t, now_ns);
	/* bounded: each round removes one entry from the heap */
	while (t->heap_len > 0 && t->heap[0]->ct.timeout_ns <= now_ns)
		ct_kill(t, &t->heap[0]->ct);
	/* the GC worker after a failed early_drop: while the table is 95%
	 * full, what may be dropped early goes */
	if (t->gc_early_drop) {
		uint32_t max95 = t->set.max / 100u * 95u;
		struct ct_entry *e = t->confirmed.head, *next;

		t->gc_early_drop = false;
		for (; e && max95; e = next) {
			next = e->next;
			if (t->live < max95)
				break;
			if (can_early_drop(e))
				ct_kill(t, &e->ct);
		}
	}
}

uint64_t uxt_ct_table_clock(const struct uxt_ct_table *t)
{
	return t->clock_ns;
}

void uxt_ct_table_set_wall_clock(struct uxt_ct_table *t, bool wall)
{
	t->clock_wall = wall;
}

bool uxt_ct_table_wall_clock(const struct uxt_ct_table *t)
{
	return t->clock_wall;
}

uint64_t uxt_ct_table_display_now(const struct uxt_ct_table *t,
				  uint64_t wall_now_ns)
{
	if (t->clock_wall && wall_now_ns > t->clock_ns)
		return wall_now_ns;
	return t->clock_ns;
}

uint32_t uxt_ct_seconds_left(const struct uxt_ct *ct, uint64_t now_ns)
{
	uint64_t left;

	if (ct->timeout_ns <= now_ns)
		return 0;
	left = (ct->timeout_ns - now_ns) / CT_NSEC;
	return left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}

uint32_t uxt_ct_expire_secs(const struct uxt_ct *ct, uint64_t now_ns)
{
	/* nf_ct_expires() of an entry not yet in the table subtracts the
	 * jiffies counter from a relative timeout: 0 */
	if (!ct->confirmed || (ct->status & UXT_IPS_TEMPLATE))
		return 0;
	return uxt_ct_seconds_left(ct, now_ns);
}

const char *uxt_ct_state_name(const struct uxt_ct *ct)
{
	if (ct->tuple[0].proto != CT_IPPROTO_TCP)
		return NULL;
	return uxt_ct_tcp_state_name(ct->proto.tcp.state);
}

/* Services for the trackers */

const struct uxt_ct_settings *ct_settings(const struct ct_pkt *c)
{
	return &c->t->set;
}

uint64_t ct_expires_ns(const struct ct_pkt *c, const struct uxt_ct *ct)
{
	if (!ct->confirmed)
		return 0;
	return ct->timeout_ns > c->now ? ct->timeout_ns - c->now : 0;
}

/* __nf_ct_refresh_acct() */
static void refresh(const struct ct_pkt *c, struct uxt_ct *ct, uint8_t ctinfo,
		    uint32_t secs, bool acct)
{
	if (!(ct->status & UXT_IPS_FIXED_TIMEOUT))
		ct_set_timeout(c->t, ct, ct_time_add(c->now, (uint64_t)secs * CT_NSEC));
	if (acct) {
		enum uxt_ct_dir dir = uxt_ctinfo_dir(ctinfo);

		ct->packets[dir]++;
		ct->bytes[dir] += c->pkt->len;
	}
}

void ct_refresh_acct(const struct ct_pkt *c, struct uxt_ct *ct,
		     uint8_t ctinfo, uint32_t secs)
{
	refresh(c, ct, ctinfo, secs, true);
}

void ct_refresh(const struct ct_pkt *c, struct uxt_ct *ct, uint32_t secs)
{
	refresh(c, ct, 0, secs, false);
}

bool ct_kill_acct(const struct ct_pkt *c, struct uxt_ct *ct, uint8_t ctinfo)
{
	enum uxt_ct_dir dir = uxt_ctinfo_dir(ctinfo);

	ct->packets[dir]++;
	ct->bytes[dir] += c->pkt->len;
	return ct_kill(c->t, ct);
}

void ct_log_invalid(const struct ct_pkt *c, uint8_t proto, const char *fmt, ...)
{
	uint8_t want = c->t->set.log_invalid;
	char msg[256], prefix[300];
	struct uxt_buf b;
	const struct uxt_iface *in, *out;
	va_list ap;

	if (want == 0 || (want != proto && want != CT_IPPROTO_RAW))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(prefix, sizeof(prefix), "nf_ct_proto_%u: %s ", proto, msg);
	in = c->hook == UXT_HOOK_PRE_ROUTING ? c->pkt->indev : NULL;
	out = c->hook == UXT_HOOK_LOCAL_OUT ? c->pkt->outdev : NULL;
	uxt_buf_init(&b, -1);
	/* nf_log_packet() with the default loginfo: level 5, flags 0x0f */
	uxt_log_format(&b, c->pkt, c->hook, in, out, prefix, UXT_LOG_DEFAULT_MASK);
	uxt_ns_log(c->ns, 5, uxt_buf_str(&b));
	uxt_buf_free(&b);
}

bool ct_l4_csum_bad(const struct uxt_pkt *pkt, unsigned int dataoff,
		    unsigned int cover, uint8_t pseudo_proto)
{
	const struct uxt_iphdr *iph = uxt_iph(pkt);
	unsigned int len;
	uint32_t sum = 0;

	if (dataoff > pkt->len)
		return true;
	len = pkt->len - dataoff;
	if (cover == 0 || cover > len)
		cover = len;
	if (pseudo_proto == CT_IPPROTO_UDPLITE)
		/* nf_ip_checksum_partial() passes protocol and length to
		 * csum_tcpudp_nofold() swapped: UDP (17) as the length and
		 * the length, cut to a byte, as the protocol */
		sum = uxt_pseudo_sum(iph->saddr, iph->daddr,
				     (uint8_t)(len & 0xFF), CT_IPPROTO_UDP);
	else if (pseudo_proto)
		sum = uxt_pseudo_sum(iph->saddr, iph->daddr, pseudo_proto,
				     (uint16_t)len);
	return uxt_csum(pkt->data + dataoff, cover, sum) != 0;
}

/* Tuples */

static bool ports_tuple(const struct uxt_pkt *pkt, unsigned int dataoff,
			struct uxt_ct_tuple *tuple)
{
	const uint16_t *p = uxt_pkt_header(pkt, dataoff, 4);

	if (!p)
		return false;
	memcpy(&tuple->sport, p, 2);
	memcpy(&tuple->dport, (const unsigned char *)p + 2, 2);
	return true;
}

bool ct_get_tuple(const struct uxt_pkt *pkt, unsigned int nhoff,
		  struct uxt_ct_tuple *tuple, unsigned int *dataoff)
{
	const struct uxt_iphdr *iph = uxt_pkt_header(pkt, nhoff, sizeof(*iph));
	unsigned int off;

	memset(tuple, 0, sizeof(*tuple));
	/* ipv4_get_l4proto(): no later fragment, a header within */
	if (!iph || (ntohs(iph->frag_off) & UXT_IP_OFFSET))
		return false;
	off = nhoff + (unsigned int)(iph->ver_ihl & 0x0F) * 4u;
	if (off > pkt->len || off == 0)
		return false;
	*dataoff = off;
	tuple->src = iph->saddr;
	tuple->dst = iph->daddr;
	tuple->proto = iph->protocol;
	switch (iph->protocol) {
	case CT_IPPROTO_ICMP:
		return uxt_ct_icmp_tuple(pkt, off, tuple);
	case CT_IPPROTO_GRE:
		return uxt_ct_gre_tuple(pkt, off, tuple);
	case CT_IPPROTO_TCP:
	case CT_IPPROTO_UDP:
	case CT_IPPROTO_UDPLITE:
	case 132:	/* SCTP: its tuple has ports */
		return ports_tuple(pkt, off, tuple);
	default:
		return true;
	}
}

bool uxt_ct_invert_tuple(struct uxt_ct_tuple *inv, const struct uxt_ct_tuple *t)
{
	struct uxt_ct_tuple r;

	memset(&r, 0, sizeof(r));
	r.src = t->dst;
	r.dst = t->src;
	r.proto = t->proto;
	if (t->proto == CT_IPPROTO_ICMP) {
		if (!uxt_ct_icmp_invert(&r, t))
			return false;
	} else {
		r.sport = t->dport;
		r.dport = t->sport;
	}
	*inv = r;
	return true;
}

/* Lookup */

/*
 * ____nf_conntrack_find() over the buckets of the tuple's hash with the
 * zone id of each direction: a node matches when its tuple is the tuple
 * and its entry's zone id in that direction is the lookup zone's.
 * Entries whose time is up are removed on the way (nf_ct_gc_expired).
 */
static struct ct_entry *lookup(struct uxt_ct_table *t,
			       const struct uxt_ct_tuple *tuple, uint16_t zone,
			       uint8_t zone_dir, uint64_t now, bool gc,
			       enum uxt_ct_dir *dirp)
{
	uint16_t zid[2] = {zone_id(zone, zone_dir, UXT_CT_DIR_ORIGINAL),
			   zone_id(zone, zone_dir, UXT_CT_DIR_REPLY)};

	if (!t->buckets || t->count == 0)
		return NULL;
	for (int pass = 0; pass < 2; pass++) {
		uint32_t b;

		if (pass == 1 && zid[1] == zid[0])
			break;
		b = bucket_of(t, tuple_hash(tuple, zid[pass]));
restart:
		for (struct ct_hnode *n = t->buckets[b]; n; n = n->next) {
			struct ct_entry *e = n->e;

			if (gc && e->ct.timeout_ns <= now) {
				ct_kill(t, &e->ct);
				goto restart;
			}
			if (tuple_equal(&e->ct.tuple[n->dir], tuple) &&
			    uxt_ct_zone_id(&e->ct, (enum uxt_ct_dir)n->dir) == zid[n->dir]) {
				if (dirp)
					*dirp = (enum uxt_ct_dir)n->dir;
				return e;
			}
		}
	}
	return NULL;
}

struct uxt_ct *uxt_ct_find(struct uxt_ct_table *t,
			   const struct uxt_ct_tuple *tuple, uint16_t zone,
			   enum uxt_ct_dir *dir)
{
	struct ct_entry *e = lookup(t, tuple, zone, 0, 0, false, dir);

	return e ? &e->ct : NULL;
}

struct uxt_ct *ct_lookup(const struct ct_pkt *c, const struct uxt_ct_tuple *tuple,
			 uint16_t zone, uint8_t zone_dir, enum uxt_ct_dir *dir)
{
	struct ct_entry *e = lookup(c->t, tuple, zone, zone_dir, c->now, true, dir);

	return e ? &e->ct : NULL;
}

void ct_pkt_zone(const struct ct_pkt *c, const struct uxt_ct_template *tmpl,
		 uint16_t *zone, uint8_t *zone_dir)
{
	*zone = 0;
	*zone_dir = 0;
	if (!tmpl)
		return;
	/* nf_ct_zone_tmpl(): --zone mark takes the packet's mark now */
	*zone = tmpl->zone_from_mark ? (uint16_t)c->pkt->mark : tmpl->ct.zone;
	*zone_dir = tmpl->ct.zone_dir;
}

/* Creation */

static bool ratelimit_ok(struct uxt_ct_table *t, uint64_t now)
{
	if (t->rl_count == 0 || now - t->rl_start >= CT_RATELIMIT_NS ||
	    now < t->rl_start) {
		t->rl_start = now;
		t->rl_count = 0;
	}
	if (t->rl_count >= CT_RATELIMIT_BURST)
		return false;
	t->rl_count++;
	return true;
}

/* early_drop(): the non-ASSURED entries of the first of 8 buckets from the
 * new tuple's that has any go */
static bool early_drop(struct uxt_ct_table *t, uint32_t hash, uint64_t now)
{
	uint32_t b;

	if (!t->buckets)
		return false;
	b = bucket_of(t, hash);
	for (int i = 0; i < CT_EVICTION_RANGE; i++, b = (b + 1) % t->nbuckets) {
		unsigned int drops = 0;

restart:
		for (struct ct_hnode *n = t->buckets[b]; n; n = n->next) {
			struct ct_entry *e = n->e;

			if (e->ct.status & UXT_IPS_OFFLOAD)
				continue;
			if (e->ct.timeout_ns <= now) {
				ct_kill(t, &e->ct);
				goto restart;
			}
			if (e->ct.status & (UXT_IPS_ASSURED | UXT_IPS_DYING))
				continue;
			ct_kill(t, &e->ct);
			drops++;
			goto restart;
		}
		if (drops) {
			t->stats.early_drop += drops;
			return true;
		}
	}
	return false;
}

/* nf_ct_ecache_ext_add() at creation: which events the entry reports */
static uint16_t initial_ctmask(const struct uxt_ct_table *t,
			       const struct uxt_ct_template *tmpl)
{
	bool ecache = tmpl && (tmpl->ctmask || tmpl->expmask);

	switch (t->set.events) {
	case 0:
		return ecache ? tmpl->ctmask : 0;
	case 2:
		if (!t->ev_fn)
			return 0;
		/* fall through */
	default:
		return ecache ? tmpl->ctmask : 0xFFFF;
	}
}

#define CT_TABLE_FULL ((struct ct_entry *)(uintptr_t)1)

/* init_conntrack(): a new unconfirmed entry, NULL if the tuple has no
 * inverse, CT_TABLE_FULL if the table is full */
static struct ct_entry *ct_init(const struct ct_pkt *c,
				const struct uxt_ct_template *tmpl,
				const struct uxt_ct_tuple *tuple, uint16_t zone,
				uint8_t zone_dir)
{
	struct uxt_ct_table *t = c->t;
	struct uxt_ct_tuple repl;
	struct ct_entry *e;

	if (!uxt_ct_invert_tuple(&repl, tuple))
		return NULL;
	if (t->set.max && t->live + 1 > t->set.max) {
		uint32_t h = tuple_hash(tuple, zone_id(zone, zone_dir,
						       UXT_CT_DIR_ORIGINAL));

		ensure_buckets(t);
		if (!early_drop(t, h, c->now)) {
			t->gc_early_drop = true;
			if (ratelimit_ok(t, c->now))
				uxt_ns_log(c->ns, 4,
					   "nf_conntrack: table full, dropping packet");
			return CT_TABLE_FULL;
		}
	}
	e = ct_xcalloc(1, sizeof(*e));
	e->t = t;
	e->heap_idx = UINT32_MAX;
	e->seq = ++t->seq;
	e->ct.tuple[UXT_CT_DIR_ORIGINAL] = *tuple;
	e->ct.tuple[UXT_CT_DIR_REPLY] = repl;
	e->ct.zone = zone;
	e->ct.zone_dir = zone ? zone_dir : 0;
	e->ct.acct = t->set.acct;
	e->ct.tstamp = t->set.timestamp;
	e->ct.start_ns = c->now;
	e->ctmask = initial_ctmask(t, tmpl);
	e->on = ON_UNCONFIRMED;
	list_add_tail(&t->unconfirmed, e);
	t->live++;
	return e;
}

/* nf_conntrack_handle_packet() */
static int handle_packet(const struct ct_pkt *c, struct uxt_ct *ct,
			 uint8_t ctinfo)
{
	switch (ct->tuple[0].proto) {
	case CT_IPPROTO_TCP:
		return uxt_ct_tcp_packet(c, ct, ctinfo);
	case CT_IPPROTO_UDP:
		return uxt_ct_udp_packet(c, ct, ctinfo);
	case CT_IPPROTO_ICMP:
		return uxt_ct_icmp_packet(c, ct, ctinfo);
	case CT_IPPROTO_UDPLITE:
		return uxt_ct_udplite_packet(c, ct, ctinfo);
	case CT_IPPROTO_GRE:
		return uxt_ct_gre_packet(c, ct, ctinfo);
	default:
		return uxt_ct_generic_packet(c, ct, ctinfo);
	}
}

static void pkt_clear(struct uxt_pkt *pkt)
{
	pkt->ct = NULL;
	pkt->ctinfo = 0;
}

unsigned int uxt_ct_in(struct uxt_ns *ns, struct uxt_ct_table *t,
		       unsigned int hook, struct uxt_pkt *pkt)
{
	struct ct_pkt c = {.ns = ns, .t = t, .pkt = pkt, .hook = hook,
			   .now = uxt_ns_time(ns)};
	const struct uxt_ct_template *tmpl = NULL;
	const struct uxt_iphdr *iph = uxt_iph(pkt);
	struct uxt_ct_tuple tuple;
	unsigned int dataoff;
	int ret;

	if (c.now > t->clock_ns)
		t->clock_ns = c.now;
	if (pkt->ct || pkt->ctinfo == UXT_CT_UNTRACKED) {
		/* previously seen (loopback) or untracked */
		if (!pkt->ct || !(pkt->ct->status & UXT_IPS_TEMPLATE))
			return UXT_NF_ACCEPT;
		tmpl = (const struct uxt_ct_template *)(const void *)pkt->ct;
		pkt_clear(pkt);
	}
	/* ipv4_conntrack_local(): a fragment sent with IP_NODEFRAG */
	if (hook == UXT_HOOK_LOCAL_OUT &&
	    (ntohs(iph->frag_off) & (UXT_IP_MF | UXT_IP_OFFSET)))
		return UXT_NF_ACCEPT;
	/* get_l4proto() */
	if ((ntohs(iph->frag_off) & UXT_IP_OFFSET) || uxt_ip_hlen(pkt) > pkt->len) {
		t->stats.invalid++;
		return UXT_NF_ACCEPT;
	}
	c.dataoff = uxt_ip_hlen(pkt);
	if (iph->protocol == CT_IPPROTO_ICMP) {
		ret = uxt_ct_icmp_error(&c, tmpl);
		if (ret <= 0) {
			t->stats.error++;
			return (unsigned int)-ret;
		}
		/* a related error got its entry */
		if (pkt->ct)
			return UXT_NF_ACCEPT;
	}
	for (int round = 0; round < CT_REPEAT_MAX; round++) {
		struct ct_entry *e;
		enum uxt_ct_dir dir = UXT_CT_DIR_ORIGINAL;
		uint16_t zone;
		uint8_t zone_dir, ctinfo;
		bool created = false;

		/* resolve_normal_ct() */
		if (!ct_get_tuple(pkt, 0, &tuple, &dataoff)) {
			t->stats.invalid++;
			return UXT_NF_ACCEPT;
		}
		ct_pkt_zone(&c, tmpl, &zone, &zone_dir);
		e = lookup(t, &tuple, zone, zone_dir, c.now, true, &dir);
		if (!e) {
			e = ct_init(&c, tmpl, &tuple, zone, zone_dir);
			if (e == CT_TABLE_FULL) {
				t->stats.drop++;
				return UXT_NF_DROP;
			}
			if (!e) {
				t->stats.invalid++;
				return UXT_NF_ACCEPT;
			}
			created = true;
		}
		if (dir == UXT_CT_DIR_REPLY)
			ctinfo = UXT_CT_ESTABLISHED_REPLY;
		else if (e->ct.status & UXT_IPS_SEEN_REPLY)
			ctinfo = UXT_CT_ESTABLISHED;
		else if (e->ct.status & UXT_IPS_EXPECTED)
			ctinfo = UXT_CT_RELATED;
		else
			ctinfo = UXT_CT_NEW;
		pkt->ct = &e->ct;
		pkt->ctinfo = ctinfo;
		ret = handle_packet(&c, &e->ct, ctinfo);
		if (ret <= 0) {
			pkt_clear(pkt);
			if (created)
				free_unconfirmed(t, e);
			if (ret == CT_REPEAT)
				continue;
			t->stats.invalid++;
			if (ret == CT_DROP)
				t->stats.drop++;
			return (unsigned int)-ret;
		}
		if (ctinfo == UXT_CT_ESTABLISHED_REPLY &&
		    !(e->ct.status & UXT_IPS_SEEN_REPLY)) {
			e->ct.status |= UXT_IPS_SEEN_REPLY;
			ct_event_cache(&e->ct, UXT_IPCT_REPLY);
		}
		return (unsigned int)ret;
	}
	/* a SYN that keeps reopening: cannot happen, an entry killed is
	 * gone from the hash */
	t->stats.invalid++;
	return UXT_NF_ACCEPT;
}

/* Confirmation */

static bool allow_clash(uint8_t proto)
{
	switch (proto) {
	case CT_IPPROTO_TCP:
	case CT_IPPROTO_ICMP:
	case CT_IPPROTO_GRE:
	case 132:
		return false;
	default:
		/* udp, udplite and the generic tracker */
		return true;
	}
}

static bool ct_match(const struct uxt_ct *a, const struct uxt_ct *b)
{
	return tuple_equal(&a->tuple[0], &b->tuple[0]) &&
	       tuple_equal(&a->tuple[1], &b->tuple[1]) &&
	       uxt_ct_zone_id(a, UXT_CT_DIR_ORIGINAL) == uxt_ct_zone_id(b, UXT_CT_DIR_ORIGINAL) &&
	       uxt_ct_zone_id(a, UXT_CT_DIR_REPLY) == uxt_ct_zone_id(b, UXT_CT_DIR_REPLY);
}

/* nf_ct_resolve_clash(): the packet takes the entry already in the table
 * when it can; the harder case (a NAT clash only in one direction) is not
 * modelled and drops, as when the protocol allows no clash */
static unsigned int resolve_clash(struct uxt_ct_table *t, struct uxt_pkt *pkt,
				  struct ct_entry *loser, struct ct_entry *winner)
{
	if (allow_clash(winner->ct.tuple[0].proto) &&
	    !(winner->ct.status & UXT_IPS_DYING) &&
	    (!(winner->ct.status & UXT_IPS_NAT_DONE_MASK) ||
	     ct_match(&winner->ct, &loser->ct))) {
		enum uxt_ct_dir dir = uxt_ctinfo_dir(pkt->ctinfo);

		/* nf_ct_acct_merge() */
		if (winner->ct.acct)
			winner->ct.bytes[dir] += loser->ct.bytes[dir];
		pkt->ct = &winner->ct;
		t->stats.clash_resolve++;
		return UXT_NF_ACCEPT;
	}
	t->stats.drop++;
	t->stats.insert_failed++;
	return UXT_NF_DROP;
}

/* __nf_conntrack_confirm() */
static unsigned int confirm(struct uxt_ct_table *t, struct uxt_pkt *pkt,
			    uint64_t now)
{
	struct ct_entry *e = E(pkt->ct), *other;
	enum uxt_ct_dir d;

	/* REJECT's reply attached in the other direction */
	if (uxt_ctinfo_dir(pkt->ctinfo) != UXT_CT_DIR_ORIGINAL)
		return UXT_NF_ACCEPT;
	if (e->on != ON_UNCONFIRMED)
		return UXT_NF_DROP;
	if (e->ct.status & UXT_IPS_DYING) {
		t->stats.insert_failed++;
		return UXT_NF_DROP;
	}
	/* a tuple of the entry already in the table, in either direction
	 * (NAT may have taken it without knowing) */
	for (int dir = 0; dir < 2; dir++) {
		other = lookup(t, &e->ct.tuple[dir], e->ct.zone, e->ct.zone_dir,
			       now, false, &d);
		if (other)
			return resolve_clash(t, pkt, e, other);
	}
	list_del(&t->unconfirmed, e);
	e->on = ON_CONFIRMED;
	/* the kernel keeps an unconfirmed entry's timeout relative and
	 * starts it here (ct->timeout += nfct_time_stamp): time spent
	 * between the hooks (a live daemon's queue) does not count */
	if (now > e->ct.start_ns)
		e->ct.timeout_ns = ct_time_add(e->ct.timeout_ns,
					       now - e->ct.start_ns);
	list_add_tail(&t->confirmed, e);
	hash_insert(t, e);
	heap_push(t, e);
	src_insert(t, e);
	t->count++;
	e->ct.id = ++t->next_id;
	if (!e->ct.id)
		e->ct.id = ++t->next_id;
	e->ct.status |= UXT_IPS_CONFIRMED;
	e->ct.confirmed = true;
	ct_event_cache(&e->ct, (e->ct.status & UXT_IPS_EXPECTED) ?
				       UXT_IPCT_RELATED : UXT_IPCT_NEW);
	return UXT_NF_ACCEPT;
}

unsigned int uxt_ct_confirm(struct uxt_ns *ns, struct uxt_ct_table *t,
			    struct uxt_pkt *pkt)
{
	uint64_t now = uxt_ns_time(ns);
	unsigned int ret = UXT_NF_ACCEPT;

	if (!pkt->ct || (pkt->ct->status & UXT_IPS_TEMPLATE))
		return UXT_NF_ACCEPT;
	if (now > t->clock_ns)
		t->clock_ns = now;
	if (!pkt->ct->confirmed)
		ret = confirm(t, pkt, now);
	if (ret == UXT_NF_ACCEPT)
		deliver_cached(t, E(pkt->ct));
	return ret;
}

/* Packets and entries */

void uxt_ct_pkt_release(struct uxt_ct_table *t, struct uxt_pkt *pkt)
{
	(void)t;
	if (pkt->ct && !(pkt->ct->status & UXT_IPS_TEMPLATE) && E(pkt->ct)->holds)
		E(pkt->ct)->holds--;
	pkt_clear(pkt);
}

void uxt_ct_pkt_get(struct uxt_ct_table *t, struct uxt_pkt *pkt)
{
	(void)t;
	if (pkt->ct && !(pkt->ct->status & UXT_IPS_TEMPLATE))
		E(pkt->ct)->holds++;
}

void uxt_ct_attach(struct uxt_pkt *reply, const struct uxt_pkt *orig)
{
	/* nf_ct_attach(): anything in skb->_nfct, an untracked mark too */
	if (!orig->ct && orig->ctinfo != UXT_CT_UNTRACKED)
		return;
	reply->ct = orig->ct;
	reply->ctinfo = uxt_ctinfo_dir(orig->ctinfo) == UXT_CT_DIR_ORIGINAL ?
				UXT_CT_RELATED_REPLY : UXT_CT_RELATED;
}

void uxt_ct_set_untracked(struct uxt_pkt *pkt)
{
	if (pkt->ct || pkt->ctinfo == UXT_CT_UNTRACKED)
		return;
	pkt->ct = NULL;
	pkt->ctinfo = UXT_CT_UNTRACKED;
}

void uxt_ct_template_init(struct uxt_ct_template *tmpl, uint16_t zone,
			  unsigned int zone_flags, uint32_t ct_events,
			  uint32_t exp_events, const char *helper)
{
	memset(tmpl, 0, sizeof(*tmpl));
	tmpl->ct.status = UXT_IPS_TEMPLATE | UXT_IPS_CONFIRMED;
	tmpl->ct.confirmed = true;
	tmpl->ct.zone = zone;
	switch (zone_flags & 0x0C) {
	case 0x04:
		tmpl->ct.zone_dir = UXT_CT_ZONE_DIR_ORIG_ONLY;
		break;
	case 0x08:
		tmpl->ct.zone_dir = UXT_CT_ZONE_DIR_REPL_ONLY;
		break;
	default:
		tmpl->ct.zone_dir = 0;
	}
	tmpl->zone_from_mark = (zone_flags & 0x10) != 0;
	tmpl->ctmask = (uint16_t)ct_events;
	tmpl->expmask = (uint16_t)exp_events;
	if (helper)
		snprintf(tmpl->helper, sizeof(tmpl->helper), "%s", helper);
}

void uxt_ct_set_template(struct uxt_pkt *pkt, struct uxt_ct_template *tmpl)
{
	/* xt_ct_target(): previously seen (loopback)? ignore */
	if (pkt->ct || pkt->ctinfo == UXT_CT_UNTRACKED)
		return;
	pkt->ct = &tmpl->ct;
	pkt->ctinfo = UXT_CT_NEW;
}

void uxt_ct_set_closing(struct uxt_ct *ct)
{
	if (!ct || (ct->status & UXT_IPS_TEMPLATE) || !ct->confirmed ||
	    ct->tuple[0].proto != CT_IPPROTO_TCP)
		return;
	uxt_ct_tcp_set_closing(E(ct)->t, ct);
}

/* NAT */

bool uxt_ct_tuple_taken(struct uxt_ct_table *t, const struct uxt_ct_tuple *tuple,
			const struct uxt_ct *ignored)
{
	uint16_t zone = ignored ? ignored->zone : 0;
	uint8_t zdir = ignored ? ignored->zone_dir : 0;
	uint16_t zid = zone_id(zone, zdir, UXT_CT_DIR_REPLY);
	uint32_t b;

	if (!t->buckets || t->count == 0)
		return false;
	b = bucket_of(t, tuple_hash(tuple, zid));
	for (struct ct_hnode *n = t->buckets[b]; n; n = n->next) {
		struct ct_entry *e = n->e;

		if (&e->ct == ignored)
			continue;
		if (e->ct.timeout_ns <= t->clock_ns)
			continue;
		if (!tuple_equal(&e->ct.tuple[n->dir], tuple) ||
		    uxt_ct_zone_id(&e->ct, (enum uxt_ct_dir)n->dir) !=
			    zone_id(zone, zdir, n->dir))
			continue;
		/* the same flow in both: left to nf_ct_resolve_clash() */
		if (ignored && tuple_equal(&ignored->tuple[0], &e->ct.tuple[0]) &&
		    uxt_ct_zone_id(&e->ct, UXT_CT_DIR_ORIGINAL) ==
			    zone_id(zone, zdir, UXT_CT_DIR_ORIGINAL))
			continue;
		t->stats.found++;
		return true;
	}
	return false;
}

void uxt_ct_alter_reply(struct uxt_ct_table *t, struct uxt_ct *ct,
			const struct uxt_ct_tuple *reply)
{
	(void)t;
	/* only an unconfirmed entry, not in the hash yet */
	if (ct->confirmed)
		return;
	ct->tuple[UXT_CT_DIR_REPLY] = *reply;
}

int uxt_ct_walk_by_source(struct uxt_ct_table *t,
			  const struct uxt_ct_tuple *tuple, uint16_t zone,
			  int (*fn)(struct uxt_ct *ct, void *arg), void *arg)
{
	struct ct_entry *e, *next;
	int r;

	if (!t->src)
		return 0;
	e = t->src[src_hash(tuple, zone) & (t->nsrc - 1)];
	for (; e; e = next) {
		const struct uxt_ct_tuple *o = &e->ct.tuple[0];

		next = e->src_next;
		if (o->src != tuple->src || o->sport != tuple->sport ||
		    o->proto != tuple->proto || e->ct.zone != zone)
			continue;
		r = fn(&e->ct, arg);
		if (r)
			return r;
	}
	return 0;
}

void uxt_ct_flush_masq(struct uxt_ct_table *t, int ifindex)
{
	struct ct_entry *e = t->confirmed.head, *next;

	for (; e; e = next) {
		next = e->next;
		if (ifindex && e->ct.masq_ifindex == ifindex)
			ct_kill(t, &e->ct);
	}
}

/* Persistence */

#define CT_FILE_MAGIC "UXTCONN1"
#define CT_FILE_VERSION 1
#define CT_BOM 0x01020304u
#define CT_FLAG_WALL 1u
#define CT_NAME_LEN 48
#define CT_STATUS_KNOWN 0xFFFFu
#define CT_EVENTS_KNOWN ((1u << (UXT_IPCT_SYNPROXY + 1)) - 1)

static void put(struct uxt_buf *b, const void *p, size_t n)
{
	uxt_buf_putn(b, (const char *)p, n);
}

#define PUT(b, v)                                                           \
	do {                                                                \
		__typeof__(v) v_ = (v);                                     \
		put((b), &v_, sizeof(v_));                                  \
	} while (0)

static void put_tuple(struct uxt_buf *b, const struct uxt_ct_tuple *tp)
{
	PUT(b, tp->src);
	PUT(b, tp->dst);
	PUT(b, tp->sport);
	PUT(b, tp->dport);
	PUT(b, tp->proto);
}

static void put_entry(struct uxt_buf *b, const struct ct_entry *e)
{
	const struct uxt_ct *ct = &e->ct;
	const struct uxt_ct_tcp *tcp = &ct->proto.tcp;

	put_tuple(b, &ct->tuple[0]);
	put_tuple(b, &ct->tuple[1]);
	PUT(b, ct->zone);
	PUT(b, ct->zone_dir);
	PUT(b, (uint8_t)ct->acct);
	PUT(b, (uint8_t)ct->tstamp);
	PUT(b, ct->status);
	PUT(b, ct->mark);
	PUT(b, ct->id);
	PUT(b, e->ctmask);
	PUT(b, ct->timeout_ns);
	PUT(b, ct->start_ns);
	for (int d = 0; d < 2; d++) {
		PUT(b, ct->packets[d]);
		PUT(b, ct->bytes[d]);
	}
	for (int d = 0; d < 2; d++) {
		PUT(b, tcp->seen[d].td_end);
		PUT(b, tcp->seen[d].td_maxend);
		PUT(b, tcp->seen[d].td_maxwin);
		PUT(b, tcp->seen[d].td_maxack);
		PUT(b, tcp->seen[d].td_scale);
		PUT(b, tcp->seen[d].flags);
	}
	PUT(b, tcp->state);
	PUT(b, tcp->last_dir);
	PUT(b, tcp->retrans);
	PUT(b, tcp->last_index);
	PUT(b, tcp->last_seq);
	PUT(b, tcp->last_ack);
	PUT(b, tcp->last_end);
	PUT(b, tcp->last_win);
	PUT(b, tcp->last_wscale);
	PUT(b, tcp->last_flags);
	PUT(b, (int32_t)ct->masq_ifindex);
	PUT(b, ct->pending_events);
}

void uxt_ct_table_save(const struct uxt_ct_table *t, struct uxt_buf *out)
{
	size_t start = out->len;
	uint64_t size;
	uint32_t n = 0;

	for (const struct ct_entry *e = t->confirmed.head; e; e = e->next)
		n++;
	put(out, CT_FILE_MAGIC, 8);
	PUT(out, (uint32_t)CT_FILE_VERSION);
	PUT(out, (uint32_t)CT_BOM);
	PUT(out, (uint64_t)0);			/* size, set below */
	PUT(out, t->clock_ns);
	PUT(out, (uint32_t)(t->clock_wall ? CT_FLAG_WALL : 0));
	PUT(out, t->next_id);
	PUT(out, (uint32_t)N_SYSCTLS);
	PUT(out, n);
	PUT(out, t->stats);
	for (size_t i = 0; i < N_SYSCTLS; i++) {
		char name[CT_NAME_LEN];

		memset(name, 0, sizeof(name));
		snprintf(name, sizeof(name), "%s", sysctl_defs[i].name);
		put(out, name, sizeof(name));
		PUT(out, sysctl_read(&t->set, &sysctl_defs[i]));
	}
	for (const struct ct_entry *e = t->confirmed.head; e; e = e->next)
		put_entry(out, e);
	size = out->len - start;
	if (out->data && out->len >= start + 24)
		memcpy(out->data + start + 16, &size, sizeof(size));
}

struct rd {
	const unsigned char *p;
	size_t len, off;
	bool bad;
};

static void get(struct rd *r, void *dst, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, r->p + r->off, n);
	r->off += n;
}

#define GET(r, v) get((r), &(v), sizeof(v))

static void get_tuple(struct rd *r, struct uxt_ct_tuple *tp)
{
	memset(tp, 0, sizeof(*tp));
	GET(r, tp->src);
	GET(r, tp->dst);
	GET(r, tp->sport);
	GET(r, tp->dport);
	GET(r, tp->proto);
}

static const char *get_entry(struct rd *r, struct ct_entry *e, uint64_t clock)
{
	struct uxt_ct *ct = &e->ct;
	struct uxt_ct_tcp *tcp = &ct->proto.tcp;
	struct uxt_ct_tuple inv;
	uint8_t acct, tstamp;
	int32_t masq;

	get_tuple(r, &ct->tuple[0]);
	get_tuple(r, &ct->tuple[1]);
	GET(r, ct->zone);
	GET(r, ct->zone_dir);
	GET(r, acct);
	GET(r, tstamp);
	GET(r, ct->status);
	GET(r, ct->mark);
	GET(r, ct->id);
	GET(r, e->ctmask);
	GET(r, ct->timeout_ns);
	GET(r, ct->start_ns);
	for (int d = 0; d < 2; d++) {
		GET(r, ct->packets[d]);
		GET(r, ct->bytes[d]);
	}
	for (int d = 0; d < 2; d++) {
		GET(r, tcp->seen[d].td_end);
		GET(r, tcp->seen[d].td_maxend);
		GET(r, tcp->seen[d].td_maxwin);
		GET(r, tcp->seen[d].td_maxack);
		GET(r, tcp->seen[d].td_scale);
		GET(r, tcp->seen[d].flags);
	}
	GET(r, tcp->state);
	GET(r, tcp->last_dir);
	GET(r, tcp->retrans);
	GET(r, tcp->last_index);
	GET(r, tcp->last_seq);
	GET(r, tcp->last_ack);
	GET(r, tcp->last_end);
	GET(r, tcp->last_win);
	GET(r, tcp->last_wscale);
	GET(r, tcp->last_flags);
	GET(r, masq);
	GET(r, ct->pending_events);
	if (r->bad)
		return "truncated entry";
	ct->acct = acct != 0;
	ct->tstamp = tstamp != 0;
	ct->masq_ifindex = masq;
	if (acct > 1 || tstamp > 1)
		return "entry flags";
	if (ct->tuple[0].proto != ct->tuple[1].proto)
		return "tuples of different protocols";
	/* without NAT the reply tuple is the inverse; with it at least the
	 * ICMP type must be one with an inverse */
	if (!uxt_ct_invert_tuple(&inv, &ct->tuple[0]))
		return "a tuple without an inverse";
	if (ct->zone_dir > UXT_CT_ZONE_DIR_REPL_ONLY || (!ct->zone && ct->zone_dir))
		return "zone direction";
	if ((ct->status & ~CT_STATUS_KNOWN) || !(ct->status & UXT_IPS_CONFIRMED) ||
	    (ct->status & (UXT_IPS_DYING | UXT_IPS_TEMPLATE)))
		return "status";
	if (ct->pending_events & ~CT_EVENTS_KNOWN)
		return "pending events";
	if (ct->id == 0)
		return "id";
	if (ct->start_ns > clock)
		return "creation after the table's clock";
	if (ct->tuple[0].proto == CT_IPPROTO_TCP) {
		if (tcp->state == UXT_TCP_NONE || tcp->state >= UXT_TCP_MAX ||
		    tcp->last_dir > 1 || tcp->last_index > 5 ||
		    tcp->seen[0].td_scale > 14 || tcp->seen[1].td_scale > 14 ||
		    tcp->last_wscale > 14)
			return "TCP state";
	} else {
		static const struct uxt_ct_tcp zero;

		if (memcmp(tcp, &zero, sizeof(zero)) != 0)
			return "TCP data in a non-TCP entry";
	}
	ct->confirmed = true;
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool ids_repeat(const struct uxt_ct_table *t)
{
	uint32_t *ids = ct_xcalloc(t->count, sizeof(*ids));
	unsigned int n = 0;
	bool rep = false;

	for (const struct ct_entry *e = t->confirmed.head; e; e = e->next)
		ids[n++] = e->ct.id;
	qsort(ids, n, sizeof(*ids), cmp_u32);
	for (unsigned int i = 1; i < n && !rep; i++)
		rep = ids[i] == ids[i - 1];
	free(ids);
	return rep;
}

static int damaged(struct uxt_err *err, const char *what, size_t off)
{
	return uxt_error(err, UXT_OTHER_PROBLEM,
			 "conntrack state file is damaged (%s at byte %zu)",
			 what, off);
}

int uxt_ct_table_load(struct uxt_ct_table *t, const void *data, size_t len,
		      struct uxt_err *err)
{
	struct rd r = {.p = data, .len = len};
	struct uxt_ct_table *n;
	char magic[8];
	uint32_t version, bom, flags, next_id, nset, nent;
	uint64_t size, clock;
	const char *why = NULL;

	GET(&r, magic);
	GET(&r, version);
	GET(&r, bom);
	GET(&r, size);
	if (r.bad || memcmp(magic, CT_FILE_MAGIC, 8) != 0)
		return damaged(err, "not a uxtables conntrack state", 0);
	if (version != CT_FILE_VERSION || bom != CT_BOM)
		return damaged(err, "unsupported version", 8);
	if (size != len)
		return damaged(err, "size", 16);
	GET(&r, clock);
	GET(&r, flags);
	GET(&r, next_id);
	GET(&r, nset);
	GET(&r, nent);
	if (r.bad || (flags & ~CT_FLAG_WALL) || nset > 4 * N_SYSCTLS)
		return damaged(err, "header", r.off);
	n = uxt_ct_table_new();
	GET(&r, n->stats);
	n->clock_ns = clock;
	n->clock_wall = (flags & CT_FLAG_WALL) != 0;
	n->next_id = next_id;
	for (uint32_t i = 0; i < nset && !why; i++) {
		char name[CT_NAME_LEN];
		const struct sysctl_def *d;
		uint64_t value;
		struct uxt_err e2;

		GET(&r, name);
		GET(&r, value);
		if (r.bad) {
			why = "truncated settings";
			break;
		}
		if (memchr(name, 0, sizeof(name)) == NULL ||
		    !(d = sysctl_find(name))) {
			why = "unknown setting";
			break;
		}
		if (d->kind == SK_COUNT)
			continue;
		if (d->kind == SK_RO32) {
			/* read-only for uxt sysctl as in a namespace, but the
			 * library may have set them: kept as saved */
			if (value > UINT32_MAX ||
			    (d->off == SO(buckets) && (value == 0 || value > (1u << 26))))
				why = "read-only setting";
			else
				*(uint32_t *)(void *)((char *)&n->set + d->off) = (uint32_t)value;
			continue;
		}
		/* the thresholds are checked against each other once both
		 * are read */
		if (d->kind == SK_FRAG6_LOW || d->kind == SK_FRAG6_HIGH) {
			*(uint64_t *)(void *)((char *)&n->set + d->off) = value;
			continue;
		}
		if (uxt_ct_sysctl_set(&n->set, d->name, value, &e2))
			why = "setting out of range";
	}
	if (!why && n->set.frag6_low_thresh > n->set.frag6_high_thresh)
		why = "setting out of range";
	if (!why && (size_t)nent > (len - r.off) / 16)
		why = "entry count";
	for (uint32_t i = 0; i < nent && !why; i++) {
		struct ct_entry *e = ct_xcalloc(1, sizeof(*e));
		enum uxt_ct_dir d;

		e->t = n;
		e->heap_idx = UINT32_MAX;
		why = get_entry(&r, e, clock);
		if (!why && (e->ct.id > next_id))
			why = "id beyond the next id";
		for (int dir = 0; dir < 2 && !why; dir++)
			if (lookup(n, &e->ct.tuple[dir], e->ct.zone,
				   e->ct.zone_dir, 0, false, &d))
				why = "two entries with one tuple";
		if (why) {
			free(e);
			break;
		}
		e->seq = ++n->seq;
		e->on = ON_CONFIRMED;
		list_add_tail(&n->confirmed, e);
		hash_insert(n, e);
		heap_push(n, e);
		src_insert(n, e);
		n->count++;
		n->live++;
	}
	if (!why && r.off != len)
		why = "trailing bytes";
	if (!why && ids_repeat(n))
		why = "two entries with one id";
	if (why) {
		int ret = damaged(err, why, r.off);

		uxt_ct_table_free(n);
		return ret;
	}
	/* the whole file is good: it replaces the table's contents, the
	 * event callback stays */
	n->ev_fn = t->ev_fn;
	n->ev_ctx = t->ev_ctx;
	table_clear(t);
	*t = *n;
	/* the entries point at their table */
	for (struct ct_entry *e = t->confirmed.head; e; e = e->next)
		e->t = t;
	free(n);
	return 0;
}
