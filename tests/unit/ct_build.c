/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A conntrack table built by libuxt's own tracker, for tests of the
 * conntrack command (tests/conntrack_cli.py): datagrams go through
 * uxt_ct_in() and uxt_ct_confirm() as the engine passes them at a
 * forwarding host's hooks, and the table is saved into a state directory
 * as the packet path saves it, its events going to the directory's event
 * log as uxt inject's and uxt replay's do.
 *
 * Commands on stdin, one per line:
 *   load DIR             the table of DIR (state directory)
 *   events DIR           from now on, events go to DIR's event log
 *   time SECONDS         the clock (seconds since the epoch, fraction ok)
 *   sysctl NAME VALUE    a setting (net.netfilter.NAME)
 *   fwd HEX              a datagram forwarded: PREROUTING, then POSTROUTING
 *   out HEX              a datagram sent locally: OUTPUT, then POSTROUTING
 *   expire               entries whose time is up go
 *   save DIR             the table into DIR/conntrack
 *   list                 every entry, one line each (debugging)
 * Exit status 0, or 1 with a message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "ct_events.h"
#include "engine.h"
#include "ext.h"
#include "packet_session.h"
#include "pkt.h"
#include "store.h"

static int load(struct uxt_ct_table *t, const char *dir, struct uxt_err *e)
{
	struct uxt_store s;
	bool found;
	int rc;

	if (uxt_store_open(&s, dir, e))
		return -1;
	rc = uxt_store_load_ct(&s, t, &found, e);
	uxt_store_close(&s);
	return rc;
}

static int save(struct uxt_ct_table *t, const char *dir, struct uxt_err *e)
{
	struct uxt_store s;
	int rc;

	if (uxt_store_open(&s, dir, e))
		return -1;
	rc = uxt_store_commit_ct(&s, t, e);
	uxt_store_close(&s);
	return rc;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int pass(struct uxt_ns *ns, struct uxt_ct_table *t, const char *hex,
		unsigned int hook)
{
	unsigned char buf[65536];
	size_t n = 0;
	struct uxt_pkt pkt;

	while (hex[0] && hex[1] && n < sizeof(buf)) {
		int a = hexval(hex[0]), b = hexval(hex[1]);

		if (a < 0 || b < 0)
			return -1;
		buf[n++] = (unsigned char)(a * 16 + b);
		hex += 2;
	}
	memset(&pkt, 0, sizeof(pkt));
	if (uxt_pkt_init_copy(&pkt, buf, (uint32_t)n, (uint32_t)n + 64) != 0)
		return -1;
	pkt.tstamp_ns = uxt_ns_time(ns);
	if (uxt_ct_in(ns, t, hook, &pkt) == UXT_NF_ACCEPT)
		uxt_ct_confirm(ns, t, &pkt);
	uxt_ct_pkt_release(t, &pkt);
	uxt_pkt_release(&pkt);
	uxt_ct_table_release_pending(t);
	return 0;
}

static int print_entry(struct uxt_ct *ct, void *arg)
{
	struct uxt_buf *b = arg;
	struct ctev_rec r;

	ctev_from_dump(&r, ct, NULL, 0, 1);
	ctev_format(b, &r, 0);
	uxt_buf_putc(b, '\n');
	return 0;
}

int main(void)
{
	struct uxt_ns *ns = uxt_ns_new();
	struct uxt_ct_table *t = uxt_ct_table_new();
	struct ctev_writer *w = NULL;
	char line[140000];
	int lineno = 0;

	if (!ns || !t)
		return 1;
	uxt_ct_table_set_wall_clock(t, true);
	while (fgets(line, sizeof(line), stdin)) {
		char *arg, *nl = strchr(line, '\n');
		struct uxt_err e;
		int rc = 0;

		lineno++;
		if (nl)
			*nl = '\0';
		arg = strchr(line, ' ');
		if (arg)
			*arg++ = '\0';
		else
			arg = line + strlen(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (strcmp(line, "load") == 0) {
			rc = load(t, arg, &e);
			uxt_ct_table_set_wall_clock(t, true);
		} else if (strcmp(line, "save") == 0) {
			rc = save(t, arg, &e);
		} else if (strcmp(line, "events") == 0) {
			ctev_writer_close(w);
			w = ctev_writer_open(arg, 0);
			ctev_writer_set_settings(w, uxt_ct_table_settings(t));
			uxt_ct_table_set_events(t, ctev_writer_event, w);
		} else if (strcmp(line, "time") == 0) {
			uint64_t now;

			rc = ps_parse_time(arg, &now, &e);
			if (rc == 0)
				uxt_ns_set_time(ns, now);
		} else if (strcmp(line, "sysctl") == 0) {
			char *v = strchr(arg, ' ');

			if (!v) {
				rc = uxt_error(&e, 2, "sysctl NAME VALUE");
			} else {
				*v++ = '\0';
				rc = uxt_ct_sysctl_set(uxt_ct_table_settings(t), arg,
						       strtoull(v, NULL, 0), &e);
			}
		} else if (strcmp(line, "fwd") == 0 || strcmp(line, "out") == 0) {
			if (pass(ns, t, arg, strcmp(line, "fwd") == 0 ?
				 UXT_HOOK_PRE_ROUTING : UXT_HOOK_LOCAL_OUT))
				rc = uxt_error(&e, 2, "bad datagram");
		} else if (strcmp(line, "expire") == 0) {
			uxt_ct_table_expire(t, uxt_ns_time(ns));
			uxt_ct_table_release_pending(t);
		} else if (strcmp(line, "list") == 0) {
			struct uxt_buf b;

			uxt_buf_init(&b, 1);
			uxt_ct_table_walk(t, print_entry, &b);
			uxt_buf_free(&b);
		} else {
			rc = uxt_error(&e, 2, "unknown command");
		}
		if (rc) {
			fprintf(stderr, "ct_build: line %d: %s\n", lineno, e.msg);
			return 1;
		}
	}
	uxt_ct_table_set_events(t, NULL, NULL);
	ctev_writer_close(w);
	uxt_ct_table_release_pending(t);
	uxt_ct_table_free(t);
	uxt_ns_free(ns);
	return 0;
}
