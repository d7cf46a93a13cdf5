/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * IPv4 fragments, as net/ipv4/ip_fragment.c, inet_fragment.c and
 * ip_output.c handle them.
 *
 * Reassembly (ip_defrag): one queue per (source, destination, protocol,
 * IP ID, user).  A fragment's end is offset + payload, cut down to a
 * multiple of 8 unless it is the last; a last fragment that disagrees with
 * what came before, bits beyond the last fragment's end, an empty fragment,
 * or a fragment overlapping others (RFC 5722) discard the whole queue; a
 * fragment lying within a run of contiguous fragments already queued is a
 * duplicate and only it is dropped.  Runs are grown as the kernel grows
 * them (a fragment only joins the run it directly follows at the tail), so
 * the same fragments in another order can be a duplicate or an overlap as
 * in the kernel.  When more than ipfrag_max_dist fragments from the same
 * source arrived between two fragments of a queue, the queue starts over.
 * A complete datagram gets the first fragment's header and metadata, the
 * total length, the OR of the fragments' ECN bits (an impossible mix drops
 * it), DF only if the largest fragment had DF, and frag_max_size, the
 * largest fragment's size.  Queues live ipfrag_time (30 s) from their
 * first fragment; one that expires with its first fragment sends ICMP
 * time exceeded, code 1 (only for local delivery, or when the destination
 * is local).  Memory is counted per fragment (an estimate of the kernel's
 * truesize); past ipfrag_high_thresh every new fragment is dropped.
 *
 * Fragmentation (ip_fragment, ip_do_fragment): a datagram with DF is not
 * fragmented, unless it was reassembled by connection tracking from
 * fragments no larger than the MTU (then its pieces keep DF); otherwise
 * ICMP "fragmentation needed" goes back to its sender.  The pieces are at
 * most min(MTU, frag_max_size) bytes, their payload a multiple of 8 except
 * the last, each with the original header (same IP ID); after the first,
 * options without the "copied" bit are overwritten with NOPs (only for
 * datagrams whose options the kernel compiled: received ones).  A datagram
 * reassembled by the kernel is cut into equal pieces (its slow path); the
 * kernel's fast path, which reuses the original fragments as they were, is
 * not modelled (the same pieces whenever all but the last fragment had the
 * largest size, as senders make them).
 */
#include "frag.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "icmp.h"
#include "ipopt.h"

#define NS_PER_S 1000000000ull
#define IPQ_BUCKETS 256
#define SRC_BUCKETS 64

/* inet_frag_queue flags */
#define FRAG_FIRST_IN 0x01
#define FRAG_LAST_IN 0x02

/* IPFRAG_ECN_* (inet_ecn.h): one bit per ECN codepoint seen */
#define ECN_NOT_ECT 0x01
#define ECN_ECT_1 0x02
#define ECN_ECT_0 0x04
#define ECN_CE 0x08
#define ECN_INVALID 0xFF

/* Estimate of skb->truesize of a received fragment and of struct ipq:
 * what the memory limit counts. */
#define SKB_OVERHEAD 576u
#define IPQ_SIZE 256u

struct frag_piece {
	struct uxt_pkt pkt;		/* header + payload cut to end - offset */
	uint32_t offset, end;
};

struct frag_run {
	uint32_t start, end;
};

/* A source's counter of fragments (the inet_peer rid of ip_frag_too_far)
 * and how many queues it has. */
struct frag_src {
	struct frag_src *next;
	uint32_t saddr;
	uint32_t rid;
	unsigned int queues;
};

/* struct ipq */
struct ipq {
	struct ipq *next;		/* in its bucket */
	uint32_t saddr, daddr;
	uint16_t id;
	uint8_t protocol;
	uint8_t user;
	uint64_t seq;			/* creation order */
	uint64_t expires_ns;
	uint8_t flags;
	uint32_t len, meat;
	uint32_t max_size, max_df_size;
	uint8_t ecn;
	int iif;
	uint32_t rid;
	struct frag_src *src;
	struct frag_piece *pieces;	/* sorted by offset */
	unsigned int npieces, cap_pieces;
	struct frag_run *runs;		/* sorted */
	unsigned int nruns, cap_runs;
	size_t mem;
};

struct uxt_frag_queue {
	struct uxt_frag_settings set;
	struct ipq *buckets[IPQ_BUCKETS];
	struct frag_src *srcs[SRC_BUCKETS];
	unsigned int nqueues;
	uint64_t next_seq;
	size_t mem;
};

