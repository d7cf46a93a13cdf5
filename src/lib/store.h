/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The state of a network namespace: where it lives, its lock, loading and
 * committing it.
 *
 * A state directory holds
 *   lock       flock()ed by every command, as iptables takes the xtables lock
 *   state      the ruleset (format below), replaced atomically by rename()
 *   state.new  the next ruleset while it is written, and between commits
 *              the previous one, whose file the next commit writes over
 *   conntrack  the connection tracking table (entries, settings, clock;
 *              uxt_ct_table_save's format), under the same lock, replaced
 *              the same way through conntrack.new
 *
 * Committing writes the whole ruleset to state.new and swaps it with state
 * (renameat2 RENAME_EXCHANGE, or rename() where that is not available), so
 * a writer killed at any moment leaves the old or the new ruleset, never a
 * mix and never an empty file.  After the swap state.new holds the previous
 * ruleset, and the next commit writes over it: rewriting the pages of an
 * existing tmpfs file costs about half of allocating new ones, and freeing
 * the old file's pages goes away too.  Readers map the file and hold a
 * shared flock() on it while it is mapped; a commit only writes into a
 * state.new it can lock exclusively (nobody has it mapped), else it starts
 * a fresh file, so a reader sees one ruleset.  The state directory usually
 * lives on tmpfs (/run), which like the kernel's tables does not survive a
 * reboot; nothing is fsync()ed.
 *
 * File format (host byte order, all sizes multiples of 8):
 *   header      struct uxt_state_hdr
 *   extensions  n_ext x struct uxt_state_ext: what each stored extension id
 *               meant when the file was written
 *   tables      n_tables x (struct uxt_state_table, then its chains, each a
 *               struct uxt_state_chain followed by its rules' bytes)
 * Tables appear newest first, as /proc/net/ip_tables_names lists them.
 * Everything is validated on load; a damaged file is reported, never
 * trusted.
 */
#ifndef UXT_STORE_H
#define UXT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "table.h"

#define UXT_STATE_MAGIC "UXTSTAT1"
#define UXT_STATE_CT_FILE "conntrack"

struct uxt_ct_table;

struct uxt_state_hdr {
	char magic[8];
	uint32_t version;
	uint32_t byte_order;	/* 0x01020304 as written */
	uint64_t size;		/* of the whole file */
	uint64_t generation;	/* commits so far */
	uint32_t n_ext;
	uint32_t n_tables;
};

struct uxt_state_ext {
	char name[32];
	uint8_t revision;
	uint8_t kind;
	uint16_t size;
	uint32_t pad;
};

struct uxt_state_table {
	char name[32];
	uint32_t n_chains;
	uint32_t pad;
};

struct uxt_state_chain {
	char name[UXT_CHAIN_NAMESZ];
	int32_t hook;
	int32_t policy;
	struct uxt_counters policy_counters;
	uint64_t rule_bytes;
	uint32_t n_rules;
	uint32_t pad;
};

struct uxt_store {
	char dir[4096];
	char lock_path[4200];
	int lock_fd;
	void *map;		/* the loaded state file */
	size_t map_len;
	int map_fd;		/* the mapped file, flock()ed LOCK_SH; valid
				 * while map is set */
	uint64_t generation;
};

/*
 * The default state directory of the calling process's network namespace:
 * $UXT_STATE, else /run/uxtables/<netns cookie> for root, else
 * $XDG_RUNTIME_DIR/uxtables/<cookie> (or /tmp/uxtables-<uid>/<cookie>).
 */
int uxt_store_default_dir(char *out, size_t outsz, struct uxt_err *err);

/* Prepares s for dir (created if missing); does not lock or load. */
int uxt_store_open(struct uxt_store *s, const char *dir, struct uxt_err *err);
void uxt_store_close(struct uxt_store *s);

/*
 * Takes the lock.  wait_secs <= 0 waits forever (iptables 1.8.9 without -w,
 * with -w or -w 0); otherwise gives up after that many seconds with
 * iptables' message and UXT_RESOURCE_PROBLEM.
 */
int uxt_store_lock(struct uxt_store *s, int wait_secs, struct uxt_err *err);
void uxt_store_unlock(struct uxt_store *s);

/* Loads the committed ruleset into rs (empty if none was committed). */
int uxt_store_load(struct uxt_store *s, struct uxt_ruleset *rs,
		   struct uxt_err *err);
/*
 * The same, except for the rules of table (if it exists), which the caller
 * is about to replace whole (iptables-restore without --noflush): its
 * chains come with their names, policies and counters but empty, its rules
 * are neither read nor checked, and the table is marked rules_unread, which
 * uxt_store_commit refuses until it has been replaced.
 */
int uxt_store_load_replacing(struct uxt_store *s, struct uxt_ruleset *rs,
			     const char *table, struct uxt_err *err);
/* Loads a state image from memory (used by the loader's fuzz target). */
int uxt_state_parse(const void *image, size_t len, struct uxt_ruleset *rs,
		    struct uxt_err *err);

/* Atomically replaces the committed ruleset by rs. */
int uxt_store_commit(struct uxt_store *s, const struct uxt_ruleset *rs,
		     struct uxt_err *err);
/* Writes rs in the state format to fd. */
int uxt_state_write(int fd, const struct uxt_ruleset *rs, uint64_t generation);

/*
 * The conntrack table of the state (the caller holds the lock).  load
 * replaces t's contents with the file's, validated (uxt_ct_table_load); a
 * missing file leaves t as it is and sets *found false.  commit replaces
 * the file atomically.  0, or -1 with err set.
 */
int uxt_store_load_ct(struct uxt_store *s, struct uxt_ct_table *t, bool *found,
		      struct uxt_err *err);
int uxt_store_commit_ct(struct uxt_store *s, const struct uxt_ct_table *t,
			struct uxt_err *err);

#endif
