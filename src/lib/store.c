/* SPDX-License-Identifier: BSD-2-Clause */
#include "store.h"

#include "buf.h"
#include "ct.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define STATE_VERSION 1
#define BYTE_ORDER_MARK 0x01020304u
/* uxt_state_ext.kind of a command-line alias (not a stored extension) */
#define ALIAS_KIND 0xFF

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int uxt_store_default_dir(char *out, size_t outsz, struct uxt_err *err)
{
	const char *env = getenv("UXT_STATE");
	unsigned long long cookie = 0;
	socklen_t len = sizeof(cookie);
	const char *base;
	char tmpbase[64];
	int fd;

	if (env && env[0]) {
		snprintf(out, outsz, "%s", env);
		return 0;
	}
	/* The cookie, unlike the netns inode, is never reused for a new
	 * namespace, so a fresh namespace always gets a fresh state. */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return uxt_error(err, UXT_OTHER_PROBLEM,
				 "cannot identify the network namespace (SO_NETNS_COOKIE: %s); set UXT_STATE",
				 strerror(e));
	}
	close(fd);
	if (geteuid() == 0) {
		base = "/run/uxtables";
	} else if ((base = getenv("XDG_RUNTIME_DIR")) && base[0]) {
		snprintf(out, outsz, "%s/uxtables/%llu", base, cookie);
		return 0;
	} else {
		snprintf(tmpbase, sizeof(tmpbase), "/tmp/uxtables-%u",
			 (unsigned)geteuid());
		base = tmpbase;
	}
	snprintf(out, outsz, "%s/%llu", base, cookie);
	return 0;
}

int uxt_store_open(struct uxt_store *s, const char *dir, struct uxt_err *err)
{
	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	if (strlen(dir) >= sizeof(s->dir) - 16)
		return uxt_error(err, UXT_OTHER_PROBLEM,
				 "state directory name too long");
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(s->lock_path, sizeof(s->lock_path), "%s/lock", dir);
	if (mkdir_p(dir) != 0)
		return uxt_error(err, UXT_RESOURCE_PROBLEM,
				 "Fatal: can't create state directory %s: %s",
				 dir, strerror(errno));
	return 0;
}

void uxt_store_close(struct uxt_store *s)
{
	uxt_store_unlock(s);
	if (s->map) {
		munmap(s->map, s->map_len);
		/* drops the shared lock that kept commits from recycling it */
		close(s->map_fd);
	}
	s->map = NULL;
	s->map_len = 0;
}

int uxt_store_lock(struct uxt_store *s, int wait_secs, struct uxt_err *err)
{
	struct timespec start, now;
	int fd;

	fd = open(s->lock_path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		err->flags = UXT_ERR_BARE | UXT_ERR_NO_TRY;
		err->status = UXT_RESOURCE_PROBLEM;
		snprintf(err->msg, sizeof(err->msg),
			 "Fatal: can't open lock file %s: %s", s->lock_path,
			 strerror(errno));
		return -1;
	}
	if (wait_secs <= 0) {
		while (flock(fd, LOCK_EX) != 0) {
			if (errno != EINTR) {
				int e = errno;

				close(fd);
				err->flags = UXT_ERR_BARE | UXT_ERR_NO_TRY;
				err->status = UXT_RESOURCE_PROBLEM;
				snprintf(err->msg, sizeof(err->msg),
					 "Can't lock %s: %s", s->lock_path,
					 strerror(e));
				return -1;
			}
		}
		s->lock_fd = fd;
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct timespec pause = {0, 5 * 1000 * 1000};

		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			s->lock_fd = fd;
			return 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > wait_secs ||
		    (now.tv_sec - start.tv_sec == wait_secs &&
		     now.tv_nsec >= start.tv_nsec))
			break;
		nanosleep(&pause, NULL);
	}
	close(fd);
	err->flags = UXT_ERR_BARE | UXT_ERR_NO_TRY;
	err->status = UXT_RESOURCE_PROBLEM;
	snprintf(err->msg, sizeof(err->msg),
		 "Can't lock %s: %s\nAnother app is currently holding the xtables lock. Stopped waiting after %ds.",
		 s->lock_path, strerror(EWOULDBLOCK), wait_secs);
	return -1;
}