/* ip_frag_ecn_table */
static uint8_t ecn_result(uint8_t seen)
{
	if (seen & ECN_NOT_ECT)
		return (seen & (ECN_CE | ECN_ECT_0 | ECN_ECT_1)) ? ECN_INVALID : 0;
	if ((seen & ECN_CE) && (seen & (ECN_ECT_0 | ECN_ECT_1)))
		return 3;	/* INET_ECN_CE */
	return 0;
}

struct uxt_frag_queue *uxt_frag_queue_new(void)
{
	struct uxt_frag_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->set.timeout_s = 30;
	q->set.high_thresh = 4u * 1024 * 1024;
	q->set.max_dist = 64;
	return q;
}

void uxt_frag_get_settings(const struct uxt_frag_queue *q,
			   struct uxt_frag_settings *s)
{
	*s = q->set;
}

void uxt_frag_set_settings(struct uxt_frag_queue *q,
			   const struct uxt_frag_settings *s)
{
	q->set = *s;
}

unsigned int uxt_frag_pending(const struct uxt_frag_queue *q)
{
	return q ? q->nqueues : 0;
}

static size_t truesize(uint32_t len)
{
	return ((len + 14u + 64u + 63u) & ~63u) + SKB_OVERHEAD;
}

static unsigned int ipq_bucket(uint32_t saddr, uint32_t daddr, uint16_t id,
			       uint8_t proto)
{
	uint32_t h = saddr ^ (daddr * 2654435761u) ^ ((uint32_t)id << 8) ^ proto;

	h ^= h >> 16;
	return (h * 2654435761u) >> 24;
}

/* Sources */

static struct frag_src *src_get(struct uxt_frag_queue *q, uint32_t saddr)
{
	unsigned int b = (saddr * 2654435761u) >> 26;
	struct frag_src *s;

	for (s = q->srcs[b]; s; s = s->next)
		if (s->saddr == saddr)
			return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->saddr = saddr;
	s->next = q->srcs[b];
	q->srcs[b] = s;
	return s;
}

/* A source without queues is forgotten: a new queue's first fragment never
 * counts as too far, so its counter may start again. */
static void src_put(struct uxt_frag_queue *q, struct frag_src *s)
{
	unsigned int b;
	struct frag_src **pp;

	if (!s || --s->queues)
		return;
	b = (s->saddr * 2654435761u) >> 26;
	for (pp = &q->srcs[b]; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			free(s);
			return;
		}
}

/* Queues */

static void ipq_purge(struct uxt_frag_queue *q, struct ipq *qp)
{
	for (unsigned int i = 0; i < qp->npieces; i++)
		uxt_pkt_release(&qp->pieces[i].pkt);
	qp->npieces = 0;
	qp->nruns = 0;
	q->mem -= qp->mem - IPQ_SIZE;
	qp->mem = IPQ_SIZE;
}

/* inet_frag_kill() and the final put: out of the table, freed */
static void ipq_kill(struct uxt_frag_queue *q, struct ipq *qp)
{
	unsigned int b = ipq_bucket(qp->saddr, qp->daddr, qp->id, qp->protocol);
	struct ipq **pp;

	for (pp = &q->buckets[b]; *pp; pp = &(*pp)->next)
		if (*pp == qp) {
			*pp = qp->next;
			break;
		}
	ipq_purge(q, qp);
	q->mem -= IPQ_SIZE;
	q->nqueues--;
	src_put(q, qp->src);
	free(qp->pieces);
	free(qp->runs);
	free(qp);
}

void uxt_frag_queue_free(struct uxt_frag_queue *q)
{
	if (!q)
		return;
	for (unsigned int b = 0; b < IPQ_BUCKETS; b++)
		while (q->buckets[b])
			ipq_kill(q, q->buckets[b]);
	for (unsigned int b = 0; b < SRC_BUCKETS; b++)
		while (q->srcs[b]) {
			struct frag_src *s = q->srcs[b];

			q->srcs[b] = s->next;
			free(s);
		}
	free(q);
}

