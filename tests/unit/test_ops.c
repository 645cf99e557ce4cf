/* test_ops.c — the op registry: names, mode aliases, padding modes, algos,
 * defaults, docs and cv_op_infer's dispatch. */
#include "../../kernels/ops.h"
#include "runner.h"

static void test_op_names(void) {
  static const char *names[] = {"dwt", "idwt", "sepconv", "conv"};
  for (int i = 0; i < CV_OP_COUNT; i++) {
    cv_op_t op;
    CV_ASSERT_OK(cv_op_parse(names[i], &op));
    CV_ASSERT_EQ(op, i);
    CV_ASSERT_STREQ(cv_op_name(op), names[i]);
  }
  cv_op_t op;
  CV_ASSERT_EQ(cv_op_parse("fft", &op), -CV_EUNSUPPORTED_OP);
  CV_ASSERT_EQ(cv_op_parse("DWT", &op), -CV_EUNSUPPORTED_OP);
  CV_ASSERT_EQ(cv_op_parse("", &op), -CV_EUNSUPPORTED_OP);
}

static void test_mode_names(void) {
  static const struct {
    const char *name;
    int mode;
  } rows[] = {
      {"zero", CV_MODE_ZERO}, {"constant", CV_MODE_CONSTANT}, {"symmetric", CV_MODE_SYMMETRIC},
      {"reflect", CV_MODE_REFLECT}, {"periodic", CV_MODE_PERIODIC}, {"smooth", CV_MODE_SMOOTH},
      {"antisymmetric", CV_MODE_ANTISYMMETRIC}, {"antireflect", CV_MODE_ANTIREFLECT},
      {"periodization", CV_MODE_PERIODIZATION}, {"Symmetric", CV_MODE_SYMMETRIC}, {"ZERO", CV_MODE_ZERO},
      {"per", CV_MODE_PERIODIZATION}, {"sp1", CV_MODE_SMOOTH}, {"zpd", CV_MODE_ZERO},
      {"cpd", CV_MODE_CONSTANT}, {"ppd", CV_MODE_PERIODIC}, {"sym", CV_MODE_SYMMETRIC}, {"PER", CV_MODE_PERIODIZATION},
      {"symm", -1}, {"", -1}, {"wrap", -1},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    cv_mode_t m = CV_MODE_COUNT;
    int rc = cv_mode_parse(rows[i].name, &m);
    if (rows[i].mode < 0) {
      if (rc != -CV_EINVALID_ARGUMENT) CV_FAIL_("row %zu (%s): expected rejection", i, rows[i].name);
    } else if (rc != 0 || (int)m != rows[i].mode) {
      CV_FAIL_("row %zu (%s): rc %d mode %d", i, rows[i].name, rc, (int)m);
    }
  }
  for (int m = 0; m < CV_MODE_COUNT; m++) {
    cv_mode_t back;
    CV_ASSERT_OK(cv_mode_parse(cv_mode_name((cv_mode_t)m), &back));
    CV_ASSERT_EQ(back, m);
  }
}

static void test_padmode_and_algo(void) {
  cv_padmode_t pm;
  CV_ASSERT_OK(cv_padmode_parse("circular", &pm));
  CV_ASSERT_EQ(pm, CV_PADMODE_CIRCULAR);
  CV_ASSERT_EQ(cv_padmode_parse("symmetric", &pm), -CV_EINVALID_ARGUMENT);
  cv_conv_algo_t a;
  CV_ASSERT_OK(cv_conv_algo_parse("depthtap", &a));
  CV_ASSERT_EQ(a, CV_CONV_ALGO_DEPTHTAP);
  CV_ASSERT_STREQ(cv_conv_algo_name(CV_CONV_ALGO_CUDNN), "cudnn");
  CV_ASSERT_EQ(cv_conv_algo_parse("winograd", &a), -CV_EINVALID_ARGUMENT);
}

