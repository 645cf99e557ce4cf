/* registry.c — opens the devices convoy will use: CUDA ones first (when built
 * in and present), the CPU always last. Zero GPUs is normal. Called once at
 * start-up before worker threads exist. */
#include <string.h>

#include "backend.h"

int cv_devices_open(cv_device_t *devs, int max, const cv_backend_config_t *cfg, cv_error_t *err) {
  int n = 0;
  memset(devs, 0, (size_t)max * sizeof *devs);
#ifdef CONVOY_HAVE_CUDA
  if (cfg->want_cuda && max > 1) {
    int k = cv_cuda_devices_open(devs, max - 1, cfg->data_dir, cfg->device_memory_budget);
    if (k > 0) n += k;
  }
#endif
  if (cfg->want_cpu || n == 0) {
    int rc = cv_cpu_device_open(&devs[n], cfg->threads);
    if (rc) {
      cv_devices_close(devs, n);
      return cv_error_set(err, (cv_err_t)-rc, NULL, "cannot open the CPU device");
    }
    n++;
  }
  return n;
}

void cv_devices_close(cv_device_t *devs, int n) {
  for (int i = 0; i < n; i++) {
    if (devs[i].backend && devs[i].backend->close) devs[i].backend->close(&devs[i]);
    memset(&devs[i], 0, sizeof devs[i]);
  }
}
