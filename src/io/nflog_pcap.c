/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NFLOG records (nfnetlink_log's __build_packet_message) and the pcap files
 * tcpdump -i nflog:GROUP -w would write from them; see nflog_pcap.h.
 */
#include "nflog_pcap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ext.h"
#include "host.h"
#include "logfmt.h"

/* NFULA_* attribute types (nfnetlink_log.h) */
enum {
	NFULA_PACKET_HDR = 1,
	NFULA_MARK = 2,
	NFULA_TIMESTAMP = 3,
	NFULA_IFINDEX_INDEV = 4,
	NFULA_IFINDEX_OUTDEV = 5,
	NFULA_HWADDR = 8,
	NFULA_PAYLOAD = 9,
	NFULA_PREFIX = 10,
	NFULA_UID = 11,
	NFULA_GID = 14,
	NFULA_HWTYPE = 15,
	NFULA_HWHEADER = 16,
	NFULA_HWLEN = 17,
};

#define AF_INET_ 2
#define ETH_P_IP_ 0x0800
#define ETH_ALEN_ 6
/* NF_LOG_PREFIXLEN: nf_log_packet formats the prefix into 128 bytes */
#define PREFIX_MAX 127

static void put_be16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static void put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* nla_put(): header in host order, value, zero padding to 4 bytes */
static void put_attr(struct uxt_buf *b, uint16_t type, const void *val,
		     uint32_t len)
{
	static const char zeros[4];
	uint16_t hdr[2] = {(uint16_t)(4 + len), type};

	uxt_buf_putn(b, (const char *)hdr, sizeof(hdr));
	if (len)
		uxt_buf_putn(b, val, len);
	uxt_buf_putn(b, zeros, (4 - (len & 3)) & 3);
}

static void put_attr_be32(struct uxt_buf *b, uint16_t type, uint32_t v)
{
	unsigned char val[4];

	put_be32(val, v);
	put_attr(b, type, val, sizeof(val));
}

static void put_attr_be16(struct uxt_buf *b, uint16_t type, uint16_t v)
{
	unsigned char val[2];

	put_be16(val, v);
	put_attr(b, type, val, sizeof(val));
}

/* The HW attributes of a packet received with a link-layer header. */
static void put_hw_attrs(struct uxt_buf *b, const struct uxt_pkt *pkt,
			 const struct uxt_iface *dev)
{
	unsigned char hdr[UXT_MAC_HDR_MAX];
	unsigned int kept, n;

	n = uxt_log_link_header(pkt, dev, hdr, &kept);
	/* a device without link-layer header (tun) still has its mac header
	 * "set", of length 0; an Ethernet packet the engine kept no header
	 * for has none to report */
	if (kept == 0 && dev->type != UXT_ARPHRD_NONE &&
	    pkt->pkt_type != UXT_PACKET_LOOPBACK)
		return;
	/* dev_parse_header(): Ethernet header_ops (also lo's) give the source
	 * address */
	if (kept && n >= 12 && (dev->type == UXT_ARPHRD_ETHER ||
				dev->type == UXT_ARPHRD_LOOPBACK)) {
		unsigned char hw[12] = {0};

		put_be16(hw, ETH_ALEN_);
		memcpy(hw + 4, hdr + 6, ETH_ALEN_);
		put_attr(b, NFULA_HWADDR, hw, sizeof(hw));
	}
	put_attr_be16(b, NFULA_HWTYPE, dev->type);
	put_attr_be16(b, NFULA_HWLEN, (uint16_t)n);
	put_attr(b, NFULA_HWHEADER, hdr, n);
}

void uxt_nflog_record(struct uxt_buf *b, const struct uxt_pkt *pkt,
		      unsigned int hook, uint16_t group, const char *prefix,
		      uint32_t copy_len)
{
	const struct uxt_iface *in = pkt->indev, *out = pkt->outdev;
	unsigned char nfgen[4] = {AF_INET_, 0, 0, 0};
	unsigned char phdr[4] = {0};
	uint32_t data_len;

	put_be16(nfgen + 2, group);
	uxt_buf_putn(b, (const char *)nfgen, sizeof(nfgen));
	put_be16(phdr, ETH_P_IP_);
	phdr[2] = (unsigned char)hook;
	put_attr(b, NFULA_PACKET_HDR, phdr, sizeof(phdr));
	/* nf_log_packet always passes a prefix, so an empty one is sent as
	 * its terminator alone */
	put_attr(b, NFULA_PREFIX, prefix, (uint32_t)strnlen(prefix, PREFIX_MAX) + 1);
	if (in)
		put_attr_be32(b, NFULA_IFINDEX_INDEV, (uint32_t)in->index);
	if (out)
		put_attr_be32(b, NFULA_IFINDEX_OUTDEV, (uint32_t)out->index);
	if (pkt->mark)
		put_attr_be32(b, NFULA_MARK, pkt->mark);
	if (in)
		put_hw_attrs(b, pkt, uxt_log_skb_dev(hook, in, out));
	if (hook <= UXT_HOOK_FORWARD && pkt->tstamp_ns) {
		unsigned char ts[16];

		put_be64(ts, pkt->tstamp_ns / 1000000000u);
		put_be64(ts + 8, pkt->tstamp_ns % 1000000000u / 1000u);
		put_attr(b, NFULA_TIMESTAMP, ts, sizeof(ts));
	}
	if (pkt->has_sock) {
		put_attr_be32(b, NFULA_UID, pkt->uid);
		put_attr_be32(b, NFULA_GID, pkt->gid);
	}
	data_len = UXT_NFLOG_LISTENER_RANGE;
	if (copy_len < data_len)
		data_len = copy_len;
	if (data_len > pkt->len)
		data_len = pkt->len;
	if (data_len)
		put_attr(b, NFULA_PAYLOAD, pkt->data, data_len);
}

/* The writer */

struct group_file {
	uint16_t group;
	FILE *f;
};

struct uxt_nflog_pcap {
	char *dir;
	struct group_file *files;
	size_t nfiles;
};

/* pcap's file header, host byte order, as libpcap's pcap_dump_open */
struct pcap_file_header_ {
	uint32_t magic;
	uint16_t version_major;
	uint16_t version_minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
};

struct pcap_record_header_ {
	uint32_t ts_sec;
	uint32_t ts_usec;
	uint32_t caplen;
	uint32_t len;
};

struct uxt_nflog_pcap *uxt_nflog_pcap_open(const char *dir,
					   struct uxt_err *err)
{
	struct uxt_nflog_pcap *w;

	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		uxt_error(err, UXT_OTHER_PROBLEM, "cannot create %s: %s", dir,
			  strerror(errno));
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w || !(w->dir = strdup(dir))) {
		free(w);
		uxt_error(err, UXT_RESOURCE_PROBLEM, "out of memory");
		return NULL;
	}
	return w;
}