static void test_defaults(void) {
  cv_op_params_t p;
  cv_op_params_default(&p, CV_OP_DWT);
  CV_ASSERT_EQ(p.u.dwt.level, CV_LEVEL_AUTO);
  CV_ASSERT_EQ(p.u.dwt.n_axes, -1);
  CV_ASSERT_EQ(p.u.dwt.n_modes, 1);
  CV_ASSERT_EQ(p.u.dwt.modes[0], CV_MODE_SYMMETRIC);
  CV_ASSERT_EQ(p.u.dwt.n_wavelets, 0);
  cv_op_params_default(&p, CV_OP_CONV);
  CV_ASSERT_EQ(p.u.conv.groups, 1);
  CV_ASSERT_EQ(p.u.conv.padding_mode, CV_PADMODE_ZEROS);
  CV_ASSERT_EQ(p.u.conv.algo, CV_CONV_ALGO_AUTO);
  /* two default-filled structs are equal as batch keys, and a copy is too */
  static cv_op_params_t q, r;
  memset(&q, 0xab, sizeof q); /* leftovers in unused slots must not matter */
  cv_op_params_default(&p, CV_OP_SEPCONV);
  cv_op_params_default(&q, CV_OP_SEPCONV);
  CV_ASSERT(cv_op_params_equal(&p, &q));
  cv_op_params_default(&p, CV_OP_DWT);
  memset(&q, 0xcd, sizeof q);
  cv_op_params_default(&q, CV_OP_DWT);
  CV_ASSERT(cv_op_params_equal(&p, &q));
  CV_ASSERT_EQ(q.u.dwt.level, CV_LEVEL_AUTO);
  p.u.dwt.n_wavelets = 1;
  cv_wavelet_from_info(&p.u.dwt.wavelets[0], cv_wavelet_find("db2"));
  memset(&r, 0xee, sizeof r);
  cv_op_params_copy(&r, &p);
  CV_ASSERT(cv_op_params_equal(&p, &r));
  CV_ASSERT_EQ(r.u.dwt.wavelets[0].len, 4);
  CV_ASSERT_EQ(r.u.dwt.wavelets[0].dec_lo[3] == p.u.dwt.wavelets[0].dec_lo[3], 1);
}

static void test_docs(void) {
  for (int op = 0; op < CV_OP_COUNT; op++) {
    int n = 0, nd = 0;
    const cv_param_doc_t *d = cv_op_params_doc((cv_op_t)op, &n);
    CV_ASSERT(n > 0 && d != NULL);
    for (int i = 0; i < n; i++) CV_ASSERT(d[i].name && d[i].type && d[i].default_json && d[i].help);
    const char *const *dt = cv_op_dtypes_doc((cv_op_t)op, &nd);
    CV_ASSERT(nd > 0);
    for (int i = 0; i < nd; i++) {
      cv_dtype_t t;
      CV_ASSERT_OK(cv_dtype_parse(dt[i], &t));
    }
    CV_ASSERT(strlen(cv_op_inputs_doc((cv_op_t)op)) > 0);
    CV_ASSERT(strlen(cv_op_outputs_doc((cv_op_t)op)) > 0);
  }
}

static void test_infer_unknown_op(void) {
  cv_op_params_t p;
  memset(&p, 0, sizeof p);
  p.op = CV_OP_COUNT;
  cv_infer_t res;
  cv_error_t e;
  CV_ASSERT_EQ(cv_op_infer(&p, NULL, 0, &res, &e), -CV_EUNSUPPORTED_OP);
  CV_ASSERT_STREQ(e.field, "op");
  CV_ASSERT_EQ(res.n_out, 0);
}

static void test_params_hash(void) {
  static cv_op_params_t a, b;
  cv_op_params_default(&a, CV_OP_DWT);
  a.u.dwt.n_wavelets = 1;
  a.u.dwt.wavelets[0].len = 2;
  a.u.dwt.wavelets[0].dec_lo[0] = a.u.dwt.wavelets[0].dec_lo[1] = 0.5;
  b = a;
  b.u.dwt.wavelets[0].dec_lo[7] = 42.0;  /* beyond len: not part of the key */
  b.u.dwt.wavelets[3].rec_hi[0] = 1.0;    /* an unused wavelet slot */
  CV_ASSERT(cv_op_params_equal(&a, &b));
  CV_ASSERT_EQ(cv_op_params_hash(&a, 1) == cv_op_params_hash(&b, 1), 1);
  b.u.dwt.wavelets[0].dec_lo[1] = 0.25;   /* a used tap is */
  CV_ASSERT(!cv_op_params_equal(&a, &b));
  CV_ASSERT(cv_op_params_hash(&a, 1) != cv_op_params_hash(&b, 1));
  b = a;
  b.u.dwt.level = 3;
  CV_ASSERT(!cv_op_params_equal(&a, &b));
  cv_op_params_default(&a, CV_OP_SEPCONV);
  a.u.sepconv.n_filters = 1;
  a.u.sepconv.filters[0].ntaps = 2;
  a.u.sepconv.filters[0].stride = 2;
  b = a;
  b.u.sepconv.filters[0].taps[5] = 9.0;
  CV_ASSERT(cv_op_params_equal(&a, &b));
  b.u.sepconv.filters[0].stride = 1;
  CV_ASSERT(!cv_op_params_equal(&a, &b));
  cv_op_params_default(&b, CV_OP_CONV);
  CV_ASSERT(!cv_op_params_equal(&a, &b));
}

#define CV_TEST_LIST(XX) \
  XX(params_hash) XX(op_names) XX(mode_names) XX(padmode_and_algo) XX(defaults) XX(docs) XX(infer_unknown_op)
CV_TEST_MAIN(CV_TEST_LIST)
