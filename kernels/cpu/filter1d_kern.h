/* filter1d_kern.h — the typed kernels of filter1d.c, written once and
 * included once per element type with CV_FK_T (element), CV_FK_V (its
 * 32-byte GCC vector, unaligned and may_alias), CV_FK_L (lanes),
 * CV_FK_EVEN / CV_FK_ODD (shuffle masks picking the even / odd lanes of two
 * vectors) and CV_FK_SFX (name suffix) defined. No include guard by design; nothing
 * here is visible outside filter1d.c. Any thread. */

#define CV_FK_CAT_(a, b) a##_##b
#define CV_FK_CAT(a, b) CV_FK_CAT_(a, b)
#define CV_FK_FN(name) CV_FK_CAT(name, CV_FK_SFX)

/* Multiply-accumulate of nt input runs into two outputs; 4 vectors per
 * output stay in registers while the terms stream past. The outputs must
 * not overlap the inputs. */
static void CV_FK_FN(mac2)(int nt, const void *const *pv, const double *w0d, const double *w1d,
                           int64_t len, void *o0v, void *o1v) {
  CV_FK_T w0[CV_FTERM_MAX], w1[CV_FTERM_MAX];
  const CV_FK_T *p[CV_FTERM_MAX];
  for (int t = 0; t < nt; t++) {
    w0[t] = (CV_FK_T)w0d[t];
    w1[t] = (CV_FK_T)w1d[t];
    p[t] = pv[t];
  }
  CV_FK_T *o0 = o0v, *o1 = o1v;
  int64_t i = 0;
  if (len >= CV_FK_L) {
    /* weights broadcast once: the inner loop then only loads and computes */
    CV_FK_V c0[CV_FTERM_MAX], c1[CV_FTERM_MAX];
    for (int t = 0; t < nt; t++) {
      c0[t] = (CV_FK_V){0} + w0[t];
      c1[t] = (CV_FK_V){0} + w1[t];
    }
    for (; i + 4 * CV_FK_L <= len; i += 4 * CV_FK_L) {
      CV_FK_V a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
      for (int t = 0; t < nt; t++) {
        const CV_FK_T *s = p[t] + i;
        CV_FK_V x0 = *(const CV_FK_V *)s, x1 = *(const CV_FK_V *)(s + CV_FK_L);
        CV_FK_V x2 = *(const CV_FK_V *)(s + 2 * CV_FK_L), x3 = *(const CV_FK_V *)(s + 3 * CV_FK_L);
        CV_FK_V c = c0[t], d = c1[t];
        a0 = CV_FK_MADD(c, x0, a0);
        a1 = CV_FK_MADD(c, x1, a1);
        a2 = CV_FK_MADD(c, x2, a2);
        a3 = CV_FK_MADD(c, x3, a3);
        b0 = CV_FK_MADD(d, x0, b0);
        b1 = CV_FK_MADD(d, x1, b1);
        b2 = CV_FK_MADD(d, x2, b2);
        b3 = CV_FK_MADD(d, x3, b3);
      }
      *(CV_FK_V *)(o0 + i) = a0;
      *(CV_FK_V *)(o0 + i + CV_FK_L) = a1;
      *(CV_FK_V *)(o0 + i + 2 * CV_FK_L) = a2;
      *(CV_FK_V *)(o0 + i + 3 * CV_FK_L) = a3;
      *(CV_FK_V *)(o1 + i) = b0;
      *(CV_FK_V *)(o1 + i + CV_FK_L) = b1;
      *(CV_FK_V *)(o1 + i + 2 * CV_FK_L) = b2;
      *(CV_FK_V *)(o1 + i + 3 * CV_FK_L) = b3;
    }
    /* single vectors; the last one may overlap the previous (it rewrites
     * the same values), so no scalar tail is left */
    while (i < len) {
      if (i + CV_FK_L > len) i = len - CV_FK_L;
      CV_FK_V a0 = {0}, b0 = {0};
      for (int t = 0; t < nt; t++) {
        CV_FK_V x0 = *(const CV_FK_V *)(p[t] + i);
        a0 = CV_FK_MADD(c0[t], x0, a0);
        b0 = CV_FK_MADD(c1[t], x0, b0);
      }
      *(CV_FK_V *)(o0 + i) = a0;
      *(CV_FK_V *)(o1 + i) = b0;
      i += CV_FK_L;
    }
  }
  for (; i < len; i++) {
    CV_FK_T a0 = 0, b0 = 0;
    for (int t = 0; t < nt; t++) {
      CV_FK_T x0 = p[t][i];
      a0 += w0[t] * x0;
      b0 += w1[t] * x0;
    }
    o0[i] = a0;
    o1[i] = b0;
  }
}

