/*
 * apiclient.c: send raw messages to lightvmd, for the API's bad-input
 * tests. Each argument is sent as one message and its reply printed on a
 * line of its own.
 *
 *   apiclient SOCKET [--no-read] [--close] MESSAGE...
 *
 * --no-read sends without reading replies (a client that never reads);
 * --close sends, then closes at once (a client gone mid-request).
 * "@big:N" sends N bytes of 'x'.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: apiclient SOCKET [--no-read] [--close] MSG...\n");
        return 2;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("apiclient: connect");
        return 1;
    }
    int no_read = 0, close_now = 0;
    static char buf[1 << 20];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--no-read")) {
            no_read = 1;
            continue;
        }
        if (!strcmp(argv[i], "--close")) {
            close_now = 1;
            continue;
        }
        const char *msg = argv[i];
        size_t len = strlen(msg);
        char *big = NULL;
        if (!strncmp(msg, "@big:", 5)) {
            len = strtoul(msg + 5, NULL, 10);
            big = malloc(len);
            memset(big, 'x', len);
            msg = big;
        }
        ssize_t n = send(fd, msg, len, MSG_NOSIGNAL);
        free(big);
        if (n != (ssize_t)len) {
            printf("send failed: %s\n", strerror(errno));
            return 1;
        }
        if (close_now) {
            close(fd);
            return 0;
        }
        if (no_read)
            continue;
        n = recv(fd, buf, sizeof buf - 1, 0);
        if (n <= 0) {
            printf("connection closed\n");
            return 1;
        }
        buf[n] = 0;
        printf("%s\n", buf);
    }
    if (no_read)
        pause(); /* hold the connection open, never reading */
    return 0;
}
