/* Request deadlines: a connection that has not delivered a whole request (head and body)
 * within request_timeout of opening or of its last reply is cut, however steadily it trickles
 * bytes (the idle timeout alone restarts with every byte: slowloris). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "broker.h"
#include "laundromat/clock.h"

struct watched {
    struct watched *prev, *next;
    int fd;
    uint64_t since_ns; /* a request is due since then; 0: none due (a reply is being made) */
    char peer[64];
};

/* The list, its thread and the limit: one lock for all. A watched fd stays open until
 * deadline_forget() (the server closes it only after), so shutdown() under the lock never
 * meets a reused descriptor. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static struct watched *head;
static uint64_t limit_ns;
static pthread_t thread;
static int running, stopping;

struct watched *deadline_watch(int fd, const char *peer)
{
    struct watched *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = fd;
    snprintf(w->peer, sizeof w->peer, "%s", peer);
    pthread_mutex_lock(&lock);
    w->since_ns = lm_now_ns();
    w->next = head;
    if (head)
        head->prev = w;
    head = w;
    pthread_mutex_unlock(&lock);
    return w;
}

void deadline_set(struct watched *w, int due)
{
    if (!w)
        return;
    pthread_mutex_lock(&lock);
    w->since_ns = due ? lm_now_ns() : 0;
    pthread_mutex_unlock(&lock);
}

void deadline_forget(struct watched *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&lock);
    free(w);
}

/* Cuts the overdue connections; returns when the next one falls due (at most limit_ns on). */
static uint64_t cut_overdue(uint64_t now)
{
    uint64_t next = now + limit_ns;
    for (struct watched *w = head; w; w = w->next) {
        if (!w->since_ns)
            continue;
        if (now - w->since_ns >= limit_ns) {
            /* The connection's thread sees end of input and closes it. */
            shutdown(w->fd, SHUT_RDWR);
            w->since_ns = 0;
            lm_info("connection from %s cut: no whole request within %" PRIu64
                    " s (request_timeout)",
                    w->peer, limit_ns / 1000000000);
        } else if (w->since_ns + limit_ns < next) {
            next = w->since_ns + limit_ns;
        }
    }
    return next;
}

static void *deadline_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        /* A deadline set after this wait begins falls after its end (now + limit_ns). */
        uint64_t next = cut_overdue(lm_now_ns());
        struct timespec until = {.tv_sec = (time_t)(next / 1000000000),
                                 .tv_nsec = (long)(next % 1000000000)};
        while (!stopping && lm_now_ns() < next &&
               pthread_cond_timedwait(&wake, &lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int deadline_start(uint32_t seconds)
{
    pthread_condattr_t ca;
    limit_ns = (uint64_t)seconds * 1000000000;
    stopping = 0;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the clock of lm_now_ns() */
    int rc = pthread_cond_init(&wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return -1;
    if (pthread_create(&thread, NULL, deadline_main, NULL) != 0) {
        pthread_cond_destroy(&wake);
        return -1;
    }
    running = 1;
    return 0;
}

void deadline_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    pthread_cond_destroy(&wake);
    running = 0;
}
