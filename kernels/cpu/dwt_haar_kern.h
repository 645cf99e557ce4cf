/* dwt_haar_kern.h — the typed kernels of dwt_haar.c, written once and
 * included once per element type with CV_HK_T (element), CV_HK_V (its
 * 32-byte GCC vector, unaligned), CV_HK_L (lanes), CV_HK_EVEN / CV_HK_ODD
 * (lane lists picking the even / odd lanes of two vectors), CV_HK_ILO /
 * CV_HK_IHI (masks interleaving two vectors) and CV_HK_SFX (name suffix)
 * defined. No include guard by design. Any thread. */

#define CV_HK_CAT_(a, b) a##_##b
#define CV_HK_CAT(a, b) CV_HK_CAT_(a, b)
#define CV_HK_FN(name) CV_HK_CAT(name, CV_HK_SFX)

/* One 2-tap step: pywt's Σ_j f[j]·x[2o + 1 − j] = (0 + f0·x[2o+1]) + f1·x[2o]. */
#define CV_HK_LO(t, e, o) ((CV_HK_T)0 + (CV_HK_T)(t)[0] * (o) + (CV_HK_T)(t)[1] * (e))
#define CV_HK_HI(t, e, o) ((CV_HK_T)0 + (CV_HK_T)(t)[2] * (o) + (CV_HK_T)(t)[3] * (e))

/* Samples 2k … 2k + 2L − 1 of a row split into even and odd lanes. */
static inline void CV_HK_FN(split)(const CV_HK_T *r, CV_HK_V *e, CV_HK_V *o) {
  CV_HK_V lo = *(const CV_HK_V *)r, hi = *(const CV_HK_V *)(r + CV_HK_L);
  *e = __builtin_shufflevector(lo, hi, CV_HK_EVEN);
  *o = __builtin_shufflevector(lo, hi, CV_HK_ODD);
}

#define CV_HK_VLO(t, e, o) ((CV_HK_V){0} + (t)[0] * (o) + (t)[1] * (e))
#define CV_HK_VHI(t, e, o) ((CV_HK_V){0} + (t)[2] * (o) + (t)[3] * (e))

/* Rows r (n samples, n even) → lo, hi: the last axis alone. */
static void CV_HK_FN(haar1)(const CV_HK_T *restrict r, int64_t m, const double *tp,
                            CV_HK_T *restrict lo, CV_HK_T *restrict hi) {
  CV_HK_T t[4] = {(CV_HK_T)tp[0], (CV_HK_T)tp[1], (CV_HK_T)tp[2], (CV_HK_T)tp[3]};
  CV_HK_V vt[4];
  for (int q = 0; q < 4; q++) vt[q] = (CV_HK_V){0} + t[q];
  int64_t k = 0;
  for (; k + CV_HK_L <= m; k += CV_HK_L) {
    CV_HK_V e, o;
    CV_HK_FN(split)(r + 2 * k, &e, &o);
    *(CV_HK_V *)(lo + k) = CV_HK_VLO(vt, e, o);
    *(CV_HK_V *)(hi + k) = CV_HK_VHI(vt, e, o);
  }
  for (; k < m; k++) {
    CV_HK_T e = r[2 * k], o = r[2 * k + 1];
    lo[k] = CV_HK_LO(t, e, o);
    hi[k] = CV_HK_HI(t, e, o);
  }
}

/* Two rows of the second-last axis (r0 even, r1 odd) → the 4 bands (dim
 * bits: second-last axis = 2, last = 1). tp: 4 taps per axis, outer first. */
