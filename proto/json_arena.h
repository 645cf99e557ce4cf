/* json_arena.h — cJSON's allocations during one parse served from a bump
 * arena that the calling thread reuses from parse to parse (a 5 KiB spec
 * costs dozens of malloc/free pairs otherwise, and a JSON array of numbers
 * one per element). cv_json_hooks_install (main, before any thread) points
 * cJSON at hooks that use the calling thread's arena while it is open and
 * malloc/free otherwise. Open an arena around a parse, and delete every
 * cJSON tree made in it before closing it. Any thread; one arena per thread. */
#ifndef CV_JSON_ARENA_H
#define CV_JSON_ARENA_H

#include <stdbool.h>

/* Installs the hooks; without them cJSON uses malloc and open/close do nothing harmful. */
void cv_json_hooks_install(void);
/* Opens the calling thread's arena; false when it is open already (nested
 * parse: the outer one keeps it) — then do not close it. */
bool cv_json_arena_open(void);
/* Closes it: what it handed out is reclaimed at once (keeps a warm chunk). */
void cv_json_arena_close(void);

#endif
