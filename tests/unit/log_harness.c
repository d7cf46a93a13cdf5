/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Test driver for the packet log line, NFLOG records and the rule walk's
 * LOG/NFLOG/TRACE/MARK output, used by tests/log_units.py to compare
 * uxtables with the kernel on the same packets.  It reads commands, one a
 * line, from stdin and answers on stdout:
 *
 *   F PKT LOGFLAGS PREFIX          the log line: "<text>" (no level)
 *   N PKT GROUP PREFIX COPYLEN     the NFLOG record, in hex
 *   W DIR                          opens an NFLOG pcap writer on DIR
 *   P PKT GROUP PREFIX COPYLEN NOW writes a record with the writer
 *   C                              closes the writer
 *   E STATEDIR                     loads a ruleset (uxt state directory)
 *                                  into a namespace without host model
 *   R DEV TSTAMP FRAMEHEX          the namespace receives an Ethernet frame
 *                                  on DEV; answers "L <level>text" per log
 *                                  line, "G hex" per NFLOG message, then
 *                                  "D verdict-or-reason"
 *
 * PKT is "HOOK IN OUT MARK SOCK UID GID TSTAMP MACHEX PKTHEX", IN, OUT and
 * DEV are "name,index,arphrd_type" or "-"; PREFIX is hex ("-" for empty);
 * hex "-" is empty.  Every answer ends with a newline; errors go to stderr
 * with exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "err.h"
#include "ext.h"
#include "logfmt.h"
#include "nflog_pcap.h"
#include "pkt.h"
#include "store.h"
#include "table.h"

#define MAX_IFACES 32

struct harness {
	struct uxt_iface ifaces[MAX_IFACES];
	unsigned int nifaces;
	struct uxt_nflog_pcap *writer;
	struct uxt_store store;
	bool store_open;
	struct uxt_ruleset rs;
	bool rs_loaded;
	struct uxt_ns *ns;
	const char *drop_reason;
	bool dropped;
};

static void die(const char *what)
{
	fprintf(stderr, "log_harness: %s\n", what);
	exit(1);
}

static void put_hex(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* Decodes hex ("-" is empty) into a malloc()ed buffer. */
static unsigned char *unhex(const char *s, size_t *len)
{
	size_t n = strcmp(s, "-") == 0 ? 0 : strlen(s);
	unsigned char *out = malloc(n / 2 + 1);

	if (!out || n % 2)
		die("bad hex");
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			die("bad hex");
		out[i] = (unsigned char)v;
	}
	*len = n / 2;
	return out;
}

static char *unhex_str(const char *s)
{
	size_t n;
	unsigned char *p = unhex(s, &n);

	p[n] = '\0';
	return (char *)p;
}

/* "name,index,type" -> an interface of the harness, NULL for "-" */
static const struct uxt_iface *iface(struct harness *h, const char *spec)
{
	char name[64];
	int index;
	unsigned int type;
	struct uxt_iface *d;

	if (strcmp(spec, "-") == 0)
		return NULL;
	if (sscanf(spec, "%63[^,],%d,%u", name, &index, &type) != 3 ||
	    strlen(name) >= sizeof(d->name))
		die("bad interface");
	for (unsigned int i = 0; i < h->nifaces; i++)
		if (strcmp(h->ifaces[i].name, name) == 0 &&
		    h->ifaces[i].index == index && h->ifaces[i].type == type)
			return &h->ifaces[i];
	if (h->nifaces == MAX_IFACES)
		die("too many interfaces");
	d = &h->ifaces[h->nifaces++];
	memset(d, 0, sizeof(*d));
	strcpy(d->name, name);
	d->index = index;
	d->type = (uint16_t)type;
	d->mac_len = type == UXT_ARPHRD_NONE ? 0 : 6;
	d->mtu = 1500;
	d->up = true;
	d->loopback = type == UXT_ARPHRD_LOOPBACK;
	return d;
}

/* Splits line into at most max words. */
static int words(char *line, char **w, int max)
{
	int n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " \t\n", &save); t && n < max;
	     t = strtok_r(NULL, " \t\n", &save))
		w[n++] = t;
	return n;
}

/* PKT (10 words) -> a packet with its metadata; returns the hook */
static unsigned int read_pkt(struct harness *h, char **w, struct uxt_pkt *p)
{
	unsigned int hook = (unsigned int)strtoul(w[0], NULL, 0);
	size_t mac_len, len;
	unsigned char *mac = unhex(w[8], &mac_len);
	unsigned char *data = unhex(w[9], &len);

	if (mac_len > UXT_MAC_HDR_MAX || uxt_pkt_init_copy(p, data, (uint32_t)len,
							   (uint32_t)len))
		die("bad packet");
	free(data);
	memcpy(p->mac, mac, mac_len);
	p->mac_len = (uint8_t)mac_len;
	free(mac);
	p->indev = iface(h, w[1]);
	p->outdev = iface(h, w[2]);
	p->hwtype = p->indev ? p->indev->type : UXT_ARPHRD_ETHER;
	p->mark = (uint32_t)strtoul(w[3], NULL, 0);
	p->has_sock = strtoul(w[4], NULL, 0) != 0;
	p->uid = (uint32_t)strtoul(w[5], NULL, 0);
	p->gid = (uint32_t)strtoul(w[6], NULL, 0);
	p->tstamp_ns = strtoull(w[7], NULL, 0);
	return hook;
}

static void ev_log(void *ctx, unsigned int level, const char *line)
{
	(void)ctx;
	printf("L <%u>%s\n", level, line);
}