static void CV_HK_FN(haar2)(const CV_HK_T *restrict r0, const CV_HK_T *restrict r1, int64_t m,
                            const double *tp, CV_HK_T *restrict *o) {
  CV_HK_T a[4], b[4];
  for (int q = 0; q < 4; q++) {
    a[q] = (CV_HK_T)tp[q];
    b[q] = (CV_HK_T)tp[4 + q];
  }
  CV_HK_T *restrict o0 = o[0], *restrict o1 = o[1], *restrict o2 = o[2], *restrict o3 = o[3];
  CV_HK_V va[4], vb[4];
  for (int q = 0; q < 4; q++) {
    va[q] = (CV_HK_V){0} + a[q];
    vb[q] = (CV_HK_V){0} + b[q];
  }
  int64_t k = 0;
  for (; k + CV_HK_L <= m; k += CV_HK_L) {
    CV_HK_V x00, x01, x10, x11;
    CV_HK_FN(split)(r0 + 2 * k, &x00, &x01);
    CV_HK_FN(split)(r1 + 2 * k, &x10, &x11);
    CV_HK_V l0 = CV_HK_VLO(va, x00, x10), l1 = CV_HK_VLO(va, x01, x11);
    CV_HK_V h0 = CV_HK_VHI(va, x00, x10), h1 = CV_HK_VHI(va, x01, x11);
    *(CV_HK_V *)(o0 + k) = CV_HK_VLO(vb, l0, l1);
    *(CV_HK_V *)(o1 + k) = CV_HK_VHI(vb, l0, l1);
    *(CV_HK_V *)(o2 + k) = CV_HK_VLO(vb, h0, h1);
    *(CV_HK_V *)(o3 + k) = CV_HK_VHI(vb, h0, h1);
  }
  for (; k < m; k++) {
    CV_HK_T x00 = r0[2 * k], x01 = r0[2 * k + 1], x10 = r1[2 * k], x11 = r1[2 * k + 1];
    CV_HK_T l0 = CV_HK_LO(a, x00, x10), l1 = CV_HK_LO(a, x01, x11);
    CV_HK_T h0 = CV_HK_HI(a, x00, x10), h1 = CV_HK_HI(a, x01, x11);
    o0[k] = CV_HK_LO(b, l0, l1);
    o1[k] = CV_HK_HI(b, l0, l1);
    o2[k] = CV_HK_LO(b, h0, h1);
    o3[k] = CV_HK_HI(b, h0, h1);
  }
}

