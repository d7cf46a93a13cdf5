/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Packets: an IPv4 datagram plus what the kernel knows about it.
 *
 * The bytes are the L3 datagram (IPv4 header first); the link-layer header
 * it arrived with is kept beside it, for LOG's MAC= and NFLOG.  Metadata is
 * what an sk_buff carries through netfilter: mark, trace flag, devices,
 * packet type, timestamp, the owning socket's uid/gid, and (connection
 * tracking) its entry.  Nothing here trusts a length: accessors check the
 * datagram before any field beyond the IP header is read.
 */
#ifndef UXT_PKT_H
#define UXT_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UXT_PKT_MAXLEN 65535
#define UXT_MAC_HDR_MAX 32

/* skb->pkt_type */
enum uxt_pkt_type {
	UXT_PACKET_HOST = 0,
	UXT_PACKET_BROADCAST = 1,
	UXT_PACKET_MULTICAST = 2,
	UXT_PACKET_OTHERHOST = 3,
	UXT_PACKET_OUTGOING = 4,
	UXT_PACKET_LOOPBACK = 5,	/* a local multicast or broadcast
					 * looped back (dev_loopback_xmit) */
};

/* ARPHRD_* of the link-layer header kept with a packet */
enum {
	UXT_ARPHRD_ETHER = 1,
	UXT_ARPHRD_LOOPBACK = 772,
	UXT_ARPHRD_NONE = 0xFFFE,
};

struct uxt_iface;
struct uxt_ct;

/*
 * The IP options of a datagram as the kernel compiled them (IPCB(skb)->opt,
 * struct ip_options): offsets from the start of the IP header, 0 when
 * absent.  Filled in for received datagrams (ipopt.h); zero for datagrams
 * sent through a raw socket.
 */
struct uxt_ip_options {
	uint32_t faddr;			/* reply: first hop of the reversed route */
	uint32_t nexthop;		/* source route: the next hop chosen */
	uint8_t optlen;
	uint8_t srr, rr, ts, router_alert, cipso;
	bool is_strictroute, srr_is_hit, is_changed;
	bool rr_needaddr, ts_needtime, ts_needaddr;
};

struct uxt_pkt {
	unsigned char *data;		/* the datagram */
	uint32_t len;			/* its length (tot_len once checked) */
	uint32_t cap;			/* bytes available at data */
	unsigned char mac[UXT_MAC_HDR_MAX]; /* link-layer header, if known */
	uint8_t mac_len;
	uint16_t hwtype;		/* UXT_ARPHRD_* of mac */
	uint8_t pkt_type;		/* enum uxt_pkt_type */
	uint32_t mark;
	bool nf_trace;
	const struct uxt_iface *indev;	/* received on (NULL when local) */
	const struct uxt_iface *outdev;	/* leaving through, once routed */
	uint32_t nexthop;		/* routing result, network order */
	uint64_t tstamp_ns;		/* time of arrival or creation */
	bool has_sock;			/* sent by a local socket */
	uint32_t uid, gid;		/* its owner, when has_sock */
	struct uxt_ct *ct;		/* connection tracking entry */
	uint8_t ctinfo;
	uint16_t frag_max_size;		/* largest fragment, after reassembly */
	struct uxt_ip_options opt;	/* IPCB(skb)->opt */
	/* CHECKSUM_PARTIAL: the transport checksum at csum_offset (from
	 * data) holds only the pseudo-header sum until the packet leaves */
	bool csum_partial;
	uint16_t csum_offset;
	void *owned;			/* buffer to free with the packet */
};

/* The fixed part of the IPv4 header. */
struct uxt_iphdr {
	uint8_t ver_ihl;
	uint8_t tos;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag_off;
	uint8_t ttl;
	uint8_t protocol;
	uint16_t check;
	uint32_t saddr;
	uint32_t daddr;
};

#define UXT_IP_CE 0x8000
#define UXT_IP_DF 0x4000
#define UXT_IP_MF 0x2000
#define UXT_IP_OFFSET 0x1FFF

static inline struct uxt_iphdr *uxt_iph(const struct uxt_pkt *p)
{
	return (struct uxt_iphdr *)p->data;
}

static inline unsigned int uxt_ip_hlen(const struct uxt_pkt *p)
{
	return (unsigned int)(p->data[0] & 0x0F) * 4u;
}

/* The fragment offset field (in 8-byte units); non-zero: not a first
 * fragment. */
uint16_t uxt_pkt_fragoff(const struct uxt_pkt *p);

/*
 * Bytes [off, off + len) of the datagram, or NULL when the datagram is
 * shorter (skb_header_pointer without the copy: the data is linear).
 */
static inline const void *uxt_pkt_header(const struct uxt_pkt *p, uint32_t off,
					 uint32_t len)
{
	if (off > p->len || len > p->len - off)
		return NULL;
	return p->data + off;
}

/* A packet owning a buffer of cap bytes holding a copy of data. */
int uxt_pkt_init_copy(struct uxt_pkt *p, const void *data, uint32_t len,
		      uint32_t cap);
void uxt_pkt_release(struct uxt_pkt *p);
/* A copy of p with its own buffer (metadata included). */
int uxt_pkt_clone(struct uxt_pkt *dst, const struct uxt_pkt *src);

/* skb_checksum_help(): completes a CHECKSUM_PARTIAL transport checksum
 * (over the datagram after the IP header). */
void uxt_pkt_csum_help(struct uxt_pkt *p);

/* Internet checksums. */
uint16_t uxt_csum(const void *data, size_t len, uint32_t sum);
uint16_t uxt_ip_csum(const struct uxt_iphdr *iph, unsigned int hlen);
/* Sets the IP header checksum. */
void uxt_ip_send_check(struct uxt_pkt *p);
/* Sum of the pseudo-header for proto and length (not folded). */
uint32_t uxt_pseudo_sum(uint32_t saddr, uint32_t daddr, uint8_t proto,
			uint16_t len);
/* Incremental update of a checksum field when a 16/32-bit value changes. */
void uxt_csum_replace2(uint16_t *sum, uint16_t from, uint16_t to);
void uxt_csum_replace4(uint16_t *sum, uint32_t from, uint32_t to);

/*
 * The kernel's checks on a received datagram before PREROUTING
 * (ip_rcv_core): returns NULL if it may go on, else the reason it is
 * dropped; trims trailing link-layer padding to tot_len.
 */
const char *uxt_pkt_rcv_check(struct uxt_pkt *p);

#endif