/* ip_find(): the queue of the datagram, created if need be */
static struct ipq *ipq_find(struct uxt_frag_queue *q, const struct uxt_iphdr *iph,
			    uint8_t user, uint64_t now_ns)
{
	unsigned int b = ipq_bucket(iph->saddr, iph->daddr, iph->id, iph->protocol);
	struct ipq *qp;

	for (qp = q->buckets[b]; qp; qp = qp->next)
		if (qp->saddr == iph->saddr && qp->daddr == iph->daddr &&
		    qp->id == iph->id && qp->protocol == iph->protocol &&
		    qp->user == user)
			return qp;
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return NULL;
	qp->saddr = iph->saddr;
	qp->daddr = iph->daddr;
	qp->id = iph->id;
	qp->protocol = iph->protocol;
	qp->user = user;
	qp->seq = q->next_seq++;
	qp->expires_ns = now_ns + (uint64_t)q->set.timeout_s * NS_PER_S;
	qp->mem = IPQ_SIZE;
	if (q->set.max_dist) {
		qp->src = src_get(q, iph->saddr);
		if (qp->src)
			qp->src->queues++;
	}
	qp->next = q->buckets[b];
	q->buckets[b] = qp;
	q->nqueues++;
	q->mem += IPQ_SIZE;
	return qp;
}

/* ip_frag_too_far(): too many fragments from this source since this
 * queue's last one */
static bool ipq_too_far(const struct uxt_frag_queue *q, struct ipq *qp)
{
	uint32_t start, end;

	if (!qp->src || !q->set.max_dist)
		return false;
	start = qp->rid;
	end = ++qp->src->rid;
	qp->rid = end;
	return qp->npieces && end - start > q->set.max_dist;
}

/* ip_frag_reinit(): start over, keeping the largest sizes seen */
static void ipq_reinit(struct uxt_frag_queue *q, struct ipq *qp, uint64_t now_ns)
{
	qp->expires_ns = now_ns + (uint64_t)q->set.timeout_s * NS_PER_S;
	ipq_purge(q, qp);
	qp->flags = 0;
	qp->len = 0;
	qp->meat = 0;
	qp->iif = 0;
	qp->ecn = 0;
}

enum { INSERT_OK, INSERT_DUP, INSERT_OVERLAP, INSERT_NOMEM };

static int grow(void **arr, unsigned int *cap, unsigned int need, size_t size)
{
	unsigned int ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, (size_t)ncap * size);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* inet_frag_queue_insert(): where [offset, end) goes among the runs */
static int ipq_insert_range(struct ipq *qp, uint32_t offset, uint32_t end)
{
	unsigned int i;

	if (grow((void **)&qp->runs, &qp->cap_runs, qp->nruns + 1,
		 sizeof(*qp->runs)))
		return INSERT_NOMEM;
	if (qp->nruns) {
		struct frag_run *last = &qp->runs[qp->nruns - 1];

		if (last->end < end) {
			/* the common case: at the tail */
			if (offset < last->end)
				return INSERT_OVERLAP;
			if (offset == last->end) {
				last->end = end;
				return INSERT_OK;
			}
			qp->runs[qp->nruns++] = (struct frag_run){offset, end};
			return INSERT_OK;
		}
	}
	for (i = 0; i < qp->nruns; i++) {
		const struct frag_run *r = &qp->runs[i];

		if (end <= r->start)
			break;
		if (offset >= r->end)
			continue;
		if (offset >= r->start && end <= r->end)
			return INSERT_DUP;
		return INSERT_OVERLAP;
	}
	/* a run of its own, never joined to its neighbours */
	memmove(&qp->runs[i + 1], &qp->runs[i], (qp->nruns - i) * sizeof(*qp->runs));
	qp->runs[i] = (struct frag_run){offset, end};
	qp->nruns++;
	return INSERT_OK;
}

static int ipq_add_piece(struct ipq *qp, struct uxt_pkt *pkt, uint32_t offset,
			 uint32_t end)
{
	unsigned int i;

	if (grow((void **)&qp->pieces, &qp->cap_pieces, qp->npieces + 1,
		 sizeof(*qp->pieces)))
		return -1;
	for (i = qp->npieces; i > 0 && qp->pieces[i - 1].offset > offset; i--)
		;
	memmove(&qp->pieces[i + 1], &qp->pieces[i],
		(qp->npieces - i) * sizeof(*qp->pieces));
	qp->pieces[i].pkt = *pkt;
	qp->pieces[i].offset = offset;
	qp->pieces[i].end = end;
	qp->npieces++;
	return 0;
}

