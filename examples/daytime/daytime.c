/*
 * daytime.c: an RFC 867 daytime server on TCP port 13, the LightVM
 * paper's example guest. Each connection gets the date and time, then is
 * closed.
 *
 *     lightvm run --net build/examples/daytime/daytime.elf
 *     nc <guest ip> 13
 */
#define _DEFAULT_SOURCE /* gmtime_r, strncasecmp */
#include <lightvm/guest.h>
#include <lightvm/net.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

LVM_MANIFEST(LVM_NET("net0"));

#define DAYTIME_PORT 13

static void on_connected(struct lvm_tcp *c, void *arg)
{
    (void)arg;
    /* RFC 867 leaves the format free; this is its suggested one, in UTC:
     * "Weekday, Month Day, Year HH:MM:SS-Zone". */
    time_t now = (time_t)(lvm_clock_wall() / 1000000000ull);
    struct tm tm;
    char line[80];
    gmtime_r(&now, &tm);
    size_t n =
        strftime(line, sizeof line, "%A, %B %d, %Y %H:%M:%S-UTC\r\n", &tm);
    lvm_tcp_write(c, line, n);
    lvm_tcp_close(c);
}

static const struct lvm_tcp_handlers daytime = {.connected = on_connected};

int main(void)
{
    int r = lvm_net_up(NULL, 10000);
    if (r == 0)
        r = lvm_tcp_listen(DAYTIME_PORT, &daytime, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "daytime: %s\n", lvm_net_strerror(r));
        return 1;
    }
    lvm_net_run();
    return 0;
}
