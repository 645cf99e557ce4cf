/* slab.h — running a job larger than a device's memory budget in slabs
 * along its outermost axis (design issue 5 item 4). Two parts:
 *  - planning (slab.c, pure): slab boundaries, each slab's input rows with
 *    its halo, the input → output row mapping and the dwt's even alignment;
 *  - the executor (slab_run.c): cuts a work item into sub-items (halo rows
 *    gathered, boundary extension materialised on the host), runs each
 *    through a backend's single-item runner and puts the rows in place.
 * Backend-neutral: the CPU and CUDA backends both use it. The slab axis is
 * axis 0 of x for dwt/idwt/sepconv and the outermost spatial axis (D of
 * NCDHW, axis 1 of NDHWC) for conv. Any thread; no globals. */
#ifndef CV_SLAB_H
#define CV_SLAB_H

#include <stdint.h>

#include "backend.h"

/* How output rows along the slab axis depend on input rows. */
typedef enum {
  CV_SLAB_PLAIN = 0,   /* row o reads row o (the axis is not filtered) */
  CV_SLAB_WINDOW,      /* row o reads extended positions [o·stride − pad_lo, … + span) */
  CV_SLAB_DWT,         /* one dwt level, non-periodic mode: coefficient k reads [2k+2−F, 2k+1] */
} cv_slab_kind_t;

typedef struct cv_slab_geom_s {
  cv_slab_kind_t kind;
  int64_t n_in, n_out;      /* rows along the slab axis (PLAIN: equal) */
  int64_t stride, pad_lo;   /* WINDOW */
  int64_t span;             /* WINDOW: dilation·(taps − 1) + 1 */
  int filter_len;           /* DWT: F */
  uint64_t fixed_bytes;     /* cost of what every slab holds whole (conv weights, bias) */
  uint64_t in_row_bytes;    /* cost of one input row (all slabbed inputs) */
  uint64_t out_row_bytes;   /* cost of one output row (all outputs) */
} cv_slab_geom_t;

/* One slab. The sub-job reads input rows [p0, p1) — for WINDOW extended
 * positions, which may lie outside [0, n_in) and are materialised by the
 * boundary rule; PLAIN and DWT real rows — computes sub_out rows and its
 * rows [keep, keep + o1 − o0) are the full result's rows [o0, o1). */
typedef struct cv_slab_s {
  int64_t o0, o1;
  int64_t p0, p1;
  int64_t sub_out, keep;
} cv_slab_t;

/* The slab that yields output rows [o0, o1) (0 <= o0 < o1 <= n_out).
 * DWT windows start at an even row (the decimation phase), reach the real
 * signal's edge wherever a kept coefficient reads past it, and are at least
 * min(n_in, 2F) rows long, so boundary rules see the same samples as on the
 * whole signal; every kept coefficient reads only rows inside the window. */
void cv_slab_at(const cv_slab_geom_t *g, int64_t o0, int64_t o1, cv_slab_t *s);

/* Bytes the slab's sub-job needs: fixed + input rows + sub_out rows. */
uint64_t cv_slab_cost(const cv_slab_geom_t *g, const cv_slab_t *s);

/* Cuts [0, n_out) into the fewest equal slabs (the last may be shorter)
 * whose every cost is <= budget: *out (malloc'd, caller frees) and *n.
 * Returns 0; -CV_EPAYLOAD_TOO_LARGE when even one-row slabs do not fit;
 * -CV_EINVALID_ARGUMENT for a geometry that makes no sense; or
 * -CV_EOUT_OF_MEMORY. */
int cv_slab_plan(const cv_slab_geom_t *g, uint64_t budget, cv_slab_t **out, int64_t *n);

/* ---- the executor (slab_run.c) ---- */

/* Runs one (sub-)item whole on the device; sets w->rc / w->err itself or
 * returns -CV_E…. */
typedef int (*cv_slab_run_fn)(void *ctx, cv_work_t *w);

/* A job's working-set estimate on a device: 2 × (inputs in the compute
 * dtype + outputs), room for one intermediate of each. */
uint64_t cv_slab_work_bytes(const cv_work_t *w);

/* Runs w: whole through run_one when budget is 0 or its working set fits,
 * else in slabs (each sub-item fits the budget). Reports finished output
 * ranges through w->on_slab either way. What cannot run in slabs (see
 * docs/decisions.md "slabs") fails with payload_too_large naming the
 * reason. Returns w->rc (0 or -CV_E…), with w->err set on failure. */
int cv_slab_run(cv_work_t *w, uint64_t budget, cv_slab_run_fn run_one, void *ctx);

#endif
