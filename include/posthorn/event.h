/*
 * event.h -- embedding posthorn in a program's own libevent loop. The only
 * public header that exposes libevent types.
 */
#ifndef POSTHORN_EVENT_H
#define POSTHORN_EVENT_H

#include <event2/event.h>
#include <posthorn/loop.h>

/* A loop over the caller's event_base; ph_loop_free() leaves base alone. */
PH_API ph_loop *ph_loop_new_with_base(struct event_base *base);
/* The event_base under a loop, for the program's own events. */
PH_API struct event_base *ph_loop_base(ph_loop *loop);

#endif