void uxt_store_unlock(struct uxt_store *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
}

/* Loading */

struct reader {
	const unsigned char *p;
	size_t len, off;
	struct uxt_err *err;
	/* file extension id -> our id, or -1 */
	int *ext_map;
	uint32_t n_ext;
	bool ext_identity;
	/* the table being read: its rules' values are checked as they are
	 * read (uxt_table_check_rule_values), jumps once all chains are in */
	unsigned char *ext_ok;
	bool values_bad;
	const char **jumps;
	size_t njumps, capjumps;
	/* the table whose rules are skipped (uxt_store_load_replacing) */
	const char *skip_table;
	bool skipping;
};

static int damaged(struct reader *r, const char *what)
{
	return uxt_error(r->err, UXT_OTHER_PROBLEM,
			 "state file is damaged (%s at byte %zu)", what, r->off);
}

static const void *take(struct reader *r, size_t n)
{
	const void *p;

	if (n > r->len - r->off)
		return NULL;
	p = r->p + r->off;
	r->off += n;
	return p;
}

static bool name_ok(const char *name, size_t size, size_t maxlen)
{
	size_t n = strnlen(name, size);

	return n > 0 && n < size && n < maxlen;
}

/* Checks one match or target record; returns our extension or NULL. */
static const struct uxt_ext *check_xrec(struct reader *r,
					const struct uxt_xrec *x, size_t room,
					enum uxt_ext_kind kind)
{
	const struct uxt_ext *ext;
	int id;

	if (room < sizeof(*x) || x->size < sizeof(*x) || x->size > room ||
	    x->size % 8 != 0 || x->ext >= r->n_ext)
		return NULL;
	id = r->ext_map[x->ext];
	if (id < 0)
		return NULL;
	ext = uxt_ext_by_id((unsigned)id);
	if (ext->kind != kind || x->size != UXT_ALIGN(sizeof(*x) + ext->size))
		return NULL;
	return ext;
}

/* The structure of one rule; *std is its standard target or NULL. */
static int check_rule(struct reader *r, const struct uxt_rule *rule,
		      size_t room, const struct uxt_std_target **std_out)
{
	const struct uxt_xrec *x;
	const struct uxt_ext *ext;
	size_t off;

	if (room < sizeof(*rule) || rule->size < sizeof(*rule) ||
	    rule->size > room || rule->size % 8 != 0 ||
	    rule->target_offset < sizeof(*rule) ||
	    rule->target_offset > rule->size || rule->target_offset % 8 != 0)
		return -1;
	off = sizeof(*rule);
	for (unsigned i = 0; i < rule->nmatches; i++) {
		x = (const void *)((const char *)rule + off);
		if (off >= rule->target_offset ||
		    !check_xrec(r, x, rule->target_offset - off, UXT_MATCH))
			return -1;
		off += x->size;
	}
	if (off != rule->target_offset)
		return -1;
	x = (const void *)((const char *)rule + off);
	ext = check_xrec(r, x, rule->size - off, UXT_TARGET);
	if (!ext || off + x->size != rule->size)
		return -1;
	*std_out = NULL;
	if (ext == &uxt_ext_standard) {
		const struct uxt_std_target *std = (const void *)x->data;

		if (std->verdict < UXT_V_CONTINUE || std->verdict > UXT_V_JUMP)
			return -1;
		if (std->verdict == UXT_V_JUMP &&
		    !name_ok(std->chain, sizeof(std->chain), UXT_NAME_MAX))
			return -1;
		*std_out = std;
	}
	/* names are at most 15 characters, NUL-padded */
	if (rule->ip.iniface[UXT_IFNAMSIZ - 1] || rule->ip.outiface[UXT_IFNAMSIZ - 1])
		return -1;
	return 0;
}

/* Rewrites the extension ids of a rule written by another build. */
static void remap_rule(struct reader *r, struct uxt_rule *rule)
{
	struct uxt_xrec *x;

	uxt_rule_foreach_match(rule, x)
		x->ext = (uint16_t)r->ext_map[x->ext];
	x = uxt_rule_target(rule);
	x->ext = (uint16_t)r->ext_map[x->ext];
}

