/* dwt_haar.c — fused single passes for a dwt or idwt level whose filters
 * all have 2 taps (Haar, db1, bior1.1, any 2-tap custom bank) over 1, 2 or 3
 * trailing axes: every 2×2×2 block is read once and written once, no
 * intermediates. With two taps and even lengths no sample needs the
 * extension, so every mode agrees. Called by dwt.c and idwt.c; OpenMP
 * threads inside, bounded by `threads`. */
#include "filter1d.h"

typedef float cv_hv8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef double cv_hv4d __attribute__((vector_size(32), aligned(8), may_alias));

#define CV_HK_T float
#define CV_HK_V cv_hv8f
#define CV_HK_L 8
#define CV_HK_EVEN 0, 2, 4, 6, 8, 10, 12, 14
#define CV_HK_ODD 1, 3, 5, 7, 9, 11, 13, 15
#define CV_HK_ILO 0, 8, 1, 9, 2, 10, 3, 11
#define CV_HK_IHI 4, 12, 5, 13, 6, 14, 7, 15
#define CV_HK_SFX f32
#include "dwt_haar_kern.h"
#undef CV_HK_T
#undef CV_HK_V
#undef CV_HK_L
#undef CV_HK_EVEN
#undef CV_HK_ODD
#undef CV_HK_ILO
#undef CV_HK_IHI
#undef CV_HK_SFX

#define CV_HK_T double
#define CV_HK_V cv_hv4d
#define CV_HK_L 4
#define CV_HK_EVEN 0, 2, 4, 6
#define CV_HK_ODD 1, 3, 5, 7
#define CV_HK_ILO 0, 4, 1, 5
#define CV_HK_IHI 2, 6, 3, 7
#define CV_HK_SFX f64
#include "dwt_haar_kern.h"
#undef CV_HK_T
#undef CV_HK_V
#undef CV_HK_L
#undef CV_HK_EVEN
#undef CV_HK_ODD
#undef CV_HK_ILO
#undef CV_HK_IHI
#undef CV_HK_SFX

typedef struct {
  int k;
  int64_t per, in_blk, out_blk, n[3], m[3];
  size_t es;
  bool f32;
  const double *tp;
  const char *xb;
  char *const *ob;
} haar_fwd_t;

/* Item it of a forward pass: (batch, first transformed index). */
static void haar_fwd_item(const haar_fwd_t *h, int64_t it) {
  const int k = h->k;
  const int64_t per = h->per, in_blk = h->in_blk, out_blk = h->out_blk, *n = h->n, *m = h->m;
  const size_t es = h->es;
  const bool f32 = h->f32;
  const double *tp = h->tp;
  const char *xb = h->xb;
  char *const *ob = h->ob;
  int64_t b = it / per, i = it % per;
  const char *xs = xb + (size_t)(b * in_blk) * es;
  int64_t ooff = b * out_blk;
  if (k == 1) {
    int64_t u0 = m[0] * i / per, u1 = m[0] * (i + 1) / per;
    if (f32)
      haar1_f32((const float *)xs + 2 * u0, u1 - u0, tp, (float *)ob[0] + ooff + u0,
                (float *)ob[1] + ooff + u0);
    else
      haar1_f64((const double *)xs + 2 * u0, u1 - u0, tp, (double *)ob[0] + ooff + u0,
                (double *)ob[1] + ooff + u0);
    return;
  }
  if (k == 2) {
    const char *r0 = xs + (size_t)(2 * i * n[1]) * es, *r1 = r0 + (size_t)n[1] * es;
    int64_t o = ooff + i * m[1];
    char *op[4];
    for (int v = 0; v < 4; v++) op[v] = ob[v] + (size_t)o * es;
    if (f32)
      haar2_f32((const float *)r0, (const float *)r1, m[1], tp, (float **)op);
    else
      haar2_f64((const double *)r0, (const double *)r1, m[1], tp, (double **)op);
    return;
  }
  for (int64_t j = 0; j < m[1]; j++) {
    const char *r00 = xs + (size_t)((2 * i * n[1] + 2 * j) * n[2]) * es;
    const char *r01 = r00 + (size_t)n[2] * es, *r10 = r00 + (size_t)(n[1] * n[2]) * es;
    const char *r11 = r10 + (size_t)n[2] * es;
    int64_t o = ooff + (i * m[1] + j) * m[2];
    char *op[8];
    for (int v = 0; v < 8; v++) op[v] = ob[v] + (size_t)o * es;
    if (f32)
      haar3_f32((const float *)r00, (const float *)r01, (const float *)r10, (const float *)r11, m[2],
                tp, (float **)op);
    else
      haar3_f64((const double *)r00, (const double *)r01, (const double *)r10, (const double *)r11,
                m[2], tp, (double **)op);
  }
}

