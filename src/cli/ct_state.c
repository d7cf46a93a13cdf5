/* SPDX-License-Identifier: BSD-2-Clause */
/* The conntrack table of a state directory (see ct_state.h). */
#include "ct_state.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "packet_session.h"

int ct_clock_now(uint64_t *now_ns, bool *explicit_time, struct uxt_err *e)
{
	const char *env = getenv("UXT_TIME");
	struct timespec ts;

	*explicit_time = env && env[0];
	if (env && env[0]) {
		if (ps_parse_time(env, now_ns, e) == 0)
			return 0;
		return uxt_error(e, UXT_OTHER_PROBLEM,
				 "UXT_TIME \"%s\": seconds since the epoch "
				 "expected", env);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	*now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return 0;
}

int ct_state_open(struct ct_state *s, struct uxt_err *e)
{
	char dir[4096];

	bool explicit_time, found;

	memset(s, 0, sizeof(*s));
	s->store.lock_fd = -1;
	if (ct_clock_now(&s->now_ns, &explicit_time, e))
		return -1;
	if (uxt_store_default_dir(dir, sizeof(dir), e) ||
	    uxt_store_open(&s->store, dir, e))
		return -1;
	s->open = true;
	if (uxt_store_lock(&s->store, 0, e))
		return -1;
	/* a live daemon writes its table (DIR/conntrack) first */
	if (ctl_sync(s->store.dir, e))
		return -1;
	s->table = uxt_ct_table_new();
	if (!s->table)
		return uxt_error(e, UXT_RESOURCE_PROBLEM, "out of memory");
	if (uxt_store_load_ct(&s->store, s->table, &found, e))
		return -1;
	/* a table whose clock was a capture's is shown at that time */
	if (!explicit_time)
		s->now_ns = uxt_ct_table_display_now(s->table, s->now_ns);
	return 0;
}

int ct_state_events(struct ct_state *s, uint32_t portid, struct uxt_err *e)
{
	s->events = ctev_writer_open(s->store.dir, portid);
	if (!s->events)
		return uxt_error(e, UXT_RESOURCE_PROBLEM, "out of memory");
	ctev_writer_set_settings(s->events, uxt_ct_table_settings(s->table));
	uxt_ct_table_set_events(s->table, ctev_writer_event, s->events);
	return 0;
}

int ct_state_commit(struct ct_state *s, struct uxt_err *e)
{
	if (!s->dirty)
		return 0;
	s->dirty = false;
	if (uxt_store_commit_ct(&s->store, s->table, e))
		return -1;
	/* a live daemon applies the change to its table (still under the
	 * lock, so that it reads what was committed here) */
	return ctl_ct_reload(s->store.dir, e);
}

void ct_state_close(struct ct_state *s)
{
	if (s->table) {
		uxt_ct_table_set_events(s->table, NULL, NULL);
		uxt_ct_table_release_pending(s->table);
		uxt_ct_table_free(s->table);
	}
	ctev_writer_close(s->events);
	if (s->open)
		uxt_store_close(&s->store);
	memset(s, 0, sizeof(*s));
	s->store.lock_fd = -1;
}
