/* main.c — convoyd: loads the configuration, starts the engine, result
 * store, metrics and the HTTP daemon, runs the libuv loop on the main thread
 * until a SIGTERM/SIGINT drain completes, then shuts everything down in
 * order and exits 0 (2 on a bad configuration, 1 when start-up fails). */
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/paths.h"
#include "../engine/process.h"
#include "../proto/json_arena.h"
#include "../proto/ops_json.h"
#include "../proto/wavelet_json.h"
#include "server.h"

extern char **environ;

static const char *const route_labels[] = {
#define XX(uc, tmpl, methods) tmpl,
    CV_ROUTE_MAP(XX)
#undef XX
};

static int start(cv_server_t *s, cv_error_t *err) {
  const cv_config_t *c = &s->cfg;
  int rc;
  if ((rc = cv_data_dir_prepare(c->data_dir, err))) return rc;
  if (cv_auth_init(&s->auth)) return cv_error_set(err, CV_EINTERNAL, NULL, "cannot init auth");
  if ((rc = cv_auth_load(&s->auth, c->api_keys_file, err))) return rc;
  if (cv_metrics_init(&s->metrics, route_labels, CV_ROUTE_COUNT, cv_config_version()))
    return cv_error_set(err, CV_EINTERNAL, NULL, "cannot init metrics");
  cv_store_config_t sc;
  cv_store_config_default(&sc);
  sc.max_bytes = c->result_store_bytes;
  sc.ttl_ns = (int64_t)c->result_ttl_s * 1000000000;
  if (cv_store_init(&s->store, &sc)) return cv_error_set(err, CV_EINTERNAL, NULL, "cannot init the result store");
  cv_engine_config_t ec;
  cv_engine_config_default(&ec);
  ec.threads = c->threads;
  ec.want_cpu = c->backend != CV_BACKEND_KIND_CUDA;
  ec.want_cuda = c->backend != CV_BACKEND_KIND_CPU;
  ec.max_queue_jobs = c->max_queue_jobs;
  ec.max_inflight_bytes = c->max_inflight_bytes;
  ec.max_batch = c->max_batch;
  ec.max_batch_delay_us = c->max_batch_delay_us;
  ec.inline_max_bytes = c->inline_max_bytes;
  ec.data_dir = c->data_dir;   /* GPU conv plan cache: data_dir/plans */
  ec.device_memory_budget = c->device_memory_budget;
  if ((rc = cv_engine_init(&s->engine, &ec, err))) return rc;
  if (!(s->ops_json = cv_ops_json_text(&s->ops_len)) || !(s->wavelets_json = cv_wavelets_list_json()))
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  s->wavelets_len = strlen(s->wavelets_json);
  if ((rc = cv_loop_init(s, err))) return rc;
  return cv_http_start(s, err);
}

static void stop(cv_server_t *s) {
  cv_http_stop(s);
  cv_engine_close(&s->engine);   /* cancels what is queued, joins the workers */
  cv_loop_discard_done(s);
  cv_store_close(&s->store);
  cv_metrics_close(&s->metrics);
  cv_auth_close(&s->auth);
  free(s->ops_json);
  free(s->wavelets_json);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->util_mu);
}

int main(int argc, char **argv) {
  cv_process_setup(argv);
  cv_json_hooks_install();   /* before any thread: cJSON's hooks are process-wide */
  prctl(PR_SET_NAME, "convoyd"); /* after the re-exec the kernel would call it "exe" */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);   /* a file size limit fails the disk write (507), not the daemon */
  cv_server_t *s = calloc(1, sizeof *s);
  if (!s) return 1;
  cv_error_t err = {0};
  int rc = cv_config_load(&s->cfg, argc, argv, environ, stdout, &err);
  if (rc == 1) {
    free(s);
    return 0;
  }
  if (rc) {
    fprintf(stderr, "convoyd: %s\n", err.message);
    free(s);
    return 2;
  }
  s->argc = argc;
  s->argv = argv;
  s->envp = environ;
  s->live = s->cfg;
  atomic_init(&s->wait_s, s->cfg.wait_s);
  atomic_init(&s->ttl_s, s->cfg.result_ttl_s);
  atomic_init(&s->max_batch, s->cfg.max_batch);
  atomic_init(&s->max_batch_delay_us, (int64_t)s->cfg.max_batch_delay_us);
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->util_mu, NULL);
  if (cv_log_init(&s->log, STDERR_FILENO, s->cfg.log_level, s->cfg.log_format)) {
    fprintf(stderr, "convoyd: cannot start the logger\n");
    free(s);
    return 1;
  }
  int exit_code = 0;
  if ((rc = start(s, &err))) {
    cv_log(&s->log, CV_LOG_ERROR, NULL, "start-up failed: %s%s%s", err.field[0] ? err.field : "",
           err.field[0] ? ": " : "", err.message);
    exit_code = err.code == CV_EINVALID_ARGUMENT ? 2 : 1;
    cv_loop_abort(s);
  } else {
    char host[256];
    int port;
    cv_config_split_listen(s->cfg.listen, host, &port);
    bool v6 = strchr(host, ':') != NULL;
    /* the banner (with the bound port) is written at every log level */
    cv_log_set_level(&s->log, CV_LOG_INFO > s->cfg.log_level ? CV_LOG_INFO : s->cfg.log_level);
    cv_log(&s->log, CV_LOG_INFO, NULL, "convoyd %s listening on http://%s%s%s:%d (%d device%s, data_dir %s)",
           cv_config_version(), v6 ? "[" : "", host, v6 ? "]" : "", s->port, s->engine.n_devs,
           s->engine.n_devs == 1 ? "" : "s", s->cfg.data_dir);
    cv_log_set_level(&s->log, s->cfg.log_level);
    atomic_store(&s->ready, true);
    cv_loop_run(s);
  }
  stop(s);
  cv_log(&s->log, CV_LOG_INFO, NULL, "bye");
  cv_log_destroy(&s->log);
  free(s);
  return exit_code;
}