int cv_dwt_haar(const cv_fk_t *fk, int rank, const int64_t *shape, const cv_fplan_t *const *plan,
                const unsigned *bit, char *const *band, const void *x, int threads) {
  int k = 0;
  while (k < rank && plan[rank - 1 - k]) k++;
  if (k < 1 || k > 3) return 0;
  for (int d = 0; d < rank - k; d++)
    if (plan[d]) return 0;   /* a transformed axis before a batch axis */
  double tp[12];
  int64_t m[3] = {0}, n[3] = {0};
  for (int q = 0; q < k; q++) {
    const cv_fplan_t *pl = plan[rank - k + q];
    if (pl->n_terms != 2 || pl->step != 2 || pl->n_in % 2 || pl->n_units * 2 != pl->n_in) return 0;
    /* terms[0] reads x[2o + 1], terms[1] reads x[2o] */
    if (pl->terms[0].pos != 1 || pl->terms[1].pos != 0) return 0;
    tp[4 * q + 0] = pl->terms[0].w0;
    tp[4 * q + 1] = pl->terms[1].w0;
    tp[4 * q + 2] = pl->terms[0].w1;
    tp[4 * q + 3] = pl->terms[1].w1;
    n[q] = pl->n_in;
    m[q] = pl->n_units;
  }
  /* the kernels' band order: bit (k−1−q) of v is axis rank−k+q's letter */
  size_t es = fk->es;
  char *ob[8];
  for (unsigned v = 0; v < (1u << k); v++) {
    unsigned b = 0;
    for (int q = 0; q < k; q++)
      if ((v >> (k - 1 - q)) & 1u) b |= bit[rank - k + q];
    ob[v] = band[b];
  }
  int64_t B = 1;
  for (int d = 0; d < rank - k; d++) B *= shape[d];
  int64_t in_blk = 1, out_blk = 1;
  for (int q = 0; q < k; q++) {
    in_blk *= n[q];
    out_blk *= m[q];
  }
  /* items: (batch, first transformed index); one row: chunks of it */
  int64_t per = k > 1 ? m[0] : 1;
  if (k == 1 && B < 2 * threads) {
    per = (2 * threads + B - 1) / (B > 0 ? B : 1);
    if (per > m[0] / CV_DWT_ROW_CHUNK_MIN) per = m[0] / CV_DWT_ROW_CHUNK_MIN > 0 ? m[0] / CV_DWT_ROW_CHUNK_MIN : 1;
  }
  int64_t items = B * per;
  int nth = B * in_blk < CV_DWT_PAR_MIN || items < 2 ? 1 : threads;
  bool f32 = fk == &cv_fk_f32;
  const char *xb = x;
  haar_fwd_t h = {.k = k, .per = per, .in_blk = in_blk, .out_blk = out_blk, .n = {n[0], n[1], n[2]},
                  .m = {m[0], m[1], m[2]}, .es = es, .f32 = f32, .tp = tp, .xb = xb, .ob = ob};
  if (nth > 1) {   /* no OpenMP call at all for one thread: even if(0) costs a team */
#pragma omp parallel for num_threads(nth) schedule(static)
    for (int64_t it = 0; it < items; it++) haar_fwd_item(&h, it);
  } else {
    for (int64_t it = 0; it < items; it++) haar_fwd_item(&h, it);
  }
  return 1;
}

