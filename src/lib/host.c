/* SPDX-License-Identifier: BSD-2-Clause */
/* Interim: being written (host model and routing). */
#include "host.h"

#include <stdlib.h>
#include <string.h>

void uxt_host_init(struct uxt_host *h)
{
	memset(h, 0, sizeof(*h));
}

void uxt_host_free(struct uxt_host *h)
{
	free(h->ifaces);
	free(h->routes);
	memset(h, 0, sizeof(*h));
}

int uxt_host_route_input(const struct uxt_host *h, const struct uxt_iface *dev,
			 uint32_t saddr, uint32_t daddr,
			 struct uxt_route_result *res, const char **reason)
{
	(void)h;
	(void)dev;
	(void)saddr;
	(void)daddr;
	(void)res;
	*reason = "routing not written yet";
	return -1;
}

int uxt_host_route_output(const struct uxt_host *h, uint32_t daddr,
			  const struct uxt_iface *oif,
			  struct uxt_route_result *res, const char **reason)
{
	(void)h;
	(void)daddr;
	(void)oif;
	(void)res;
	*reason = "routing not written yet";
	return -1;
}
