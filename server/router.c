/* router.c — matches request paths against the CV_ROUTE_MAP templates by
 * segments, and answers which methods a route serves (for 405 + Allow).
 * Const tables only; any thread. */
#include "router.h"

#include <stdio.h>
#include <string.h>

typedef struct route_def_s {
  const char *tmpl;
  unsigned methods;
} route_def_t;

static const route_def_t routes[] = {
#define XX(uc, tmpl, methods) {tmpl, methods},
    CV_ROUTE_MAP(XX)
#undef XX
};
_Static_assert(sizeof routes / sizeof routes[0] == CV_ROUTE_COUNT, "route table size");

/* Matches one template against path segment by segment. */
static bool match_one(const char *tmpl, const char *path, cv_route_match_t *m) {
  const char *t = tmpl, *p = path;
  m->n_params = 0;
  while (*t && *p) {
    if (*t != '/' || *p != '/') return false;
    t++;
    p++;
    const char *te = strchr(t, '/'), *pe = strchr(p, '/');
    size_t tl = te ? (size_t)(te - t) : strlen(t), pl = pe ? (size_t)(pe - p) : strlen(p);
    if (tl > 0 && t[0] == '{') {
      if (pl == 0 || m->n_params == CV_ROUTE_PARAMS) return false;
      m->param[m->n_params] = p;
      m->param_len[m->n_params++] = pl;
    } else if (tl != pl || memcmp(t, p, tl) != 0) {
      return false;
    }
    t += tl;
    p += pl;
  }
  return *t == 0 && *p == 0;
}

bool cv_route_match(const char *path, cv_route_match_t *m) {
  memset(m, 0, sizeof *m);
  for (int i = 0; i < CV_ROUTE_COUNT; i++)
    if (match_one(routes[i].tmpl, path, m)) {
      m->route = (cv_route_t)i;
      return true;
    }
  memset(m, 0, sizeof *m);
  m->route = CV_ROUTE_NONE;
  return false;
}

unsigned cv_method_bit(const char *method) {
  static const struct {
    const char *name;
    unsigned bit;
  } tab[] = {{"GET", CV_M_GET},       {"HEAD", CV_M_HEAD},   {"POST", CV_M_POST},
             {"PUT", CV_M_PUT},       {"DELETE", CV_M_DELETE}, {"PATCH", CV_M_PATCH},
             {"OPTIONS", CV_M_OPTIONS}};
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
    if (!strcmp(method, tab[i].name)) return tab[i].bit;
  return CV_M_OTHER;
}

const char *cv_route_template(cv_route_t r) {
  if ((int)r < 0 || r >= CV_ROUTE_COUNT) return "unmatched";
  return routes[r].tmpl;
}

unsigned cv_route_methods(cv_route_t r) {
  if ((int)r < 0 || r >= CV_ROUTE_COUNT) return 0;
  unsigned m = routes[r].methods;
  if (m & CV_M_GET) m |= CV_M_HEAD;
  return m;
}

bool cv_route_allows(cv_route_t r, unsigned method_bit) {
  return (cv_route_methods(r) & method_bit) != 0;
}

void cv_route_allow_header(cv_route_t r, char *buf, size_t cap) {
  static const struct {
    unsigned bit;
    const char *name;
  } order[] = {{CV_M_GET, "GET"}, {CV_M_HEAD, "HEAD"}, {CV_M_POST, "POST"}, {CV_M_PUT, "PUT"},
               {CV_M_DELETE, "DELETE"}, {CV_M_PATCH, "PATCH"}, {CV_M_OPTIONS, "OPTIONS"}};
  unsigned m = cv_route_methods(r);
  size_t n = 0;
  if (cap) buf[0] = 0;
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    if (!(m & order[i].bit)) continue;
    int k = snprintf(buf + n, cap > n ? cap - n : 0, "%s%s", n ? ", " : "", order[i].name);
    if (k < 0 || (size_t)k >= (cap > n ? cap - n : 0)) return;
    n += (size_t)k;
  }
}