int cv_idwt_haar(const cv_fk_t *fk, int rank, const int64_t *b_shape, const int64_t *o_shape,
                 const cv_fplan_t *const *plan, const unsigned *bit, const char *const *band, char *out,
                 int threads) {
  int k = 0;
  while (k < rank && plan[rank - 1 - k]) k++;
  if (k < 1 || k > 3) return 0;
  for (int d = 0; d < rank - k; d++)
    if (plan[d] || b_shape[d] != o_shape[d]) return 0;
  double tp[12];
  int64_t m[3];
  for (int q = 0; q < k; q++) {
    const cv_fplan_t *pl = plan[rank - k + q];
    if (pl->n_terms != 2 || pl->n_bnd || pl->terms[0].src != 0 || pl->terms[0].pos != 0 ||
        pl->terms[1].src != 1 || pl->terms[1].pos != 0 || o_shape[rank - k + q] != 2 * pl->n_in)
      return 0;
    tp[4 * q + 0] = pl->terms[0].w0;   /* rl0 */
    tp[4 * q + 1] = pl->terms[0].w1;   /* rl1 */
    tp[4 * q + 2] = pl->terms[1].w0;   /* rh0 */
    tp[4 * q + 3] = pl->terms[1].w1;   /* rh1 */
    m[q] = pl->n_in;
  }
  const char *ib[8];
  for (unsigned v = 0; v < (1u << k); v++) {
    unsigned b = 0;
    for (int q = 0; q < k; q++)
      if ((v >> (k - 1 - q)) & 1u) b |= bit[rank - k + q];
    ib[v] = band[b];
    if (!ib[v]) return 0;   /* a missing band: the general path skips it for free */
  }
  size_t es = fk->es;
  int64_t B = 1, in_blk = 1;
  for (int d = 0; d < rank - k; d++) B *= b_shape[d];
  for (int q = 0; q < k; q++) in_blk *= m[q];
  int64_t out_blk = in_blk << k;
  int64_t per = k > 1 ? m[0] : 1;
  if (k == 1 && B < 2 * threads) {
    per = (2 * threads + B - 1) / (B > 0 ? B : 1);
    if (per > m[0] / CV_DWT_ROW_CHUNK_MIN) per = m[0] / CV_DWT_ROW_CHUNK_MIN > 0 ? m[0] / CV_DWT_ROW_CHUNK_MIN : 1;
  }
  int64_t items = B * per;
  int nth = B * out_blk < CV_DWT_PAR_MIN || items < 2 ? 1 : threads;
  bool f32 = fk == &cv_fk_f32;
#pragma omp parallel for num_threads(nth) if (nth > 1) schedule(static)
  for (int64_t it = 0; it < items; it++) {
    int64_t b = it / per, i = it % per;
    char *xo = out + (size_t)(b * out_blk) * es;
    int64_t boff = b * in_blk;
    if (k == 1) {
      int64_t u0 = m[0] * i / per, u1 = m[0] * (i + 1) / per;
      const char *src[2] = {ib[0] + (size_t)(boff + u0) * es, ib[1] + (size_t)(boff + u0) * es};
      if (f32)
        ihaar1_f32((const float *const *)src, u1 - u0, tp, (float *)xo + 2 * u0);
      else
        ihaar1_f64((const double *const *)src, u1 - u0, tp, (double *)xo + 2 * u0);
      continue;
    }
    if (k == 2) {
      const char *src[4];
      for (int v = 0; v < 4; v++) src[v] = ib[v] + (size_t)(boff + i * m[1]) * es;
      char *r0 = xo + (size_t)(2 * i * 2 * m[1]) * es, *r1 = r0 + (size_t)(2 * m[1]) * es;
      if (f32)
        ihaar2_f32((const float *const *)src, m[1], tp, (float *)r0, (float *)r1);
      else
        ihaar2_f64((const double *const *)src, m[1], tp, (double *)r0, (double *)r1);
      continue;
    }
    int64_t n1 = 2 * m[1], n2 = 2 * m[2];
    for (int64_t j = 0; j < m[1]; j++) {
      const char *src[8];
      for (int v = 0; v < 8; v++) src[v] = ib[v] + (size_t)(boff + (i * m[1] + j) * m[2]) * es;
      char *r[4];
      for (int p = 0; p < 2; p++)
        for (int q = 0; q < 2; q++) r[2 * p + q] = xo + (size_t)(((2 * i + p) * n1 + 2 * j + q) * n2) * es;
      if (f32)
        ihaar3_f32((const float *const *)src, m[2], tp, (float *const *)r);
      else
        ihaar3_f64((const double *const *)src, m[2], tp, (double *const *)r);
    }
  }
  return 1;
}
