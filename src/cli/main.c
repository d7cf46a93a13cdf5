/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * uxt: the multi-call binary.  It answers to the name it was called by
 * (iptables, iptables-save, iptables-restore, conntrack, and the
 * iptables-uxt* names used when installed beside the system's iptables),
 * or to its first argument: "uxt iptables -L", as xtables-legacy-multi
 * does.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} commands[] = {
	{"iptables", iptables_main},
	{"iptables-save", iptables_save_main},
	{"iptables-restore", iptables_restore_main},
	{"iptables-uxt", iptables_main},
	{"iptables-uxt-save", iptables_save_main},
	{"iptables-uxt-restore", iptables_restore_main},
	{"inject", uxt_inject_main},
	{"replay", uxt_replay_main},
	{"host", uxt_host_main},
	{"conntrack", conntrack_main},
	{"sysctl", uxt_sysctl_main},
	{"daemon", uxt_daemon_main},
};

static int (*lookup(const char *path))(int, char **)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, base) == 0)
			return commands[i].main;
	return NULL;
}

static void usage(FILE *f)
{
	fputs("Usage: uxt COMMAND [ARGS...]\n"
	      "uxtables: iptables in userspace.\n\n"
	      "Commands:\n"
	      "  iptables ARGS          as iptables(8); also iptables-uxt\n"
	      "  iptables-save ARGS     as iptables-save(8); also iptables-uxt-save\n"
	      "  iptables-restore ARGS  as iptables-restore(8); also iptables-uxt-restore\n"
	      "  inject ARGS            one packet through the namespace's ruleset\n"
	      "  replay FILE ARGS       a capture through the namespace's ruleset\n"
	      "  host [ARGS]            the host model: interfaces, addresses, routes\n"
	      "  conntrack ARGS         as conntrack(8) of conntrack-tools 1.4.7\n"
	      "  sysctl ARGS            the namespace's net.netfilter settings, as sysctl(8)\n"
	      "  daemon [ARGS]          filter this namespace's live traffic (NFQUEUE)\n\n"
	      "The state of each network namespace is kept under /run/uxtables (root)\n"
	      "or $XDG_RUNTIME_DIR/uxtables; UXT_STATE=DIR names another one.\n",
	      f);
}

int main(int argc, char **argv)
{
	int (*fn)(int, char **) = lookup(argv[0]);

	if (!fn && argc > 1) {
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		fn = lookup(argv[1]);
		argv++;
		argc--;
	}
	if (!fn) {
		usage(stderr);
		return 1;
	}
	return fn(argc, argv);
}
