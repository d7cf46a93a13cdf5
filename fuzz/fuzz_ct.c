/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the conntrack table loader (uxt_ct_table_load).
 *
 * The input is a saved table (the state directory's conntrack file).
 * Whatever it holds, loading must either fail with a message and leave the
 * table as it was, or give a table that walks, saves to the same bytes
 * again, expires and frees without any fault.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_one(struct uxt_ct *ct, void *arg)
{
	unsigned int *n = arg;

	(*n)++;
	(void)uxt_ct_state_name(ct);
	(void)uxt_ct_seconds_left(ct, 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uxt_ct_table *t = uxt_ct_table_new(), *t2;
	struct uxt_buf a, b;
	struct uxt_err e;
	unsigned int n = 0;

	if (uxt_ct_table_load(t, data, size, &e) == 0) {
		uxt_ct_table_walk(t, count_one, &n);
		if (n != uxt_ct_table_count(t))
			abort();
		uxt_buf_init(&a, -1);
		uxt_buf_init(&b, -1);
		uxt_ct_table_save(t, &a);
		t2 = uxt_ct_table_new();
		if (uxt_ct_table_load(t2, a.data, a.len, &e) != 0)
			abort();
		uxt_ct_table_save(t2, &b);
		if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
			abort();
		/* the clock forward, then back */
		uxt_ct_table_expire(t2, uxt_ct_table_clock(t2) + 100ull * 1000000000ull);
		uxt_ct_table_expire(t2, uxt_ct_table_clock(t2) / 2);
		uxt_ct_table_expire(t2, UINT64_MAX);
		if (uxt_ct_table_count(t2) != 0)
			abort();
		uxt_ct_table_release_pending(t2);
		uxt_ct_table_free(t2);
		uxt_buf_free(&a);
		uxt_buf_free(&b);
	} else if (uxt_ct_table_count(t) != 0) {
		/* a refused file changes nothing */
		abort();
	}
	uxt_ct_table_free(t);
	return 0;
}