/* e[k] = x[2k], o[k] = x[2k+1] for the n samples of x. */
static void CV_FK_FN(deint)(const void *xv, int64_t n, void *ev, void *ov) {
  const CV_FK_T *x = xv;
  CV_FK_T *e = ev, *o = ov;
  int64_t h = n / 2, k = 0;
  for (; k + CV_FK_L <= h; k += CV_FK_L) {
    CV_FK_V lo = *(const CV_FK_V *)(x + 2 * k), hi = *(const CV_FK_V *)(x + 2 * k + CV_FK_L);
    *(CV_FK_V *)(e + k) = __builtin_shufflevector(lo, hi, CV_FK_EVEN);
    *(CV_FK_V *)(o + k) = __builtin_shufflevector(lo, hi, CV_FK_ODD);
  }
  for (; k < h; k++) {
    e[k] = x[2 * k];
    o[k] = x[2 * k + 1];
  }
  if (n & 1) e[h] = x[n - 1];
}

static inline CV_FK_T CV_FK_FN(extv)(const cv_fext_t *e, const CV_FK_T *x) {
  double v = 0.0;
  for (int t = 0; t < e->nt; t++) v += e->c[t] * (double)x[e->q[t]];
  return (CV_FK_T)v;
}

/* The extended row p0..p1 of x (dwt plan pl) split by parity of p − p0
 * into e (even) and o (odd). */
static void CV_FK_FN(padsplit)(const cv_fplan_t *pl, const void *xv, int64_t p0, int64_t p1, void *ev,
                               void *ov) {
  const CV_FK_T *x = xv;
  CV_FK_T *e = ev, *o = ov;
  int64_t n = pl->n_in, p = p0;
  for (; p <= p1 && p < 0; p++) {
    CV_FK_T v = CV_FK_FN(extv)(&pl->ext[p - pl->min_pos], x);
    int64_t r = p - p0;
    if (r & 1)
      o[r >> 1] = v;
    else
      e[r >> 1] = v;
  }
  int64_t b = p1 < n - 1 ? p1 : n - 1;
  if (p <= b) {
    int64_t r = p - p0;   /* sample p goes where r does, p + 1 to the other run */
    CV_FK_T *d0 = (r & 1) ? o + (r >> 1) : e + (r >> 1), *d1 = (r & 1) ? e + ((r + 1) >> 1) : o + (r >> 1);
    CV_FK_FN(deint)(x + p, b - p + 1, d0, d1);
    p = b + 1;
  }
  for (; p <= p1; p++) {
    CV_FK_T v = CV_FK_FN(extv)(&pl->ext[pl->n_ext_lo + (p - n)], x);
    int64_t r = p - p0;
    if (r & 1)
      o[r >> 1] = v;
    else
      e[r >> 1] = v;
  }
}

static void CV_FK_FN(inter)(const void *ev, const void *ov, int64_t n, void *outv) {
  const CV_FK_T *e = ev, *o = ov;
  CV_FK_T *out = outv;
  int64_t h = n / 2;
  for (int64_t k = 0; k < h; k++) {
    out[2 * k] = e[k];
    out[2 * k + 1] = o[k];
  }
  if (n & 1) out[n - 1] = e[h];
}

const cv_fk_t CV_FK_CAT(cv_fk, CV_FK_SFX) = {sizeof(CV_FK_T), CV_FK_FN(mac2), CV_FK_FN(padsplit),
                                             CV_FK_FN(deint), CV_FK_FN(inter)};

#undef CV_FK_FN
#undef CV_FK_CAT
#undef CV_FK_CAT_
