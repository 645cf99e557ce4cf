/* h_meta.c — the routes about the service itself: GET /v1/ops, /v1/wavelets,
 * /v1/wavelets/{name}, /v1/info, /healthz, /readyz, /metrics and
 * /openapi.yaml (proto/openapi.yaml, embedded at build time). Constant
 * bodies are built once at start-up and sent without copying. MHD threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../kernels/wavelet.h"
#include "../proto/wavelet_json.h"
#include "server.h"

int cv_h_ops(cv_req_t *r) {
  return cv_reply_static(r, MHD_HTTP_OK, "application/json", r->srv->ops_json, r->srv->ops_len);
}

int cv_h_wavelets(cv_req_t *r) {
  return cv_reply_static(r, MHD_HTTP_OK, "application/json", r->srv->wavelets_json, r->srv->wavelets_len);
}

int cv_h_wavelet(cv_req_t *r) {
  const cv_wavelet_info_t *w = cv_wavelet_find(r->p_name);
  if (!w) return cv_error_set(&r->err, CV_ENOT_FOUND, NULL, "no wavelet named '%s'", r->p_name);
  char *body = cv_wavelet_json(w);
  if (!body) return cv_error_set(&r->err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  return cv_reply_take(r, MHD_HTTP_OK, "application/json", body, strlen(body));
}

int cv_h_info(cv_req_t *r) {
  cv_server_t *s = r->srv;
  cv_engine_t *e = &s->engine;
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 0);
  cv_strbuf_printf(&sb, "{\"version\":\"%s\",\"backends\":[", cv_config_version());
  int nb = 0;
  for (int i = 0; i < e->n_devs; i++) {
    bool seen = false;
    for (int k = 0; k < i; k++) seen |= !strcmp(e->devs[k].kind, e->devs[i].kind);
    if (seen) continue;
    cv_strbuf_printf(&sb, "%s\"%s\"", nb++ ? "," : "", e->devs[i].kind);
  }
  cv_strbuf_puts(&sb, "],\"devices\":[");
  /* the CPU first, then GPUs in id order */
  int n = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < e->n_devs; i++) {
      const cv_device_t *d = &e->devs[i];
      if ((pass == 0) != !strcmp(d->kind, "cpu")) continue;
      cv_strbuf_printf(&sb, "%s{\"id\":", n++ ? "," : "");
      cv_strbuf_json_string(&sb, d->id);
      cv_strbuf_puts(&sb, ",\"name\":");
      cv_strbuf_json_string(&sb, d->name);
      cv_strbuf_puts(&sb, ",\"kind\":");
      cv_strbuf_json_string(&sb, d->kind);
      cv_strbuf_printf(&sb, ",\"memory_bytes\":%llu}", (unsigned long long)d->memory_bytes);
    }
  const cv_config_t *c = &s->cfg;
  cv_strbuf_printf(&sb,
                   "],\"limits\":{\"max_body_bytes\":%llu,\"max_tensor_bytes\":%llu,\"max_queue_jobs\":%d,"
                   "\"max_inflight_bytes\":%llu,\"max_json_bytes\":%llu,\"max_batch\":%d,"
                   "\"max_batch_delay_us\":%lld,\"wait_s\":%d,\"result_ttl_s\":%d}}",
                   (unsigned long long)c->max_body_bytes, (unsigned long long)c->max_tensor_bytes, c->max_queue_jobs,
                   (unsigned long long)c->max_inflight_bytes, (unsigned long long)c->max_json_bytes,
                   atomic_load(&s->max_batch), (long long)atomic_load(&s->max_batch_delay_us),
                   atomic_load(&s->wait_s), atomic_load(&s->ttl_s));
  return cv_reply_strbuf(r, MHD_HTTP_OK, "application/json", &sb);
}

static const char ok_body[] = "{\"status\":\"ok\"}";

int cv_h_healthz(cv_req_t *r) {
  return cv_reply_static(r, MHD_HTTP_OK, "application/json", ok_body, sizeof ok_body - 1);
}

int cv_h_readyz(cv_req_t *r) {
  cv_server_t *s = r->srv;
  if (atomic_load(&s->draining))
    return cv_error_set(&r->err, CV_ESHUTTING_DOWN, NULL, "draining: not taking new jobs");
  if (!atomic_load(&s->ready)) return cv_error_set(&r->err, CV_ESHUTTING_DOWN, NULL, "starting");
  static const char ready_body[] = "{\"status\":\"ready\"}";
  return cv_reply_static(r, MHD_HTTP_OK, "application/json", ready_body, sizeof ready_body - 1);
}

/* The process's CPU time over wall time since the last render, per core. */
static double cpu_utilization(cv_server_t *s) {
  struct rusage ru;
  struct timespec ts;
  getrusage(RUSAGE_SELF, &ru);
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
  double wall = (double)ts.tv_sec + ts.tv_nsec / 1e9;
  int cores = cv_config_cores();
  pthread_mutex_lock(&s->util_mu);
  if (s->util_wall_s > 0 && wall - s->util_wall_s > 1e-3) {
    double u = (cpu - s->util_cpu_s) / ((wall - s->util_wall_s) * (cores > 0 ? cores : 1));
    s->util_ratio = u < 0 ? 0 : u > 1 ? 1 : u;
  }
  s->util_cpu_s = cpu;
  s->util_wall_s = wall;
  double u = s->util_ratio;
  pthread_mutex_unlock(&s->util_mu);
  return u;
}

int cv_h_metrics(cv_req_t *r) {
  cv_server_t *s = r->srv;
  cv_metrics_gauges_t g = {0};
  int queued = 0, running = 0;
  size_t inflight = 0;
  cv_engine_gauges(&s->engine, &queued, &running, &inflight);
  g.jobs_queued = queued;
  g.jobs_running = running;
  g.inflight_bytes = inflight;
  g.result_store_bytes = cv_store_bytes(&s->store);
  cv_metrics_device_t devs[CV_MAX_DEVICES];
  double util = cpu_utilization(s);
  for (int i = 0; i < s->engine.n_devs; i++) {
    /* numbers from the engine (the backend's stats: GPU memory and
     * utilisation, the CPU's process RSS); the CPU's utilisation is the
     * process's CPU time measured here */
    cv_device_stats_t st = {0, NAN};
    bool known = cv_engine_device_stats(&s->engine, i, &st) == 0;
    bool cpu = !strcmp(s->engine.devs[i].kind, "cpu");
    devs[i].id = s->engine.devs[i].id;
    devs[i].memory_used_bytes = known ? st.memory_used_bytes : 0;
    devs[i].memory_unknown = !known;
    devs[i].utilization = cpu ? util : known ? st.utilization : NAN;
  }
  g.devices = devs;
  g.n_devices = s->engine.n_devs;
  char *out = NULL;
  size_t len = 0;
  int rc = cv_metrics_render(&s->metrics, &g, &out, &len);
  if (rc) return cv_error_set(&r->err, (cv_err_t)-rc, NULL, "cannot render metrics");
  return cv_reply_take(r, MHD_HTTP_OK, CV_METRICS_CONTENT_TYPE, out, len);
}

int cv_h_openapi(cv_req_t *r) {
  return cv_reply_static(r, MHD_HTTP_OK, "application/yaml", cv_openapi_yaml, cv_openapi_yaml_len);
}
