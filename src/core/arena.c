/*
 * arena.c -- a bump allocator for a transaction's small strings (sender,
 * recipients, parameters). Reset frees everything but one block,
 * so a busy session reuses its memory.
 */
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 2048

struct ph_arena_block {
    struct ph_arena_block *next;
    size_t                 used, cap;
    char                   data[];
};

void
ph_arena_reset(struct ph_arena *a)
{
    struct ph_arena_block *b = a->head, *next;

    if (b == NULL)
        return;
    for (next = b->next; next != NULL; next = b) {
        b = next->next;
        free(next);
    }
    a->head->next = NULL;
    a->head->used = 0;
    a->total = 0;
}

void
ph_arena_cleanup(struct ph_arena *a)
{
    ph_arena_reset(a);
    free(a->head);
    a->head = NULL;
}

void *
ph_arena_alloc(struct ph_arena *a, size_t n)
{
    struct ph_arena_block *b = a->head;
    void                  *p;

    n = (n + 7) & ~(size_t)7;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = malloc(sizeof(*b) + cap);
        if (b == NULL)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;      /* newest first; reset keeps the newest */
        a->head = b;
    }
    p = b->data + b->used;
    b->used += n;
    a->total += n;
    return p;
}

char *
ph_arena_strndup(struct ph_arena *a, const char *s, size_t len)
{
    char *p = ph_arena_alloc(a, len + 1);

    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}
