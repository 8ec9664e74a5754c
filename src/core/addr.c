/* addr.c -- "host:port" text <-> sockaddr, for listeners and logs. */
#include "core/core_internal.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static int
parse_port(const char *s, in_port_t *port_out)
{
    char         *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return PH_EADDR;
    v = strtoul(s, &end, 10);
    if (*end != '\0' || v > 65535)
        return PH_EADDR;
    *port_out = htons((in_port_t)v);
    return 0;
}

int
ph_addr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
    char        host[64];
    const char *colon;
    size_t      hlen;
    in_port_t   port;

    memset(ss, 0, sizeof(*ss));
    if (text == NULL)
        return PH_EADDR;
    if (strncmp(text, "unix:", 5) == 0) {
        struct sockaddr_un *su = (struct sockaddr_un *)ss;
        size_t              n = strlen(text + 5);
        if (n == 0 || n >= sizeof(su->sun_path))
            return PH_EADDR;
        su->sun_family = AF_UNIX;
        memcpy(su->sun_path, text + 5, n + 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return PH_EADDR;
        hlen = (size_t)(close - text - 1);
        colon = close + 1;
        text++;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            return PH_EADDR;
        hlen = (size_t)(colon - text);
    }
    if (hlen >= sizeof(host) || parse_port(colon + 1, &port) != 0)
        return PH_EADDR;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (hlen == 0 || strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    if (strchr(host, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return PH_EADDR;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = port;
        *len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return PH_EADDR;
        s4->sin_family = AF_INET;
        s4->sin_port = port;
        *len = sizeof(*s4);
    }
    return 0;
}

char *
ph_addr_format(const struct sockaddr *sa, char *buf, size_t buf_len)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        snprintf(buf, buf_len, "[%s]:%u", host, ntohs(s6->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        snprintf(buf, buf_len, "%s:%u", host, ntohs(s4->sin_port));
    } else if (sa->sa_family == AF_UNIX) {
        snprintf(buf, buf_len, "unix:%s",
                 ((const struct sockaddr_un *)sa)->sun_path);
    } else {
        snprintf(buf, buf_len, "?");
    }
    return buf;
}
