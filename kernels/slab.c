/* slab.c — slab planning (slab.h): the rows each slab of a job reads and
 * writes along the slab axis, and the slab size a memory budget allows.
 * Pure functions; any thread. Tested by tests/unit/test_slab.c. */
#include "slab.h"

#include <stdlib.h>

static int64_t even_floor(int64_t v) { return v - (v & 1); }

void cv_slab_at(const cv_slab_geom_t *g, int64_t o0, int64_t o1, cv_slab_t *s) {
  s->o0 = o0;
  s->o1 = o1;
  s->keep = 0;
  s->sub_out = o1 - o0;
  s->p0 = o0;
  s->p1 = o1;
  switch (g->kind) {
    case CV_SLAB_PLAIN:
      return;
    case CV_SLAB_WINDOW:
      s->p0 = o0 * g->stride - g->pad_lo;
      s->p1 = (o1 - 1) * g->stride - g->pad_lo + g->span;
      return;
    case CV_SLAB_DWT: {
      int64_t n = g->n_in, F = g->filter_len, minw = 2 * F < n ? 2 * F : n;
      int64_t need0 = 2 * o0 + 2 - F, need1 = 2 * (o1 - 1) + 2;   /* [need0, need1) */
      int64_t w0 = need0 <= 0 ? 0 : even_floor(need0), w1 = need1 >= n ? n : need1;
      if (w1 - w0 < minw) {   /* short windows: grow away from a real edge, keep w0 even */
        if (w0 == 0) w1 = minw;
        else if (w1 == n) w0 = even_floor(n - minw);
        else w1 = w0 + minw;
        if (w1 > n) w1 = n;
        if (w0 < 0) w0 = 0;
      }
      s->p0 = w0;
      s->p1 = w1;
      s->sub_out = (w1 - w0 + F - 1) / 2;   /* cv_dwt_coeff_len, non-periodic */
      s->keep = o0 - w0 / 2;
      return;
    }
  }
}

uint64_t cv_slab_cost(const cv_slab_geom_t *g, const cv_slab_t *s) {
  return g->fixed_bytes + (uint64_t)(s->p1 - s->p0) * g->in_row_bytes + (uint64_t)s->sub_out * g->out_row_bytes;
}

static bool geom_ok(const cv_slab_geom_t *g) {
  if (g->n_in < 1 || g->n_out < 1) return false;
  switch (g->kind) {
    case CV_SLAB_PLAIN: return g->n_in == g->n_out;
    case CV_SLAB_WINDOW: return g->stride >= 1 && g->span >= 1 && g->pad_lo >= 0;
    case CV_SLAB_DWT: return g->filter_len >= 1 && g->n_out == (g->n_in + g->filter_len - 1) / 2;
  }
  return false;
}

/* Whether slabs of r rows fit the budget (every one of them). */
static bool fits(const cv_slab_geom_t *g, uint64_t budget, int64_t r) {
  cv_slab_t s;
  for (int64_t o0 = 0; o0 < g->n_out; o0 += r) {
    cv_slab_at(g, o0, o0 + r < g->n_out ? o0 + r : g->n_out, &s);
    if (cv_slab_cost(g, &s) > budget) return false;
  }
  return true;
}

int cv_slab_plan(const cv_slab_geom_t *g, uint64_t budget, cv_slab_t **out, int64_t *n) {
  *out = NULL;
  *n = 0;
  if (!geom_ok(g)) return -CV_EINVALID_ARGUMENT;
  if (!fits(g, budget, 1)) return -CV_EPAYLOAD_TOO_LARGE;
  int64_t lo = 1, hi = g->n_out;   /* fits(lo); the largest r that fits is in [lo, hi] */
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (fits(g, budget, mid)) lo = mid;
    else hi = mid - 1;
  }
  int64_t count = (g->n_out + lo - 1) / lo;
  cv_slab_t *s = malloc(sizeof *s * (size_t)count);
  if (!s) return -CV_EOUT_OF_MEMORY;
  for (int64_t i = 0; i < count; i++) {
    int64_t o0 = i * lo, o1 = o0 + lo < g->n_out ? o0 + lo : g->n_out;
    cv_slab_at(g, o0, o1, &s[i]);
  }
  *out = s;
  *n = count;
  return 0;
}
