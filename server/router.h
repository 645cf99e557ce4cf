/* router.h — the route table of design.md §2: method + path template →
 * route id, path parameters ({id}, {name}), 404 for unknown paths and
 * 405 + Allow for known paths with another method. The template doubles as
 * the `route` label of convoy_http_requests_total. Pure; any thread. */
#ifndef CV_ROUTER_H
#define CV_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

/* Method bits. HEAD is served wherever GET is. */
#define CV_M_GET 0x01u
#define CV_M_HEAD 0x02u
#define CV_M_POST 0x04u
#define CV_M_PUT 0x08u
#define CV_M_DELETE 0x10u
#define CV_M_PATCH 0x20u
#define CV_M_OPTIONS 0x40u
#define CV_M_OTHER 0x80u

/* XX(enum suffix, path template, methods) */
#define CV_ROUTE_MAP(XX)                                             \
  XX(JOBS, "/v1/jobs", CV_M_GET | CV_M_POST)                         \
  XX(JOB, "/v1/jobs/{id}", CV_M_GET | CV_M_DELETE)                   \
  XX(JOB_RESULT, "/v1/jobs/{id}/result", CV_M_GET)                   \
  XX(JOB_OUTPUT, "/v1/jobs/{id}/result/{name}", CV_M_GET)            \
  XX(TENSORS, "/v1/tensors", CV_M_POST)                              \
  XX(TENSOR, "/v1/tensors/{id}", CV_M_GET | CV_M_DELETE)             \
  XX(OPS, "/v1/ops", CV_M_GET)                                       \
  XX(WAVELETS, "/v1/wavelets", CV_M_GET)                             \
  XX(WAVELET, "/v1/wavelets/{name}", CV_M_GET)                       \
  XX(INFO, "/v1/info", CV_M_GET)                                     \
  XX(HEALTHZ, "/healthz", CV_M_GET)                                  \
  XX(READYZ, "/readyz", CV_M_GET)                                    \
  XX(METRICS, "/metrics", CV_M_GET)                                  \
  XX(OPENAPI, "/openapi.yaml", CV_M_GET)

typedef enum {
#define XX(uc, tmpl, methods) CV_ROUTE_##uc,
  CV_ROUTE_MAP(XX)
#undef XX
  CV_ROUTE_COUNT,
  CV_ROUTE_NONE = CV_ROUTE_COUNT   /* no route matched: label "unmatched" */
} cv_route_t;

#define CV_ROUTE_PARAMS 2   /* most {…} segments in one template */

typedef struct cv_route_match_s {
  cv_route_t route;
  int n_params;
  const char *param[CV_ROUTE_PARAMS];   /* points into the path; not NUL-terminated */
  size_t param_len[CV_ROUTE_PARAMS];
} cv_route_match_t;

/* Matches a path (no query string). A trailing slash is not accepted; a
 * parameter segment is any non-empty segment. Returns false (route
 * CV_ROUTE_NONE) when no template matches. */
bool cv_route_match(const char *path, cv_route_match_t *m);

unsigned cv_method_bit(const char *method);        /* CV_M_OTHER when unknown */
const char *cv_route_template(cv_route_t r);       /* "/v1/jobs/{id}"; "unmatched" for NONE */
unsigned cv_route_methods(cv_route_t r);           /* CV_M_… bits; HEAD added where GET is */
/* True when the route serves the method (HEAD counts as GET). */
bool cv_route_allows(cv_route_t r, unsigned method_bit);
/* Writes the Allow header value ("GET, HEAD, POST") into buf. */
void cv_route_allow_header(cv_route_t r, char *buf, size_t cap);

#endif
