/* process.h — process-wide settings both convoyd and the convoy CLI make
 * first thing in main, before any thread or OpenMP region: OpenMP's passive
 * wait policy (one re-exec when the environment does not set one) and
 * malloc's trim and mmap thresholds (main thread, once); and padding of
 * thread heaps (any thread). */
#ifndef CV_PROCESS_H
#define CV_PROCESS_H

#include <stddef.h>

void cv_process_setup(char **argv);

/* Keeps the calling thread's malloc heap growing a slab at a time: glibc
 * grows a thread arena's heap page by page (M_TOP_PAD is the main arena's),
 * so a thread whose allocations outlive it (results in the store, job
 * records) pays an mprotect and page faults every few allocations. Call
 * with the work units just done (jobs, requests); every CV_HEAP_PAD_EVERY
 * of them, a CV_HEAP_PAD block is allocated, its pages populated in one
 * madvise, and freed. Any thread (state is per thread). */
void cv_heap_tick(unsigned units);

/* Faults in the whole pages of [p, p + n) for writing, in one madvise
 * (MADV_POPULATE_WRITE) instead of a page fault each; a kernel without it
 * (before Linux 5.14) leaves them to fault on first use. Any thread. */
void cv_prefault(void *p, size_t n);

#endif
