/* SPDX-License-Identifier: BSD-2-Clause */
/* Interim: being written (icmp_send). */
#include "icmp.h"

void uxt_icmp_send(struct uxt_ns *ns, const struct uxt_pkt *pkt, uint8_t type,
		   uint8_t code, uint32_t info)
{
	(void)ns;
	(void)pkt;
	(void)type;
	(void)code;
	(void)info;
}

void uxt_icmp_route_error(struct uxt_ns *ns, const struct uxt_pkt *pkt,
			  const struct uxt_route_result *rt)
{
	(void)ns;
	(void)pkt;
	(void)rt;
}