static void ev_nflog(void *ctx, const struct uxt_pkt *pkt, unsigned int hook,
		     uint16_t group, const char *prefix, uint32_t copy_len)
{
	struct harness *h = ctx;
	struct uxt_buf rec;
	struct uxt_err err;

	uxt_buf_init(&rec, -1);
	uxt_nflog_record(&rec, pkt, hook, group, prefix, copy_len);
	printf("G ");
	put_hex((const unsigned char *)rec.data, rec.len);
	printf("\n");
	uxt_buf_free(&rec);
	if (h->writer && uxt_nflog_pcap_write(h->writer, pkt, hook, group, prefix,
					      copy_len, pkt->tstamp_ns, &err))
		die(err.msg);
}

static void ev_drop(void *ctx, const struct uxt_pkt *pkt, const char *reason)
{
	struct harness *h = ctx;

	(void)pkt;
	h->dropped = true;
	h->drop_reason = reason;
}

static void load_ruleset(struct harness *h, const char *dir)
{
	struct uxt_events ev = {
		.ctx = h,
		.log = ev_log,
		.nflog = ev_nflog,
		.drop = ev_drop,
	};
	struct uxt_err err;

	if (h->ns)
		die("E given twice");
	if (uxt_store_open(&h->store, dir, &err))
		die(err.msg);
	h->store_open = true;
	uxt_ruleset_init(&h->rs);
	h->rs_loaded = true;
	if (uxt_store_load(&h->store, &h->rs, &err))
		die(err.msg);
	h->ns = uxt_ns_new();
	uxt_ns_set_events(h->ns, &ev);
	if (uxt_ns_set_ruleset(h->ns, &h->rs, &err))
		die(err.msg);
}

static void receive(struct harness *h, char **w)
{
	const struct uxt_iface *dev = iface(h, w[0]);
	uint64_t ts = strtoull(w[1], NULL, 0);
	size_t len;
	unsigned char *frame = unhex(w[2], &len);
	struct uxt_pkt p;

	if (!h->ns || !dev || len < 14)
		die("R needs E, a device and an Ethernet frame");
	if (uxt_pkt_init_copy(&p, frame + 14, (uint32_t)(len - 14),
			      (uint32_t)(len - 14)))
		die("out of memory");
	memcpy(p.mac, frame, 14);
	p.mac_len = 14;
	p.hwtype = dev->type;
	p.pkt_type = UXT_PACKET_HOST;
	p.tstamp_ns = ts;
	free(frame);
	h->dropped = false;
	h->drop_reason = NULL;
	uxt_ns_set_time(h->ns, ts);
	uxt_ns_receive(h->ns, &p, dev);
	printf("D %s\n", h->dropped ? (h->drop_reason ? h->drop_reason : "DROP")
				    : "ACCEPT");
}

int main(void)
{
	static struct harness h;
	char *line = NULL;
	size_t cap = 0;
	struct uxt_err err;

	while (getline(&line, &cap, stdin) > 0) {
		char *w[20];
		int n = words(line, w, 20);
		struct uxt_pkt p;
		struct uxt_buf b;
		unsigned int hook;
		char *prefix;

		if (n == 0)
			continue;
		uxt_buf_init(&b, -1);
		if (strcmp(w[0], "F") == 0 && n == 13) {
			hook = read_pkt(&h, w + 1, &p);
			prefix = unhex_str(w[12]);
			uxt_log_format(&b, &p, hook, p.indev, p.outdev, prefix,
				       (unsigned int)strtoul(w[11], NULL, 0));
			printf("%s\n", uxt_buf_str(&b));
			free(prefix);
			uxt_pkt_release(&p);
		} else if (strcmp(w[0], "N") == 0 && n == 14) {
			hook = read_pkt(&h, w + 1, &p);
			prefix = unhex_str(w[12]);
			uxt_nflog_record(&b, &p, hook,
					 (uint16_t)strtoul(w[11], NULL, 0), prefix,
					 (uint32_t)strtoul(w[13], NULL, 0));
			put_hex((const unsigned char *)b.data, b.len);
			printf("\n");
			free(prefix);
			uxt_pkt_release(&p);
		} else if (strcmp(w[0], "W") == 0 && n == 2) {
			if (h.writer)
				die("W given twice");
			h.writer = uxt_nflog_pcap_open(w[1], &err);
			if (!h.writer)
				die(err.msg);
			printf("ok\n");
		} else if (strcmp(w[0], "P") == 0 && n == 15) {
			hook = read_pkt(&h, w + 1, &p);
			prefix = unhex_str(w[12]);
			if (!h.writer ||
			    uxt_nflog_pcap_write(h.writer, &p, hook,
						 (uint16_t)strtoul(w[11], NULL, 0),
						 prefix,
						 (uint32_t)strtoul(w[13], NULL, 0),
						 strtoull(w[14], NULL, 0), &err))
				die(h.writer ? err.msg : "P needs W");
			printf("ok\n");
			free(prefix);
			uxt_pkt_release(&p);
		} else if (strcmp(w[0], "C") == 0) {
			if (uxt_nflog_pcap_close(h.writer, &err))
				die(err.msg);
			h.writer = NULL;
			printf("ok\n");
		} else if (strcmp(w[0], "E") == 0 && n == 2) {
			load_ruleset(&h, w[1]);
			printf("ok\n");
		} else if (strcmp(w[0], "R") == 0 && n == 4) {
			receive(&h, w + 1);
		} else {
			die("unknown command");
		}
		uxt_buf_free(&b);
		fflush(stdout);
	}
	free(line);
	if (uxt_nflog_pcap_close(h.writer, &err))
		die(err.msg);
	uxt_ns_free(h.ns);
	if (h.rs_loaded)
		uxt_ruleset_free(&h.rs);
	if (h.store_open)
		uxt_store_close(&h.store);
	return 0;
}
