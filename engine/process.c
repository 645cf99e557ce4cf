/* process.c — see process.h. The numbers behind each setting are in
 * docs/decisions.md ("Process settings"). */
#include "process.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* OpenMP's default wait policy spins idle team threads for a while after
 * each parallel region, taking the cores that HTTP threads, the engine's
 * workers and submitters need (half of all CPU in the tiny-job benchmark).
 * libgomp reads OMP_WAIT_POLICY when it is loaded, before main, so the
 * process sets it and re-executes itself once, unless the operator chose a
 * policy. */
static void set_passive_omp(char **argv) {
  if (getenv("OMP_WAIT_POLICY")) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);
  /* exec failed: carry on with the default policy */
}

/* glibc hands freed heap tops back to the kernel past 128 KiB and serves
 * blocks past 128 KiB with fresh mmaps: work that allocates and frees a few
 * hundred KiB then pays page faults every time. Keep up to 64 MiB per arena;
 * big buffers (tensors) come from the engine's pool anyway. */
static void tune_malloc(void) {
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TOP_PAD, 1 << 20);
}

void cv_process_setup(char **argv) {
  set_passive_omp(argv);
  tune_malloc();
}

/* ---- thread heaps ---- */

#define CV_HEAP_PAD ((size_t)2 << 20)   /* below M_MMAP_THRESHOLD above, so from the heap */
#define CV_HEAP_PAD_EVERY 64

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23          /* Linux 5.14; older kernels say EINVAL */
#endif

static _Thread_local unsigned tl_units;

void cv_heap_tick(unsigned units) {
  unsigned before = tl_units;
  tl_units += units;
  if (before != 0 && before / CV_HEAP_PAD_EVERY == tl_units / CV_HEAP_PAD_EVERY) return;
  char *p = malloc(CV_HEAP_PAD);
  if (!p) return;
  cv_prefault(p, CV_HEAP_PAD);
  free(p);
}

void cv_prefault(void *p, size_t n) {
  long pg = sysconf(_SC_PAGESIZE);
  if (pg <= 0) return;
  uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
  uintptr_t e = ((uintptr_t)p + n) & ~((uintptr_t)pg - 1);
  if (e > a) (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
}