/* The values of a rule just read; a jump is kept for later.  -1: no memory */
static int note_rule(struct reader *r, const struct uxt_table *t,
		     const struct uxt_rule *rule, const struct uxt_std_target *std)
{
	if (uxt_table_check_rule_values(t, rule, std, r->ext_ok) != 0) {
		r->values_bad = true;
		return 0;
	}
	if (!std || std->verdict != UXT_V_JUMP)
		return 0;
	if (r->njumps == r->capjumps) {
		const char **n;

		r->capjumps = r->capjumps ? r->capjumps * 2 : 64;
		n = realloc(r->jumps, r->capjumps * sizeof(*n));
		if (!n)
			return -1;
		r->jumps = n;
	}
	r->jumps[r->njumps++] = std->chain;
	return 0;
}

static int load_chain(struct reader *r, struct uxt_ruleset *rs,
		      struct uxt_table *t, uint32_t index)
{
	const struct uxt_state_chain *sc = take(r, sizeof(*sc));
	struct uxt_chain *c;
	const unsigned char *rules;
	size_t off = 0;

	if (!sc)
		return damaged(r, "truncated chain");
	if (!name_ok(sc->name, sizeof(sc->name), UXT_NAME_MAX))
		return damaged(r, "chain name");
	if (sc->rule_bytes % 8 != 0 || sc->rule_bytes > r->len - r->off)
		return damaged(r, "chain size");
	rules = take(r, sc->rule_bytes);
	if (index < t->nbuiltin) {
		c = t->chains[index];
		if (strcmp(c->name, sc->name) != 0 || sc->hook != c->hook)
			return damaged(r, "built-in chain");
		if (sc->policy != UXT_V_ACCEPT && sc->policy != UXT_V_DROP)
			return damaged(r, "policy");
		c->policy = sc->policy;
		c->policy_counters = sc->policy_counters;
	} else {
		if (sc->hook != -1 || uxt_table_chain(t, sc->name) ||
		    (t->nchains > t->nbuiltin &&
		     strcmp(t->chains[t->nchains - 1]->name, sc->name) >= 0))
			return damaged(r, "user chain order");
		if (uxt_table_create_chain(t, sc->name) != 0)
			return damaged(r, "user chain");
		c = t->chains[t->nchains - 1];
	}
	if (sc->n_rules > sc->rule_bytes / sizeof(struct uxt_rule))
		return damaged(r, "rule count");
	if (r->skipping)
		return 0;	/* the bytes were taken above, unread */
	c->rules = malloc((sc->n_rules ? sc->n_rules : 1) * sizeof(*c->rules));
	if (!c->rules)
		return uxt_error(r->err, UXT_RESOURCE_PROBLEM, "out of memory");
	c->cap = sc->n_rules;
	for (uint32_t i = 0; i < sc->n_rules; i++) {
		struct uxt_rule *rule = (struct uxt_rule *)(rules + off);
		const struct uxt_std_target *std;

		if (check_rule(r, rule, sc->rule_bytes - off, &std) != 0)
			return damaged(r, "rule");
		off += rule->size;
		if (!r->ext_identity) {
			rule = uxt_rule_dup(rs, rule);
			remap_rule(r, rule);
			std = uxt_rule_std(rule);
		}
		c->rules[c->nrules++] = rule;
		if (!r->values_bad && note_rule(r, t, rule, std))
			return uxt_error(r->err, UXT_RESOURCE_PROBLEM, "out of memory");
	}
	if (off != sc->rule_bytes)
		return damaged(r, "chain size");
	return 0;
}

static int load_table(struct reader *r, struct uxt_ruleset *rs)
{
	const struct uxt_state_table *st = take(r, sizeof(*st));
	struct uxt_table *t;
	int error = 0;

	if (!st || !name_ok(st->name, sizeof(st->name), sizeof(st->name)))
		return damaged(r, "table header");
	if (uxt_ruleset_table(rs, st->name))
		return damaged(r, "table repeated");
	t = uxt_ruleset_instantiate(rs, st->name, &error);
	if (!t)
		return damaged(r, "table name");
	if (st->n_chains < t->nbuiltin)
		return damaged(r, "chain count");
	r->skipping = r->skip_table && strcmp(r->skip_table, st->name) == 0;
	t->rules_unread = r->skipping;
	memset(r->ext_ok, 0, uxt_extensions_count);
	r->values_bad = false;
	r->njumps = 0;
	for (uint32_t i = 0; i < st->n_chains; i++)
		if (load_chain(r, rs, t, i))
			return -1;
	/* as uxt_table_check_records(): every value, and every jump to a
	 * user chain */
	for (size_t i = 0; i < r->njumps && !r->values_bad; i++) {
		const struct uxt_chain *jc = uxt_table_chain(t, r->jumps[i]);

		r->values_bad = !jc || uxt_chain_builtin(jc);
	}
	if (r->values_bad)
		return damaged(r, "a rule fails the kernel's checks");
	return 0;
}

