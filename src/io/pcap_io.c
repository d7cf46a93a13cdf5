/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Captures in and out through libpcap (see pcap_io.h): decoding the link
 * layers a Linux host captures IPv4 with, writing Linux cooked v2 records.
 */
#include "pcap_io.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETH_HLEN 14
#define SLL_HLEN 16
#define SLL2_HLEN 20
#define ETHERTYPE_IP 0x0800
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88A8
#define NULL_AF_INET 2
/* sll_pkttype */
#define SLL_OUTGOING 4
/* NFULA_* attribute types of nfnetlink_log that replay reads */
enum {
	NFULA_IFINDEX_INDEV = 4,
	NFULA_IFINDEX_OUTDEV = 5,
	NFULA_PAYLOAD = 9,
	NFULA_HWTYPE = 15,
	NFULA_HWHEADER = 16,
};
/* room for a cooked header and a whole datagram */
#define RECORD_MAX (SLL2_HLEN + UXT_PKT_MAXLEN)

struct uxt_pcap_reader {
	pcap_t *p;
	int linktype;
	uint64_t count;
	char linktype_text[96];
};

struct uxt_pcap_writer {
	pcap_t *dead;
	pcap_dumper_t *dumper;
	unsigned char *scratch;		/* one record being assembled */
	char path[4096];
};

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* Reading */

static bool linktype_supported(int lt)
{
	return lt == DLT_EN10MB || lt == DLT_RAW || lt == DLT_IPV4 ||
	       lt == DLT_LINUX_SLL || lt == DLT_LINUX_SLL2 || lt == DLT_NULL ||
	       lt == DLT_LOOP || lt == DLT_NFLOG;
}

int uxt_pcap_open_read(struct uxt_pcap_reader **rp, const char *path,
		       struct uxt_err *err)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct uxt_pcap_reader *r;
	const char *name, *desc;

	*rp = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return uxt_error_bare(err, UXT_RESOURCE_PROBLEM, "out of memory");
	/* nanoseconds, whatever the file holds, so that the clock loses
	 * nothing of what the capture recorded */
	r->p = pcap_open_offline_with_tstamp_precision(path,
						      PCAP_TSTAMP_PRECISION_NANO,
						      errbuf);
	if (!r->p) {
		free(r);
		return uxt_error_bare(err, UXT_OTHER_PROBLEM, "%s: %s", path,
				      errbuf[0] ? errbuf : "cannot read");
	}
	r->linktype = pcap_datalink(r->p);
	name = pcap_datalink_val_to_name(r->linktype);
	desc = pcap_datalink_val_to_description(r->linktype);
	snprintf(r->linktype_text, sizeof(r->linktype_text), "%s (%s)",
		 name ? name : "?", desc ? desc : "?");
	if (!linktype_supported(r->linktype)) {
		uxt_error_bare(err, UXT_OTHER_PROBLEM,
			       "%s: link type %d %s is not one uxt replay reads "
			       "(Ethernet, raw IP, Linux cooked v1/v2, loopback, NFLOG)",
			       path, r->linktype, r->linktype_text);
		uxt_pcap_close_read(r);
		return -1;
	}
	*rp = r;
	return 0;
}

void uxt_pcap_close_read(struct uxt_pcap_reader *r)
{
	if (!r)
		return;
	if (r->p)
		pcap_close(r->p);
	free(r);
}

const char *uxt_pcap_linktype_text(const struct uxt_pcap_reader *r)
{
	return r->linktype_text;
}

static void skip(struct uxt_frame *f, const char *fmt, unsigned int v)
{
	snprintf(f->skip_text, sizeof(f->skip_text), fmt, v);
	f->skip = f->skip_text;
}

/* sll_pkttype -> direction and skb->pkt_type */
static void set_sll_pkttype(struct uxt_frame *f, unsigned int pkttype)
{
	if (pkttype == SLL_OUTGOING) {
		f->dir = UXT_FRAME_DIR_OUT;
		f->pkt_type = UXT_PACKET_OUTGOING;
	} else if (pkttype <= 3) {
		f->dir = UXT_FRAME_DIR_IN;
		f->pkt_type = (int)pkttype;
	} else {
		/* PACKET_LOOPBACK and the like: not a packet of the IP
		 * stack's path */
		skip(f, "cooked packet type %u is neither received nor sent", pkttype);
	}
}

static void set_link_src(struct uxt_frame *f, const unsigned char *addr,
			 unsigned int halen)
{
	if (halen > sizeof(f->link_src))
		halen = sizeof(f->link_src);
	memcpy(f->link_src, addr, halen);
	f->link_src_len = (uint8_t)halen;
}