/* Four rows (axis −3 even/odd × axis −2 even/odd) → the 8 bands. */
static void CV_HK_FN(haar3)(const CV_HK_T *restrict r00, const CV_HK_T *restrict r01,
                            const CV_HK_T *restrict r10, const CV_HK_T *restrict r11, int64_t m,
                            const double *tp, CV_HK_T *restrict *o) {
  CV_HK_T a[4], b[4], c[4];
  for (int q = 0; q < 4; q++) {
    a[q] = (CV_HK_T)tp[q];
    b[q] = (CV_HK_T)tp[4 + q];
    c[q] = (CV_HK_T)tp[8 + q];
  }
  CV_HK_T *restrict o0 = o[0], *restrict o1 = o[1], *restrict o2 = o[2], *restrict o3 = o[3];
  CV_HK_T *restrict o4 = o[4], *restrict o5 = o[5], *restrict o6 = o[6], *restrict o7 = o[7];
  CV_HK_V va[4], vb[4], vc[4];
  for (int q = 0; q < 4; q++) {
    va[q] = (CV_HK_V){0} + a[q];
    vb[q] = (CV_HK_V){0} + b[q];
    vc[q] = (CV_HK_V){0} + c[q];
  }
  int64_t k = 0;
  for (; k + CV_HK_L <= m; k += CV_HK_L) {
    CV_HK_V x000, x001, x010, x011, x100, x101, x110, x111;
    CV_HK_FN(split)(r00 + 2 * k, &x000, &x001);
    CV_HK_FN(split)(r01 + 2 * k, &x010, &x011);
    CV_HK_FN(split)(r10 + 2 * k, &x100, &x101);
    CV_HK_FN(split)(r11 + 2 * k, &x110, &x111);
    CV_HK_V l00 = CV_HK_VLO(va, x000, x100), l01 = CV_HK_VLO(va, x001, x101);
    CV_HK_V l10 = CV_HK_VLO(va, x010, x110), l11 = CV_HK_VLO(va, x011, x111);
    CV_HK_V h00 = CV_HK_VHI(va, x000, x100), h01 = CV_HK_VHI(va, x001, x101);
    CV_HK_V h10 = CV_HK_VHI(va, x010, x110), h11 = CV_HK_VHI(va, x011, x111);
    CV_HK_V ll0 = CV_HK_VLO(vb, l00, l10), ll1 = CV_HK_VLO(vb, l01, l11);
    CV_HK_V lh0 = CV_HK_VHI(vb, l00, l10), lh1 = CV_HK_VHI(vb, l01, l11);
    CV_HK_V hl0 = CV_HK_VLO(vb, h00, h10), hl1 = CV_HK_VLO(vb, h01, h11);
    CV_HK_V hh0 = CV_HK_VHI(vb, h00, h10), hh1 = CV_HK_VHI(vb, h01, h11);
    *(CV_HK_V *)(o0 + k) = CV_HK_VLO(vc, ll0, ll1);
    *(CV_HK_V *)(o1 + k) = CV_HK_VHI(vc, ll0, ll1);
    *(CV_HK_V *)(o2 + k) = CV_HK_VLO(vc, lh0, lh1);
    *(CV_HK_V *)(o3 + k) = CV_HK_VHI(vc, lh0, lh1);
    *(CV_HK_V *)(o4 + k) = CV_HK_VLO(vc, hl0, hl1);
    *(CV_HK_V *)(o5 + k) = CV_HK_VHI(vc, hl0, hl1);
    *(CV_HK_V *)(o6 + k) = CV_HK_VLO(vc, hh0, hh1);
    *(CV_HK_V *)(o7 + k) = CV_HK_VHI(vc, hh0, hh1);
  }
  for (; k < m; k++) {
    CV_HK_T x000 = r00[2 * k], x001 = r00[2 * k + 1], x010 = r01[2 * k], x011 = r01[2 * k + 1];
    CV_HK_T x100 = r10[2 * k], x101 = r10[2 * k + 1], x110 = r11[2 * k], x111 = r11[2 * k + 1];
    /* axis −3 */
    CV_HK_T l00 = CV_HK_LO(a, x000, x100), l01 = CV_HK_LO(a, x001, x101);
    CV_HK_T l10 = CV_HK_LO(a, x010, x110), l11 = CV_HK_LO(a, x011, x111);
    CV_HK_T h00 = CV_HK_HI(a, x000, x100), h01 = CV_HK_HI(a, x001, x101);
    CV_HK_T h10 = CV_HK_HI(a, x010, x110), h11 = CV_HK_HI(a, x011, x111);
    /* axis −2 */
    CV_HK_T ll0 = CV_HK_LO(b, l00, l10), ll1 = CV_HK_LO(b, l01, l11);
    CV_HK_T lh0 = CV_HK_HI(b, l00, l10), lh1 = CV_HK_HI(b, l01, l11);
    CV_HK_T hl0 = CV_HK_LO(b, h00, h10), hl1 = CV_HK_LO(b, h01, h11);
    CV_HK_T hh0 = CV_HK_HI(b, h00, h10), hh1 = CV_HK_HI(b, h01, h11);
    /* axis −1 */
    o0[k] = CV_HK_LO(c, ll0, ll1);
    o1[k] = CV_HK_HI(c, ll0, ll1);
    o2[k] = CV_HK_LO(c, lh0, lh1);
    o3[k] = CV_HK_HI(c, lh0, lh1);
    o4[k] = CV_HK_LO(c, hl0, hl1);
    o5[k] = CV_HK_HI(c, hl0, hl1);
    o6[k] = CV_HK_LO(c, hh0, hh1);
    o7[k] = CV_HK_HI(c, hh0, hh1);
  }
}

/* ---- inverse: bands → interleaved samples ---- */

/* out[2k] = e[k], out[2k+1] = o[k] for one vector of each (a macro: vectors
 * passed by value would change the ABI where AVX is off). */