static FILE *group_file(struct uxt_nflog_pcap *w, uint16_t group,
			struct uxt_err *err)
{
	struct pcap_file_header_ fh = {
		.magic = 0xa1b2c3d4u,
		.version_major = 2,
		.version_minor = 4,
		.snaplen = UXT_NFLOG_SNAPLEN,
		.linktype = UXT_DLT_NFLOG,
	};
	struct group_file *files;
	char path[4200];
	FILE *f;

	for (size_t i = 0; i < w->nfiles; i++)
		if (w->files[i].group == group)
			return w->files[i].f;
	snprintf(path, sizeof(path), "%s/nflog-%u.pcap", w->dir, group);
	f = fopen(path, "wb");
	if (!f) {
		uxt_error(err, UXT_OTHER_PROBLEM, "cannot write %s: %s", path,
			  strerror(errno));
		return NULL;
	}
	files = realloc(w->files, (w->nfiles + 1) * sizeof(*files));
	if (!files) {
		fclose(f);
		uxt_error(err, UXT_RESOURCE_PROBLEM, "out of memory");
		return NULL;
	}
	w->files = files;
	w->files[w->nfiles].group = group;
	w->files[w->nfiles].f = f;
	w->nfiles++;
	if (fwrite(&fh, sizeof(fh), 1, f) != 1) {
		uxt_error(err, UXT_OTHER_PROBLEM, "cannot write %s: %s", path,
			  strerror(errno));
		return NULL;
	}
	return f;
}

int uxt_nflog_pcap_write(struct uxt_nflog_pcap *w, const struct uxt_pkt *pkt,
			 unsigned int hook, uint16_t group, const char *prefix,
			 uint32_t copy_len, uint64_t now_ns,
			 struct uxt_err *err)
{
	struct pcap_record_header_ rh;
	struct uxt_buf rec;
	FILE *f = group_file(w, group, err);
	int ok;

	if (!f)
		return -1;
	uxt_buf_init(&rec, -1);
	uxt_nflog_record(&rec, pkt, hook, group, prefix, copy_len);
	rh.ts_sec = (uint32_t)(now_ns / 1000000000u);
	rh.ts_usec = (uint32_t)(now_ns % 1000000000u / 1000u);
	rh.caplen = rh.len = (uint32_t)rec.len;
	ok = fwrite(&rh, sizeof(rh), 1, f) == 1 &&
	     fwrite(rec.data, 1, rec.len, f) == rec.len;
	uxt_buf_free(&rec);
	if (!ok)
		return uxt_error(err, UXT_OTHER_PROBLEM,
				 "cannot write %s/nflog-%u.pcap: %s", w->dir, group,
				 strerror(errno));
	return 0;
}

int uxt_nflog_pcap_close(struct uxt_nflog_pcap *w, struct uxt_err *err)
{
	int ret = 0;

	if (!w)
		return 0;
	for (size_t i = 0; i < w->nfiles; i++) {
		if (fclose(w->files[i].f) == 0 || ret != 0)
			continue;
		ret = -1;
		/* a caller cleaning up after another failure passes no record */
		if (err)
			uxt_error(err, UXT_OTHER_PROBLEM,
				  "cannot write %s/nflog-%u.pcap: %s", w->dir,
				  w->files[i].group, strerror(errno));
	}
	free(w->files);
	free(w->dir);
	free(w);
	return ret;
}
