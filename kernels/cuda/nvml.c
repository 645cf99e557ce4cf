/* nvml.c — the CUDA backend's device gauges for /metrics: NVML loaded at
 * run time (dlopen "libnvidia-ml.so.1", so neither build nor start needs
 * it) for memory in use and GPU utilisation; without NVML, memory from
 * cudaMemGetInfo and utilisation unknown (NaN: the series is omitted).
 * The few NVML entry points are declared here from NVML's stable C ABI.
 * Opened at discovery, read from any thread (NVML is thread-safe). */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cuda.h"

typedef int nvml_ret_t;   /* nvmlReturn_t; NVML_SUCCESS = 0 */
typedef struct {
  unsigned long long total, free, used;
} nvml_memory_t;          /* nvmlMemory_t */
typedef struct {
  unsigned int gpu, memory;
} nvml_util_t;            /* nvmlUtilization_t, percent */

struct cv_cuda_nvml_s {
  void *lib;
  void *dev;   /* nvmlDevice_t */
  nvml_ret_t (*shutdown)(void);
  nvml_ret_t (*mem)(void *, nvml_memory_t *);
  nvml_ret_t (*util)(void *, nvml_util_t *);
};

cv_cuda_nvml_t *cv__cuda_nvml_open(int ordinal) {
  char bus[32];
  if (cudaDeviceGetPCIBusId(bus, sizeof bus, ordinal) != cudaSuccess) {
    (void)cudaGetLastError();
    return NULL;
  }
  void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return NULL;
  cv_cuda_nvml_t *n = calloc(1, sizeof *n);
  nvml_ret_t (*init)(void) = (nvml_ret_t (*)(void))dlsym(lib, "nvmlInit_v2");
  nvml_ret_t (*by_bus)(const char *, void **) = (nvml_ret_t (*)(const char *, void **))dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2");
  if (n) {
    n->lib = lib;
    n->shutdown = (nvml_ret_t (*)(void))dlsym(lib, "nvmlShutdown");
    n->mem = (nvml_ret_t (*)(void *, nvml_memory_t *))dlsym(lib, "nvmlDeviceGetMemoryInfo");
    n->util = (nvml_ret_t (*)(void *, nvml_util_t *))dlsym(lib, "nvmlDeviceGetUtilizationRates");
  }
  if (!n || !init || !by_bus || !n->shutdown || !n->mem || !n->util || init() != 0) {
    free(n);
    dlclose(lib);
    return NULL;
  }
  if (by_bus(bus, &n->dev) != 0) {
    n->shutdown();
    free(n);
    dlclose(lib);
    return NULL;
  }
  return n;
}

void cv__cuda_nvml_close(cv_cuda_nvml_t *n) {
  if (!n) return;
  n->shutdown();
  dlclose(n->lib);
  free(n);
}

int cv__cuda_stats(cv_device_t *dev, cv_device_stats_t *st) {
  cv_cuda_ctx_t *ctx = dev->ctx;
  if (!ctx) return -CV_EINVALID_ARGUMENT;
  st->utilization = NAN;
  nvml_memory_t m;
  nvml_util_t u;
  if (ctx->nvml && ctx->nvml->mem(ctx->nvml->dev, &m) == 0) {
    st->memory_used_bytes = m.used;
    if (ctx->nvml->util(ctx->nvml->dev, &u) == 0) st->utilization = u.gpu > 100 ? 1.0 : u.gpu / 100.0;
    return 0;
  }
  size_t free_b = 0, total_b = 0;
  /* the calling thread's current device: any thread may ask */
  if (cudaSetDevice(ctx->ordinal) != cudaSuccess || cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
    (void)cudaGetLastError();
    return -CV_EINTERNAL;
  }
  st->memory_used_bytes = total_b - free_b;
  return 0;
}
