/* json_arena.c — the cJSON arena: a thread-local list of chunks (the first
 * one, CV_JSON_ARENA_KEEP bytes, stays for the thread's next parse and is
 * freed when the thread ends; larger ones are freed on close), 16-byte
 * aligned bump allocation, free a no-op for pointers inside the open arena.
 * Any thread. */
#include "json_arena.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define CV_JSON_ARENA_KEEP ((size_t)64 << 10)   /* chunk kept between parses */
#define CV_JSON_ARENA_ALIGN 16

typedef struct chunk_s {
  struct chunk_s *next;
  size_t cap, used;
  _Alignas(CV_JSON_ARENA_ALIGN) char data[];
} chunk_t;

typedef struct {
  bool open;
  chunk_t *head;    /* the chunk being filled; the kept one is last */
  chunk_t *keep;
} arena_t;

static _Thread_local arena_t tl_arena;

/* The kept chunk goes when its thread ends (a pthread key's destructor). */
static pthread_key_t keep_key;
static pthread_once_t keep_once = PTHREAD_ONCE_INIT;
static void keep_key_init(void) { pthread_key_create(&keep_key, free); }

static chunk_t *chunk_new(size_t cap) {
  chunk_t *c = malloc(sizeof *c + cap);
  if (!c) return NULL;
  c->next = NULL;
  c->cap = cap;
  c->used = 0;
  return c;
}

static void *arena_malloc(size_t n) {
  arena_t *a = &tl_arena;
  if (!a->open) return malloc(n);
  size_t need = (n + CV_JSON_ARENA_ALIGN - 1) & ~(size_t)(CV_JSON_ARENA_ALIGN - 1);
  if (need < n) return NULL;
  chunk_t *c = a->head;
  if (!c || c->cap - c->used < need) {
    size_t cap = c ? c->cap * 2 : CV_JSON_ARENA_KEEP;
    if (cap < need) cap = need;
    if (!(c = chunk_new(cap))) return NULL;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->data + c->used;
  c->used += need;
  return p;
}

static bool in_arena(const arena_t *a, const void *p) {
  for (const chunk_t *c = a->head; c; c = c->next)
    if ((uintptr_t)p >= (uintptr_t)c->data && (uintptr_t)p < (uintptr_t)c->data + c->cap) return true;
  return false;
}

static void arena_free(void *p) {
  arena_t *a = &tl_arena;
  if (!p || (a->open && in_arena(a, p))) return;
  free(p);
}

void cv_json_hooks_install(void) {
  cJSON_Hooks h = {.malloc_fn = arena_malloc, .free_fn = arena_free};
  cJSON_InitHooks(&h);
}

bool cv_json_arena_open(void) {
  arena_t *a = &tl_arena;
  if (a->open) return false;
  a->open = true;
  if (!a->keep && (a->keep = chunk_new(CV_JSON_ARENA_KEEP))) {
    pthread_once(&keep_once, keep_key_init);
    pthread_setspecific(keep_key, a->keep);
  }
  a->head = a->keep;
  if (a->keep) a->keep->used = 0;
  return true;
}

void cv_json_arena_close(void) {
  arena_t *a = &tl_arena;
  while (a->head && a->head != a->keep) {
    chunk_t *c = a->head;
    a->head = c->next;
    free(c);
  }
  a->head = NULL;
  a->open = false;
}
