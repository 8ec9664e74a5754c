/* arena.h -- bump allocator for per-transaction strings (internal). */
#ifndef PH_ARENA_H
#define PH_ARENA_H

#include <stddef.h>

struct ph_arena_block;

struct ph_arena {
    struct ph_arena_block *head;
    size_t                 total;  /* bytes handed out since reset */
};

void *ph_arena_alloc(struct ph_arena *a, size_t n);
char *ph_arena_strndup(struct ph_arena *a, const char *s, size_t len);
void  ph_arena_reset(struct ph_arena *a);
void  ph_arena_cleanup(struct ph_arena *a);

#endif