/* ip_frag_reasm(): the whole datagram into *pkt, from a complete queue
 * whose checks (ipq_reasm_refused) passed */
static int ipq_reasm(const struct ipq *qp, struct uxt_pkt *pkt,
		     const struct uxt_iface *dev, uint64_t tstamp)
{
	const struct frag_piece *head = &qp->pieces[0];
	unsigned int hl = uxt_ip_hlen(&head->pkt);
	struct uxt_pkt whole, buf;
	struct uxt_iphdr *iph;
	uint32_t total = hl + qp->len;

	if (uxt_pkt_init_copy(&buf, head->pkt.data, hl, total))
		return -1;
	/* the metadata is the first fragment's; the device and time the
	 * completing fragment's */
	whole = head->pkt;
	whole.data = buf.data;
	whole.owned = buf.owned;
	whole.cap = buf.cap;
	whole.len = total;
	for (unsigned int i = 0; i < qp->npieces; i++) {
		const struct frag_piece *p = &qp->pieces[i];

		memcpy(whole.data + hl + p->offset,
		       p->pkt.data + uxt_ip_hlen(&p->pkt), p->end - p->offset);
	}
	whole.indev = dev;
	whole.tstamp_ns = tstamp;
	whole.frag_max_size = (uint16_t)(qp->max_df_size > qp->max_size ?
						 qp->max_df_size : qp->max_size);
	iph = uxt_iph(&whole);
	iph->tot_len = htons((uint16_t)total);
	iph->tos |= ecn_result(qp->ecn);
	/* DF (and IPSKB_FRAG_PMTU) only when the largest fragment had it */
	iph->frag_off = qp->max_df_size == qp->max_size ? htons(UXT_IP_DF) : 0;
	uxt_ip_send_check(&whole);
	*pkt = whole;
	return 0;
}

/* Why ip_frag_reasm() would refuse the datagram the queue completes with
 * a fragment of ecn bits and header length ihl at offset, or NULL. */
static const char *ipq_reasm_refused(const struct ipq *qp, uint8_t ecn,
				     uint32_t offset, unsigned int ihl)
{
	unsigned int hl = offset == 0 ? ihl : uxt_ip_hlen(&qp->pieces[0].pkt);

	if (ecn_result(qp->ecn | ecn) == ECN_INVALID)
		return "fragments with incompatible ECN codepoints";
	if (hl + qp->len > UXT_PKT_MAXLEN)
		return "reassembled datagram longer than 65535 bytes";
	return NULL;
}

