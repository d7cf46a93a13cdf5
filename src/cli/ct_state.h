/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The conntrack table of a namespace's state directory, for the commands
 * that read or change it outside the packet path (conntrack, uxt sysctl):
 * the state lock, the table (entries, settings, statistics) loaded from
 * DIR/conntrack and committed back atomically, the event log, and the
 * namespace's clock.
 *
 * The table is the state's (uxt_store_load_ct / uxt_store_commit_ct:
 * DIR/conntrack, replaced through conntrack.new as the ruleset is), the
 * one uxt inject and uxt replay load and commit.
 *
 * The clock: conntrack timeouts are on the namespace's clock.  A command
 * shows the table at uxt_ct_table_display_now() of the wall clock: the
 * wall clock when the table was last moved by it (uxt inject), the table's
 * own clock when that came from packets (uxt replay of a capture, --time).
 * UXT_TIME=SECONDS[.FRACTION] gives the time explicitly (tests).
 *
 * A live daemon (ctl.h) serving the state directory holds the table in
 * memory: opening asks it to write the table first (sync), a commit asks
 * it to apply the change (ct-reload), both under the state lock.
 */
#ifndef UXT_CT_STATE_H
#define UXT_CT_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "ct.h"
#include "ct_events.h"
#include "err.h"
#include "store.h"

struct ct_state {
	struct uxt_store store;
	struct uxt_ct_table *table;
	struct ctev_writer *events;	/* NULL until ct_state_events() */
	uint64_t now_ns;
	bool open;
	bool dirty;			/* the table changed: commit writes it */
};

/* UXT_TIME (*explicit_time) or CLOCK_REALTIME.  0, or -1 with e set for
 * a bad UXT_TIME. */
int ct_clock_now(uint64_t *now_ns, bool *explicit_time, struct uxt_err *e);

/* Opens the state directory of this namespace (UXT_STATE or the default),
 * takes the lock (waiting as long as it takes) and loads the table. */
int ct_state_open(struct ct_state *s, struct uxt_err *e);
/* Starts logging the table's events (they name this process, portid). */
int ct_state_events(struct ct_state *s, uint32_t portid, struct uxt_err *e);
/* Writes the table back if it changed (dirty), and has a live daemon
 * apply the change. */
int ct_state_commit(struct ct_state *s, struct uxt_err *e);
/* Releases everything; unlocks. */
void ct_state_close(struct ct_state *s);

#endif