#define CV_HK_MERGE(out, e, o)                                              \
  do {                                                                      \
    CV_HK_V e_ = (e), o_ = (o);                                             \
    *(CV_HK_V *)(out) = __builtin_shufflevector(e_, o_, CV_HK_ILO);               \
    *(CV_HK_V *)((out) + CV_HK_L) = __builtin_shufflevector(e_, o_, CV_HK_IHI);   \
  } while (0)

/* One inverse 2-tap step: out[2u + r] = rl[r]·A[u] + rh[r]·D[u], t = {rl0, rl1, rh0, rh1}. */
#define CV_HK_IE(t, a, d) ((CV_HK_T)0 + (t)[0] * (a) + (t)[2] * (d))
#define CV_HK_IO(t, a, d) ((CV_HK_T)0 + (t)[1] * (a) + (t)[3] * (d))
#define CV_HK_VIE(t, a, d) ((CV_HK_V){0} + (t)[0] * (a) + (t)[2] * (d))
#define CV_HK_VIO(t, a, d) ((CV_HK_V){0} + (t)[1] * (a) + (t)[3] * (d))

/* Bands b[0] (a), b[1] (d) of m samples → the row out (2m samples). */
static void CV_HK_FN(ihaar1)(const CV_HK_T *const *b, int64_t m, const double *tp, CV_HK_T *restrict out) {
  CV_HK_T t[4];
  CV_HK_V vt[4];
  for (int q = 0; q < 4; q++) {
    t[q] = (CV_HK_T)tp[q];
    vt[q] = (CV_HK_V){0} + t[q];
  }
  const CV_HK_T *b0 = b[0], *b1 = b[1];
  int64_t k = 0;
  for (; k + CV_HK_L <= m; k += CV_HK_L) {
    CV_HK_V a = *(const CV_HK_V *)(b0 + k), d = *(const CV_HK_V *)(b1 + k);
    CV_HK_MERGE(out + 2 * k, CV_HK_VIE(vt, a, d), CV_HK_VIO(vt, a, d));
  }
  for (; k < m; k++) {
    out[2 * k] = CV_HK_IE(t, b0[k], b1[k]);
    out[2 * k + 1] = CV_HK_IO(t, b0[k], b1[k]);
  }
}

/* 4 bands (bit 1: axis −2, bit 0: axis −1) of m samples → rows r0 (even
 * index along axis −2) and r1 (odd), 2m samples each. */
static void CV_HK_FN(ihaar2)(const CV_HK_T *const *b, int64_t m, const double *tp, CV_HK_T *restrict r0,
                             CV_HK_T *restrict r1) {
  CV_HK_T a[4], c[4];
  CV_HK_V va[4], vc[4];
  for (int q = 0; q < 4; q++) {
    a[q] = (CV_HK_T)tp[q];
    c[q] = (CV_HK_T)tp[4 + q];
    va[q] = (CV_HK_V){0} + a[q];
    vc[q] = (CV_HK_V){0} + c[q];
  }
  int64_t k = 0;
  for (; k + CV_HK_L <= m; k += CV_HK_L) {
    CV_HK_V x[4];
    for (int v = 0; v < 4; v++) x[v] = *(const CV_HK_V *)(b[v] + k);
    /* axis −2: (x[c], x[2|c]) → even row e[c], odd row o[c] */
    CV_HK_V e0 = CV_HK_VIE(va, x[0], x[2]), e1 = CV_HK_VIE(va, x[1], x[3]);
    CV_HK_V o0 = CV_HK_VIO(va, x[0], x[2]), o1 = CV_HK_VIO(va, x[1], x[3]);
    CV_HK_MERGE(r0 + 2 * k, CV_HK_VIE(vc, e0, e1), CV_HK_VIO(vc, e0, e1));
    CV_HK_MERGE(r1 + 2 * k, CV_HK_VIE(vc, o0, o1), CV_HK_VIO(vc, o0, o1));
  }
  for (; k < m; k++) {
    CV_HK_T e0 = CV_HK_IE(a, b[0][k], b[2][k]), e1 = CV_HK_IE(a, b[1][k], b[3][k]);
    CV_HK_T o0 = CV_HK_IO(a, b[0][k], b[2][k]), o1 = CV_HK_IO(a, b[1][k], b[3][k]);
    r0[2 * k] = CV_HK_IE(c, e0, e1);
    r0[2 * k + 1] = CV_HK_IO(c, e0, e1);
    r1[2 * k] = CV_HK_IE(c, o0, o1);
    r1[2 * k + 1] = CV_HK_IO(c, o0, o1);
  }
}