static int parse_state(const void *image, size_t len, struct uxt_ruleset *rs,
		       const char *skip_table, struct uxt_err *err)
{
	struct reader r = {.p = image, .len = len, .err = err,
			   .skip_table = skip_table};
	const struct uxt_state_hdr *h;
	const struct uxt_state_ext *se;
	int ret = 0;
	int order[UXT_NTABLES];

	uxt_ruleset_init(rs);
	if (((uintptr_t)image & 7) != 0)
		return damaged(&r, "alignment");
	h = take(&r, sizeof(*h));
	if (!h || memcmp(h->magic, UXT_STATE_MAGIC, 8) != 0)
		return damaged(&r, "not a uxtables state");
	if (h->version != STATE_VERSION || h->byte_order != BYTE_ORDER_MARK)
		return damaged(&r, "unsupported version");
	if (h->size != len)
		return damaged(&r, "size");
	if (h->n_tables > UXT_NTABLES || h->n_ext > 65535 ||
	    h->n_ext > (len - r.off) / sizeof(*se))
		return damaged(&r, "header counts");
	se = take(&r, h->n_ext * sizeof(*se));
	r.n_ext = h->n_ext;
	r.ext_map = malloc((h->n_ext ? h->n_ext : 1) * sizeof(int));
	r.ext_ok = malloc(uxt_extensions_count);
	if (!r.ext_map || !r.ext_ok) {
		free(r.ext_map);
		free(r.ext_ok);
		return uxt_error(err, UXT_RESOURCE_PROBLEM, "out of memory");
	}
	r.ext_identity = h->n_ext == uxt_extensions_count;
	for (uint32_t i = 0; i < h->n_ext; i++) {
		const struct uxt_ext *e;

		r.ext_map[i] = -1;
		if (strnlen(se[i].name, sizeof(se[i].name)) == sizeof(se[i].name)) {
			r.ext_identity = false;
			continue;
		}
		if (se[i].kind == ALIAS_KIND) {
			/* a command-line alias; never referenced by rules */
			if (i >= uxt_extensions_count ||
			    !uxt_extensions[i]->stored_as ||
			    strcmp(uxt_extensions[i]->name, se[i].name) != 0)
				r.ext_identity = false;
			continue;
		}
		e = uxt_ext_find_rev(se[i].name, se[i].revision,
				     (enum uxt_ext_kind)se[i].kind);
		if (e && e->size == se[i].size)
			r.ext_map[i] = (int)uxt_ext_id(e);
		if (r.ext_map[i] != (int)i)
			r.ext_identity = false;
	}
	for (uint32_t i = 0; i < h->n_tables && ret == 0; i++)
		ret = load_table(&r, rs);
	free(r.ext_map);
	free(r.ext_ok);
	free(r.jumps);
	if (ret == 0 && r.off != len)
		ret = damaged(&r, "trailing bytes");
	if (ret != 0) {
		uxt_ruleset_free(rs);
		uxt_ruleset_init(rs);
		return ret;
	}
	/* tables were instantiated in file order; the file is newest first */
	for (int i = 0; i < rs->ntables; i++)
		order[i] = rs->order[rs->ntables - 1 - i];
	memcpy(rs->order, order, sizeof(int) * (size_t)rs->ntables);
	return 0;
}

/*
 * Opens the committed state file and takes a shared flock() on it, held as
 * long as the file is mapped: a commit recycles the file of the previous
 * ruleset (uxt_store_commit) only when nobody holds such a lock.  A reader
 * that opened the file just before two commits may find it rewritten by
 * the second; the lock then waits for that writer to finish, and the file
 * is only used if it is still the committed one.  Returns the descriptor,
 * -1 with errno ENOENT when nothing was committed, or -1 on an error.
 */