/* The TLVs of one DLT_NFLOG record: payload, devices, link-layer header. */
static void decode_nflog(struct uxt_frame *f, const unsigned char *p,
			 size_t caplen)
{
	size_t off = 4;
	const unsigned char *payload = NULL;
	size_t payload_len = 0;
	int indev = 0, outdev = 0;

	if (caplen < 4 || p[0] != 2) {
		skip(f, "NFLOG message of family %u, not IPv4", caplen ? p[0] : 0);
		return;
	}
	/* bounded by caplen: every step advances by at least 4 bytes */
	while (off + 4 <= caplen) {
		/* lengths and types are in the capturing host's order */
		unsigned int len = (unsigned int)(p[off] | p[off + 1] << 8);
		unsigned int type = (unsigned int)(p[off + 2] | p[off + 3] << 8) & 0x7FFF;
		const unsigned char *val = p + off + 4;

		if (len < 4 || off + len > caplen)
			break;
		switch (type) {
		case NFULA_PAYLOAD:
			payload = val;
			payload_len = len - 4;
			break;
		case NFULA_IFINDEX_INDEV:
			if (len >= 8)
				indev = (int)get32(val);
			break;
		case NFULA_IFINDEX_OUTDEV:
			if (len >= 8)
				outdev = (int)get32(val);
			break;
		case NFULA_HWHEADER:
			if (len - 4 <= sizeof(f->mac)) {
				memcpy(f->mac, val, len - 4);
				f->mac_len = (uint8_t)(len - 4);
			}
			break;
		case NFULA_HWTYPE:
			if (len >= 6)
				f->hwtype = get16(val);
			break;
		default:
			break;
		}
		off += (len + 3u) & ~3u;
	}
	if (!payload) {
		f->skip = "NFLOG message without a payload";
		return;
	}
	f->ip = payload;
	f->ip_len = payload_len;
	f->ip_wire_len = payload_len;
	if (indev) {
		f->dir = UXT_FRAME_DIR_IN;
		f->ifindex = indev;
	} else {
		f->dir = UXT_FRAME_DIR_OUT;
		f->ifindex = outdev;
		f->mac_len = 0;
	}
}

static void decode(struct uxt_pcap_reader *r, struct uxt_frame *f,
		   const unsigned char *p, size_t caplen, size_t wirelen)
{
	size_t hlen = 0;
	unsigned int proto = ETHERTYPE_IP;

	switch (r->linktype) {
	case DLT_EN10MB:
		if (caplen < ETH_HLEN) {
			skip(f, "Ethernet frame of %u bytes", (unsigned int)caplen);
			return;
		}
		proto = get16(p + 12);
		if (proto == ETHERTYPE_VLAN || proto == ETHERTYPE_QINQ) {
			skip(f, "VLAN-tagged frame (ethertype 0x%04x)", proto);
			return;
		}
		memcpy(f->mac, p, ETH_HLEN);
		f->mac_len = ETH_HLEN;
		f->hwtype = UXT_ARPHRD_ETHER;
		hlen = ETH_HLEN;
		break;
	case DLT_LINUX_SLL:
		if (caplen < SLL_HLEN) {
			skip(f, "cooked record of %u bytes", (unsigned int)caplen);
			return;
		}
		set_sll_pkttype(f, get16(p));
		f->hwtype = get16(p + 2);
		set_link_src(f, p + 6, get16(p + 4));
		proto = get16(p + 14);
		hlen = SLL_HLEN;
		break;
	case DLT_LINUX_SLL2:
		if (caplen < SLL2_HLEN) {
			skip(f, "cooked v2 record of %u bytes", (unsigned int)caplen);
			return;
		}
		proto = get16(p);
		f->ifindex = (int)get32(p + 4);
		f->hwtype = get16(p + 8);
		set_sll_pkttype(f, p[10]);
		set_link_src(f, p + 12, p[11]);
		hlen = SLL2_HLEN;
		break;
	case DLT_NULL:
	case DLT_LOOP: {
		uint32_t fam;

		if (caplen < 4) {
			skip(f, "loopback record of %u bytes", (unsigned int)caplen);
			return;
		}
		/* DLT_NULL: the capturing host's byte order; DLT_LOOP:
		 * network order */
		fam = get32(p);
		if (r->linktype == DLT_NULL && fam != NULL_AF_INET)
			fam = (uint32_t)(p[0] | p[1] << 8 | p[2] << 16 |
					 (uint32_t)p[3] << 24);
		if (fam != NULL_AF_INET) {
			skip(f, "not IPv4 (address family %u)", fam);
			return;
		}
		f->hwtype = UXT_ARPHRD_LOOPBACK;
		hlen = 4;
		break;
	}
	case DLT_NFLOG:
		decode_nflog(f, p, caplen);
		if (f->skip)
			return;
		break;
	default: /* raw IP */
		f->hwtype = UXT_ARPHRD_NONE;
		break;
	}
	if (f->skip)
		return;
	if (proto != ETHERTYPE_IP) {
		skip(f, "not IPv4 (ethertype 0x%04x)", proto);
		return;
	}
	if (r->linktype != DLT_NFLOG) {
		f->ip = p + hlen;
		f->ip_len = caplen - hlen;
		f->ip_wire_len = wirelen > hlen ? wirelen - hlen : 0;
	}
	if (f->ip_len < 1) {
		f->skip = "no IP header";
		return;
	}
	if (f->ip[0] >> 4 != 4) {
		skip(f, "not IPv4 (IP version %u)", f->ip[0] >> 4);
		return;
	}
	/* a datagram cut by the snapshot length is not what the host got */
	if (f->ip_len < f->ip_wire_len) {
		size_t tot = f->ip_len >= 4 ? get16(f->ip + 2) : f->ip_wire_len;

		if (tot > f->ip_len) {
			snprintf(f->skip_text, sizeof(f->skip_text),
				 "captured %zu of %zu bytes (snapshot length)",
				 f->ip_len, f->ip_wire_len);
			f->skip = f->skip_text;
		}
	}
}

