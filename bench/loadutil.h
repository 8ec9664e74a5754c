/*
 * loadutil.h -- small pieces shared by the load generators pop3load.c and
 * tlsload.c (each built alone with one cc command; this header sits next
 * to them): the monotonic clock, the process's CPU time, and the
 * loopback-only target address.
 */
#ifndef PH_BENCH_LOADUTIL_H
#define PH_BENCH_LOADUTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* User plus system CPU seconds of this process so far (all threads). */
static inline double cpu_self_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Fills sa with ADDR:PORT; -1 unless ADDR is an IPv4 address in
 * 127.0.0.0/8 (the generators only ever load this machine). */
static inline int loopback_target(struct sockaddr_in *sa, const char *addr, int port)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1 ||
        (ntohl(sa->sin_addr.s_addr) >> 24) != 127)
        return -1;
    return 0;
}

#endif