static int open_committed(const char *path)
{
	for (int tries = 0; tries < 1000; tries++) {
		struct stat named, opened;
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return -1;
		while (flock(fd, LOCK_SH) != 0) {
			if (errno != EINTR) {
				int e = errno;

				close(fd);
				errno = e;
				return -1;
			}
		}
		if (fstat(fd, &opened) == 0 && stat(path, &named) == 0 &&
		    opened.st_ino == named.st_ino && opened.st_dev == named.st_dev)
			return fd;
		/* replaced (and perhaps recycled) since it was opened */
		close(fd);
	}
	errno = EAGAIN;
	return -1;
}

int uxt_state_parse(const void *image, size_t len, struct uxt_ruleset *rs,
		    struct uxt_err *err)
{
	return parse_state(image, len, rs, NULL, err);
}

static int load(struct uxt_store *s, struct uxt_ruleset *rs,
		const char *skip_table, struct uxt_err *err)
{
	char path[4200];
	struct stat st;
	void *map;
	int fd, ret;

	uxt_ruleset_init(rs);
	snprintf(path, sizeof(path), "%s/state", s->dir);
	fd = open_committed(path);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return uxt_error(err, UXT_OTHER_PROBLEM, "can't open %s: %s",
				 path, strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		int e = errno;

		close(fd);
		return uxt_error(err, UXT_OTHER_PROBLEM, "can't stat %s: %s",
				 path, strerror(e));
	}
	if (st.st_size == 0) {
		close(fd);
		return uxt_error(err, UXT_OTHER_PROBLEM,
				 "state file %s is damaged (empty)", path);
	}
	/* populated up front unless most of it may stay unread */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ,
		   MAP_PRIVATE | (skip_table ? 0 : MAP_POPULATE), fd, 0);
	if (map == MAP_FAILED) {
		int e = errno;

		close(fd);
		return uxt_error(err, UXT_RESOURCE_PROBLEM, "can't map %s: %s",
				 path, strerror(e));
	}
	ret = parse_state(map, (size_t)st.st_size, rs, skip_table, err);
	if (ret != 0) {
		munmap(map, (size_t)st.st_size);
		close(fd);
		return ret;
	}
	/* a second load leaves the first mapping (and its lock) in place:
	 * rules of the first ruleset may still point into it */
	s->map = map;
	s->map_len = (size_t)st.st_size;
	s->map_fd = fd;
	s->generation = ((const struct uxt_state_hdr *)map)->generation;
	return 0;
}

int uxt_store_load(struct uxt_store *s, struct uxt_ruleset *rs,
		   struct uxt_err *err)
{
	return load(s, rs, NULL, err);
}

int uxt_store_load_replacing(struct uxt_store *s, struct uxt_ruleset *rs,
			     const char *table, struct uxt_err *err)
{
	return load(s, rs, table, err);
}

/* Writing */

struct writer {
	int fd;
	struct iovec iov[IOV_MAX];
	int n;
	int failed;
	uint64_t total;
	/* small headers are copied here so their iovecs stay valid */
	unsigned char *scratch;
	size_t scratch_used, scratch_cap;
};