int uxt_frag_add_user(struct uxt_frag_queue *q, struct uxt_ns *ns,
		      struct uxt_pkt *pkt, enum uxt_defrag_user user,
		      const char **reason)
{
	uint64_t now_ns = uxt_ns_time(ns);
	const struct uxt_iphdr *iph = uxt_iph(pkt);
	uint16_t fo = ntohs(iph->frag_off);
	uint32_t ihl = uxt_ip_hlen(pkt), offset = (uint32_t)(fo & UXT_IP_OFFSET) << 3;
	uint32_t end, fragsize;
	const struct uxt_iface *dev = pkt->indev;
	uint64_t tstamp = pkt->tstamp_ns;
	uint32_t orig_len = pkt->len;
	uint8_t ecn = (uint8_t)(1u << (iph->tos & 3));
	bool df = (iph->frag_off & htons(UXT_IP_DF)) != 0;
	struct ipq *qp;
	int ins;

	*reason = NULL;
	/* inet_frag_find(): no new fragment while memory is over the limit */
	if (!q || q->mem > q->set.high_thresh) {
		*reason = "fragment memory over ipfrag_high_thresh";
		return -1;
	}
	qp = ipq_find(q, iph, (uint8_t)user, now_ns);
	if (!qp) {
		*reason = "out of memory";
		return -1;
	}
	if (ipq_too_far(q, qp))
		ipq_reinit(q, qp, now_ns);
	end = offset + pkt->len - ihl;
	if (!(fo & UXT_IP_MF)) {
		/* the last fragment: nothing may lie beyond it, and a second
		 * last one must agree */
		if (end < qp->len || ((qp->flags & FRAG_LAST_IN) && end != qp->len)) {
			*reason = "last fragment disagrees with the others";
			goto discard_qp;
		}
		qp->flags |= FRAG_LAST_IN;
		qp->len = end;
	} else {
		end &= ~7u;
		if (end > qp->len) {
			if (qp->flags & FRAG_LAST_IN) {
				*reason = "fragment beyond the last fragment";
				goto discard_qp;
			}
			qp->len = end;
		}
	}
	if (end == offset) {
		*reason = "empty fragment";
		goto discard_qp;
	}
	ins = ipq_insert_range(qp, offset, end);
	if (ins == INSERT_DUP) {
		*reason = "duplicate fragment";
		return -1;
	}
	if (ins == INSERT_OVERLAP) {
		*reason = "overlapping fragment";
		goto discard_qp;
	}
	if (ins == INSERT_NOMEM) {
		*reason = "out of memory";
		goto discard_qp;
	}
	if ((qp->flags | (offset == 0 ? FRAG_FIRST_IN : 0)) ==
		    (FRAG_FIRST_IN | FRAG_LAST_IN) &&
	    qp->meat + (end - offset) == qp->len) {
		*reason = ipq_reasm_refused(qp, ecn, offset, ihl);
		if (*reason)
			goto discard_qp;
	}
	/* kept: cut to its place (pskb_trim_rcsum) */
	pkt->len = ihl + (end - offset);
	if (ipq_add_piece(qp, pkt, offset, end)) {
		pkt->len = orig_len;
		*reason = "out of memory";
		goto discard_qp;
	}
	if (dev)
		qp->iif = dev->index;
	qp->meat += end - offset;
	qp->ecn |= ecn;
	qp->mem += truesize(pkt->len);
	q->mem += truesize(pkt->len);
	if (offset == 0)
		qp->flags |= FRAG_FIRST_IN;
	fragsize = (end - offset) + ihl;
	if (fragsize > qp->max_size)
		qp->max_size = fragsize;
	if (df && fragsize > qp->max_df_size)
		qp->max_df_size = fragsize;
	/* the queue owns the buffer now */
	memset(pkt, 0, sizeof(*pkt));
	if (qp->flags == (FRAG_FIRST_IN | FRAG_LAST_IN) && qp->meat == qp->len) {
		int err = ipq_reasm(qp, pkt, dev, tstamp);

		ipq_kill(q, qp);
		if (err) {
			/* nothing is left to hand back */
			*reason = "out of memory";
			return 0;
		}
		return 1;
	}
	return 0;

discard_qp:
	ipq_kill(q, qp);
	return -1;
}

int uxt_frag_add(struct uxt_frag_queue *q, struct uxt_ns *ns,
		 struct uxt_pkt *pkt)
{
	const char *reason;
	int r = uxt_frag_add_user(q, ns, pkt, UXT_DEFRAG_LOCAL_DELIVER, &reason);

	if (r == -1) {
		uxt_ns_drop(ns, pkt, reason);
		return -1;
	}
	return r;
}

/* Expiry */

/* ip_expire() for one queue already out of the table's way */
static void ipq_expire_one(struct uxt_frag_queue *q, struct ipq *qp,
			   struct uxt_ns *ns)
{
	const struct uxt_host *h = uxt_ns_host(ns);
	const struct frag_piece *head;
	const struct uxt_iface *dev;
	const struct uxt_iphdr *iph;
	struct uxt_route_result rt;
	const char *reason = NULL;
	struct uxt_pkt first;

	if (!(qp->flags & FRAG_FIRST_IN) || !qp->npieces || !h) {
		ipq_kill(q, qp);
		return;
	}
	head = &qp->pieces[0];
	dev = uxt_host_iface_by_index(h, qp->iif);
	iph = uxt_iph(&head->pkt);
	/* the route is looked up again; only an end host answers
	 * (frag_expire_skip_icmp) */
	if (!dev || uxt_host_route_input(h, dev, iph->saddr, iph->daddr, &rt, &reason) ||
	    (qp->user != UXT_DEFRAG_LOCAL_DELIVER && rt.type != UXT_RTN_LOCAL)) {
		ipq_kill(q, qp);
		return;
	}
	/* keep the first fragment past the queue's end: the ICMP error may
	 * come back into this namespace */
	first = head->pkt;
	qp->pieces[0].pkt.owned = NULL;
	qp->pieces[0].pkt.data = NULL;
	ipq_kill(q, qp);
	uxt_icmp_send_dev(ns, &first, UXT_ICMP_TIME_EXCEEDED,
			  UXT_ICMP_EXC_FRAGTIME, 0, dev);
	uxt_pkt_release(&first);
}