/* 8 bands (bit 2: axis −3, 1: axis −2, 0: axis −1) → rows r[2a + b]. */
static void CV_HK_FN(ihaar3)(const CV_HK_T *const *b, int64_t m, const double *tp, CV_HK_T *const *r) {
  CV_HK_T a[4], c[4], e[4];
  CV_HK_V va[4], vc[4], ve[4];
  for (int q = 0; q < 4; q++) {
    a[q] = (CV_HK_T)tp[q];
    c[q] = (CV_HK_T)tp[4 + q];
    e[q] = (CV_HK_T)tp[8 + q];
    va[q] = (CV_HK_V){0} + a[q];
    vc[q] = (CV_HK_V){0} + c[q];
    ve[q] = (CV_HK_V){0} + e[q];
  }
  int64_t k = 0;
  for (; k + CV_HK_L <= m; k += CV_HK_L) {
    CV_HK_V x[8], y[2][4], z[2][2][2];
    for (int v = 0; v < 8; v++) x[v] = *(const CV_HK_V *)(b[v] + k);
    for (int v = 0; v < 4; v++) {   /* axis −3 */
      y[0][v] = CV_HK_VIE(va, x[v], x[4 | v]);
      y[1][v] = CV_HK_VIO(va, x[v], x[4 | v]);
    }
    for (int p = 0; p < 2; p++)     /* axis −2 */
      for (int q = 0; q < 2; q++) {
        z[p][0][q] = CV_HK_VIE(vc, y[p][q], y[p][2 | q]);
        z[p][1][q] = CV_HK_VIO(vc, y[p][q], y[p][2 | q]);
      }
    for (int p = 0; p < 2; p++)     /* axis −1 */
      for (int q = 0; q < 2; q++)
        CV_HK_MERGE(r[2 * p + q] + 2 * k, CV_HK_VIE(ve, z[p][q][0], z[p][q][1]),
                        CV_HK_VIO(ve, z[p][q][0], z[p][q][1]));
  }
  for (; k < m; k++) {
    CV_HK_T y[2][4], z[2][2][2];
    for (int v = 0; v < 4; v++) {
      y[0][v] = CV_HK_IE(a, b[v][k], b[4 | v][k]);
      y[1][v] = CV_HK_IO(a, b[v][k], b[4 | v][k]);
    }
    for (int p = 0; p < 2; p++)
      for (int q = 0; q < 2; q++) {
        z[p][0][q] = CV_HK_IE(c, y[p][q], y[p][2 | q]);
        z[p][1][q] = CV_HK_IO(c, y[p][q], y[p][2 | q]);
      }
    for (int p = 0; p < 2; p++)
      for (int q = 0; q < 2; q++) {
        r[2 * p + q][2 * k] = CV_HK_IE(e, z[p][q][0], z[p][q][1]);
        r[2 * p + q][2 * k + 1] = CV_HK_IO(e, z[p][q][0], z[p][q][1]);
      }
  }
}

#undef CV_HK_MERGE
#undef CV_HK_IE
#undef CV_HK_IO
#undef CV_HK_VIE
#undef CV_HK_VIO

#undef CV_HK_LO
#undef CV_HK_HI
#undef CV_HK_VLO
#undef CV_HK_VHI
#undef CV_HK_FN
#undef CV_HK_CAT
#undef CV_HK_CAT_