static void wflush(struct writer *w)
{
	int i = 0;

	while (i < w->n && !w->failed) {
		ssize_t n = writev(w->fd, w->iov + i, w->n - i);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			w->failed = errno;
			break;
		}
		while (n > 0 && i < w->n) {
			if ((size_t)n >= w->iov[i].iov_len) {
				n -= (ssize_t)w->iov[i].iov_len;
				i++;
			} else {
				w->iov[i].iov_base = (char *)w->iov[i].iov_base + n;
				w->iov[i].iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	w->n = 0;
	w->scratch_used = 0;
}

static void wadd(struct writer *w, const void *p, size_t len)
{
	if (len == 0)
		return;
	w->total += len;
	if (w->n > 0 && (const char *)w->iov[w->n - 1].iov_base +
				w->iov[w->n - 1].iov_len == (const char *)p) {
		w->iov[w->n - 1].iov_len += len;
		return;
	}
	if (w->n == IOV_MAX)
		wflush(w);
	w->iov[w->n].iov_base = (void *)p;
	w->iov[w->n].iov_len = len;
	w->n++;
}

static void wcopy(struct writer *w, const void *p, size_t len)
{
	void *dst;

	if (w->scratch_cap - w->scratch_used < len || w->n == IOV_MAX)
		wflush(w);
	dst = w->scratch + w->scratch_used;
	memcpy(dst, p, len);
	w->scratch_used += len;
	wadd(w, dst, len);
}

int uxt_state_write(int fd, const struct uxt_ruleset *rs, uint64_t generation)
{
	struct writer *w;
	struct uxt_state_hdr h;
	uint64_t size, *chain_bytes;
	size_t nchains, k;
	int ret;

	/* a table loaded without its rules would lose them */
	for (int i = 0; i < rs->ntables; i++)
		if (rs->tables[rs->order[i]]->rules_unread)
			return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->scratch_cap = IOV_MAX * sizeof(struct uxt_state_chain);
	w->scratch = malloc(w->scratch_cap);
	if (!w->scratch) {
		free(w);
		return -ENOMEM;
	}
	/* the rule bytes of every chain, table after table: the rules are
	 * read here and once more when they are written, not three times */
	nchains = 0;
	for (int i = 0; i < rs->ntables; i++)
		nchains += rs->tables[rs->order[i]]->nchains;
	chain_bytes = malloc((nchains ? nchains : 1) * sizeof(*chain_bytes));
	if (!chain_bytes) {
		free(w->scratch);
		free(w);
		return -ENOMEM;
	}
	size = sizeof(h) + uxt_extensions_count * sizeof(struct uxt_state_ext);
	k = 0;
	for (int i = 0; i < rs->ntables; i++) {
		const struct uxt_table *t = rs->tables[rs->order[i]];

		size += sizeof(struct uxt_state_table);
		for (uint32_t c = 0; c < t->nchains; c++, k++) {
			const struct uxt_chain *ch = t->chains[c];

			chain_bytes[k] = 0;
			for (uint32_t j = 0; j < ch->nrules; j++)
				chain_bytes[k] += ch->rules[j]->size;
			size += sizeof(struct uxt_state_chain) + chain_bytes[k];
		}
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, UXT_STATE_MAGIC, 8);
	h.version = STATE_VERSION;
	h.byte_order = BYTE_ORDER_MARK;
	h.size = size;
	h.generation = generation;
	h.n_ext = uxt_extensions_count;
	h.n_tables = (uint32_t)rs->ntables;
	wcopy(w, &h, sizeof(h));
	for (unsigned i = 0; i < uxt_extensions_count; i++) {
		const struct uxt_ext *e = uxt_extensions[i];
		struct uxt_state_ext se;

		memset(&se, 0, sizeof(se));
		snprintf(se.name, sizeof(se.name), "%s", e->name);
		se.revision = e->revision;
		se.kind = e->stored_as ? ALIAS_KIND : e->kind;
		se.size = e->size;
		wcopy(w, &se, sizeof(se));
	}
	k = 0;
	for (int i = 0; i < rs->ntables; i++) {
		const struct uxt_table *t = rs->tables[rs->order[i]];
		struct uxt_state_table st;

		memset(&st, 0, sizeof(st));
		snprintf(st.name, sizeof(st.name), "%s", t->def->name);
		st.n_chains = t->nchains;
		wcopy(w, &st, sizeof(st));
		for (uint32_t c = 0; c < t->nchains; c++, k++) {
			const struct uxt_chain *ch = t->chains[c];
			struct uxt_state_chain sc;

			memset(&sc, 0, sizeof(sc));
			memcpy(sc.name, ch->name, sizeof(sc.name));
			sc.hook = ch->hook;
			sc.policy = ch->policy;
			sc.policy_counters = ch->policy_counters;
			sc.n_rules = ch->nrules;
			sc.rule_bytes = chain_bytes[k];
			wcopy(w, &sc, sizeof(sc));
			for (uint32_t j = 0; j < ch->nrules; j++)
				wadd(w, ch->rules[j], ch->rules[j]->size);
		}
	}
	wflush(w);
	ret = w->failed ? -w->failed : 0;
	if (ret == 0 && w->total != size)
		ret = -EIO;
	free(chain_bytes);
	free(w->scratch);
	free(w);
	return ret;
}

/*
 * The file to write the next ruleset into, from its start: state.new as the
 * last commit left it (the previous ruleset) when no reader has it mapped,
 * else a fresh file.  The previous file is locked exclusively until it is
 * committed: a reader that opened it back when it was state waits, then
 * finds whether it is state again (open_committed).
 */
static int open_next(const char *tmp)
{
	int fd = open(tmp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	close(fd);
	/* still mapped by a reader: the reader keeps that file */
	if (unlink(tmp) != 0 && errno != ENOENT)
		return -1;
	return open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

int uxt_store_commit(struct uxt_store *s, const struct uxt_ruleset *rs,
		     struct uxt_err *err)
{
	char tmp[4200], path[4200];
	off_t end;
	int fd, ret;

	snprintf(tmp, sizeof(tmp), "%s/state.new", s->dir);
	snprintf(path, sizeof(path), "%s/state", s->dir);
	fd = open_next(tmp);
	if (fd < 0)
		return uxt_error(err, UXT_RESOURCE_PROBLEM, "can't write %s: %s",
				 tmp, strerror(errno));
	ret = uxt_state_write(fd, rs, s->generation + 1);
	/* the previous ruleset may have been longer */
	if (ret == 0 && ((end = lseek(fd, 0, SEEK_CUR)) < 0 ||
			 ftruncate(fd, end) != 0))
		ret = -errno;
	if (ret != 0) {
		unlink(tmp);
		close(fd);
		return uxt_error(err, UXT_RESOURCE_PROBLEM, "can't write %s: %s",
				 tmp, strerror(-ret));
	}
	/* swap, keeping the previous file for the next commit to write over;
	 * without a committed state yet, or where the file system cannot
	 * swap, a plain rename */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) != 0 &&
	    rename(tmp, path) != 0) {
		ret = errno;
		unlink(tmp);
		close(fd);
		return uxt_error(err, UXT_RESOURCE_PROBLEM, "can't replace %s: %s",
				 path, strerror(ret));
	}
	/* releases the exclusive lock: the file is the committed state now */
	close(fd);
	s->generation++;
	return 0;
}

/* The conntrack table */

int uxt_store_load_ct(struct uxt_store *s, struct uxt_ct_table *t, bool *found,
		      struct uxt_err *err)
{
	char path[4200];
	struct stat st;
	unsigned char *data;
	size_t off = 0;
	int fd, ret;

	*found = false;
	snprintf(path, sizeof(path), "%s/%s", s->dir, UXT_STATE_CT_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return uxt_error(err, UXT_OTHER_PROBLEM, "can't open %s: %s",
				 path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || st.st_size < 0) {
		int e = errno;

		close(fd);
		return uxt_error(err, UXT_OTHER_PROBLEM, "can't stat %s: %s",
				 path, strerror(e));
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		close(fd);
		return uxt_error(err, UXT_RESOURCE_PROBLEM, "out of memory");
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, data + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	ret = uxt_ct_table_load(t, data, off, err);
	free(data);
	if (ret == 0)
		*found = true;
	return ret;
}

int uxt_store_commit_ct(struct uxt_store *s, const struct uxt_ct_table *t,
			struct uxt_err *err)
{
	char tmp[4200], path[4200];
	struct uxt_buf b;
	size_t off = 0;
	int fd, e = 0;

	snprintf(tmp, sizeof(tmp), "%s/%s.new", s->dir, UXT_STATE_CT_FILE);
	snprintf(path, sizeof(path), "%s/%s", s->dir, UXT_STATE_CT_FILE);
	uxt_buf_init(&b, -1);
	uxt_ct_table_save(t, &b);
	fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = errno;
		uxt_buf_free(&b);
		return uxt_error(err, UXT_RESOURCE_PROBLEM, "can't write %s: %s",
				 tmp, strerror(e));
	}
	while (off < b.len) {
		ssize_t n = write(fd, b.data + off, b.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) != 0 && !e)
		e = errno;
	uxt_buf_free(&b);
	if (!e && rename(tmp, path) != 0)
		e = errno;
	if (e) {
		unlink(tmp);
		return uxt_error(err, UXT_RESOURCE_PROBLEM, "can't replace %s: %s",
				 path, strerror(e));
	}
	return 0;
}