int uxt_pcap_next(struct uxt_pcap_reader *r, struct uxt_frame *f,
		  struct uxt_err *err)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = pcap_next_ex(r->p, &h, &data);

	if (rc == PCAP_ERROR_BREAK)
		return 0;
	if (rc != 1)
		return uxt_error_bare(err, UXT_OTHER_PROBLEM,
				      "damaged capture after record %llu: %s",
				      (unsigned long long)r->count,
				      pcap_geterr(r->p));
	memset(f, 0, sizeof(*f));
	f->index = ++r->count;
	f->pkt_type = -1;
	f->dir = UXT_FRAME_DIR_UNKNOWN;
	/* the handle was opened with nanosecond precision */
	f->tstamp_ns = (uint64_t)h->ts.tv_sec * 1000000000u +
		       (uint64_t)h->ts.tv_usec;
	decode(r, f, data, h->caplen, h->len > h->caplen ? h->len : h->caplen);
	return 1;
}

/* Writing */

static int open_writer(struct uxt_pcap_writer **wp, const char *path,
		       int linktype, struct uxt_err *err)
{
	struct uxt_pcap_writer *w = calloc(1, sizeof(*w));

	*wp = NULL;
	if (!w)
		return uxt_error_bare(err, UXT_RESOURCE_PROBLEM, "out of memory");
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->scratch = malloc(RECORD_MAX);
	w->dead = pcap_open_dead(linktype, RECORD_MAX);
	if (!w->scratch || !w->dead) {
		uxt_pcap_close_write(w, NULL);
		return uxt_error_bare(err, UXT_RESOURCE_PROBLEM, "out of memory");
	}
	w->dumper = pcap_dump_open(w->dead, path);
	if (!w->dumper) {
		uxt_error_bare(err, UXT_OTHER_PROBLEM, "%s: %s", path,
			       pcap_geterr(w->dead));
		uxt_pcap_close_write(w, NULL);
		return -1;
	}
	*wp = w;
	return 0;
}

int uxt_pcap_open_sll2(struct uxt_pcap_writer **w, const char *path,
		       struct uxt_err *err)
{
	return open_writer(w, path, DLT_LINUX_SLL2, err);
}

static void dump(struct uxt_pcap_writer *w, uint64_t now_ns, size_t len)
{
	struct pcap_pkthdr h;

	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = (time_t)(now_ns / 1000000000u);
	h.ts.tv_usec = (suseconds_t)(now_ns % 1000000000u / 1000u);
	h.caplen = h.len = (bpf_u_int32)len;
	pcap_dump((u_char *)w->dumper, &h, w->scratch);
}

void uxt_pcap_write_sll2(struct uxt_pcap_writer *w, uint64_t now_ns,
			 const struct uxt_pkt *pkt, const struct uxt_iface *dev)
{
	unsigned char *h = w->scratch;
	uint32_t len = pkt->len;
	uint8_t halen = dev && dev->mac_len <= 8 ? dev->mac_len : 0;

	if (len > UXT_PKT_MAXLEN)
		len = UXT_PKT_MAXLEN;
	memset(h, 0, SLL2_HLEN);
	put16(h, ETHERTYPE_IP);
	put32(h + 4, dev ? (uint32_t)dev->index : 0);
	put16(h + 8, dev ? dev->type : UXT_ARPHRD_NONE);
	h[10] = SLL_OUTGOING;
	h[11] = halen;
	if (halen)
		memcpy(h + 12, dev->mac, halen);
	memcpy(h + SLL2_HLEN, pkt->data, len);
	dump(w, now_ns, SLL2_HLEN + len);
}

int uxt_pcap_close_write(struct uxt_pcap_writer *w, struct uxt_err *err)
{
	int ret = 0;

	if (!w)
		return 0;
	if (w->dumper) {
		FILE *f = pcap_dump_file(w->dumper);

		if (pcap_dump_flush(w->dumper) != 0 || (f && ferror(f))) {
			if (err)
				uxt_error_bare(err, UXT_OTHER_PROBLEM,
					       "%s: write failed: %s", w->path,
					       strerror(errno));
			ret = -1;
		}
		pcap_dump_close(w->dumper);
	}
	if (w->dead)
		pcap_close(w->dead);
	free(w->scratch);
	free(w);
	return ret;
}