void uxt_frag_expire(struct uxt_frag_queue *q, struct uxt_ns *ns,
		     uint64_t now_ns)
{
	/* one at a time, in the order their timers fire; bounded by the
	 * number of queues, which only shrinks here */
	for (unsigned int rounds = q ? q->nqueues : 0; rounds > 0; rounds--) {
		struct ipq *first = NULL;

		for (unsigned int b = 0; b < IPQ_BUCKETS; b++)
			for (struct ipq *qp = q->buckets[b]; qp; qp = qp->next)
				if (qp->expires_ns <= now_ns &&
				    (!first || qp->expires_ns < first->expires_ns ||
				     (qp->expires_ns == first->expires_ns &&
				      qp->seq < first->seq)))
					first = qp;
		if (!first)
			return;
		ipq_expire_one(q, first, ns);
	}
}

/* Fragmentation */

void uxt_fragment(struct uxt_ns *ns, struct uxt_pkt *pkt,
		  const struct uxt_iface *dev, uint32_t mtu)
{
	const struct uxt_iphdr *iph = uxt_iph(pkt);
	unsigned int hlen = uxt_ip_hlen(pkt);
	uint32_t space, left, ptr, offset;
	uint16_t fo = ntohs(iph->frag_off);
	bool df_pmtu, not_last;
	unsigned char hdr[60];

	if (fo & UXT_IP_DF) {
		/* ip_fragment(): only a datagram conntrack reassembled
		 * (ignore_df) from fragments that fit may be cut */
		if (!pkt->frag_max_size || pkt->frag_max_size > mtu) {
			uxt_icmp_send_dev(ns, pkt, UXT_ICMP_DEST_UNREACH,
					  UXT_ICMP_FRAG_NEEDED, mtu, dev);
			uxt_ns_drop(ns, pkt, "fragmentation needed and DF set");
			return;
		}
	}
	if (pkt->frag_max_size && pkt->frag_max_size < mtu)
		mtu = pkt->frag_max_size;
	if (mtu < hlen + 8) {
		uxt_ns_drop(ns, pkt, "MTU too small to fragment");
		return;
	}
	space = mtu - hlen;
	memcpy(hdr, pkt->data, hlen);
	left = pkt->len - hlen;
	ptr = hlen;
	offset = (uint32_t)(fo & UXT_IP_OFFSET) << 3;
	not_last = (fo & UXT_IP_MF) != 0;
	df_pmtu = (fo & UXT_IP_DF) && pkt->frag_max_size;
	/* bounded: every round takes at least 8 bytes */
	while (left > 0) {
		bool first_frag = offset == 0;
		uint32_t len = left > space ? space : left;
		struct uxt_pkt frag;
		struct uxt_iphdr *fiph;
		uint16_t nfo;

		if (len < left)
			len &= ~7u;
		frag = *pkt;
		if (uxt_pkt_init_copy(&frag, hdr, hlen, hlen + len)) {
			uxt_ns_drop(ns, pkt, "out of memory");
			return;
		}
		{
			struct uxt_pkt buf = frag;

			frag = *pkt;
			frag.data = buf.data;
			frag.owned = buf.owned;
			frag.cap = buf.cap;
		}
		memcpy(frag.data + hlen, pkt->data + ptr, len);
		frag.len = hlen + len;
		frag.frag_max_size = 0;
		left -= len;
		nfo = (uint16_t)(offset >> 3);
		if (df_pmtu)
			nfo |= UXT_IP_DF;
		if (left > 0 || not_last)
			nfo |= UXT_IP_MF;
		fiph = uxt_iph(&frag);
		fiph->frag_off = htons(nfo);
		fiph->tot_len = htons((uint16_t)(hlen + len));
		uxt_ip_send_check(&frag);
		/* the pieces after the first carry only the copied options
		 * (ip_frag_ipcb); only a datagram whose options the kernel
		 * compiled (a received one) has any to cut */
		if (first_frag && pkt->opt.optlen &&
		    pkt->opt.optlen + sizeof(struct uxt_iphdr) <= hlen)
			uxt_ipopt_fragment(hdr, &pkt->opt);
		ptr += len;
		offset += len;
		uxt_ns_xmit_fragment(ns, &frag, dev);
	}
	uxt_pkt_release(pkt);
}
