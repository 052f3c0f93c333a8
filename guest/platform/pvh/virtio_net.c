/* The NIC under PVH: virtio-net over PCI. Not driven yet: the kernel runs without a network. */
#include <stdio.h>

#include "pvh.h"

bool platform_net_init(uint8_t mac[6])
{
    (void)mac;
    printf("net: no virtio-net driver on the PVH platform yet\n");
    return false;
}

void platform_net_rebind(uint8_t mac[6])
{
    (void)mac;
}

uint8_t *platform_net_tx_buf(void)
{
    return NULL;
}

void platform_net_tx_commit(size_t len)
{
    (void)len;
}

void platform_net_kick(void)
{
}

const uint8_t *platform_net_rx_peek(size_t *len)
{
    (void)len;
    return NULL;
}

void platform_net_rx_next(void)
{
}
