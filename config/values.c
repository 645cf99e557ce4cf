/* values.c — value forms the loader, server and CLI share (listen
 * addresses, device lists, booleans) and the machine probes behind the
 * defaults: usable cores and RAM (physical, or a smaller cgroup v1/v2 memory
 * limit). Pure functions apart from reading /proc and /sys; any thread. */
#include <arpa/inet.h>
#include <ctype.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"

/* ---- value forms ---- */

int cv_config_parse_bool(const char *s, bool *out) {
  static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no", "off", "0"};
  for (int i = 0; s && out && i < 4; i++) {
    if (strcasecmp(s, t[i]) == 0) return *out = true, 0;
    if (strcasecmp(s, f[i]) == 0) return *out = false, 0;
  }
  return -CV_EINVALID_ARGUMENT;
}

int cv_config_split_listen(const char *v, char host[256], int *port) {
  const char *colon;
  size_t hl;
  int fam;
  if (!v || !host || !port) return -CV_EINVALID_ARGUMENT;
  if (v[0] == '[') {
    const char *close = strchr(v, ']');
    if (!close || close[1] != ':') return -CV_EINVALID_ARGUMENT;
    v++, hl = (size_t)(close - v), colon = close + 1, fam = AF_INET6;
  } else {
    colon = strchr(v, ':');
    if (!colon || strchr(colon + 1, ':')) return -CV_EINVALID_ARGUMENT;
    hl = (size_t)(colon - v), fam = strspn(v, "0123456789.") == hl ? AF_INET : 0;
    for (size_t i = 0; i < hl; i++)
      if (!isalnum((unsigned char)v[i]) && v[i] != '.' && v[i] != '-' && v[i] != '_')
        return -CV_EINVALID_ARGUMENT;
  }
  if (hl == 0 || hl > 255) return -CV_EINVALID_ARGUMENT;
  memcpy(host, v, hl);
  host[hl] = '\0';
  unsigned char addr[16];
  if (fam && inet_pton(fam, host, addr) != 1) return -CV_EINVALID_ARGUMENT;
  const char *p = colon + 1;
  size_t pl = strlen(p);
  if (pl == 0 || pl > 5 || strspn(p, "0123456789") != pl || atoi(p) > 65535)
    return -CV_EINVALID_ARGUMENT;
  *port = atoi(p);
  return 0;
}

int cv_config_device_mask(const char *v, uint64_t *mask) {
  if (!v || !mask) return -CV_EINVALID_ARGUMENT;
  if (strcmp(v, "all") == 0) return *mask = UINT64_MAX, 0;
  uint64_t m = 0;
  for (const char *p = v;; p++) {
    size_t d = strspn(p, "0123456789");
    if (d == 0 || d > 2 || (p[d] != ',' && p[d] != '\0')) return -CV_EINVALID_ARGUMENT;
    int id = atoi(p);
    if (id > 63 || (m >> id & 1)) return -CV_EINVALID_ARGUMENT;
    m |= 1ull << id;
    p += d;
    if (!*p) break;
  }
  *mask = m;
  return 0;
}

/* ---- the machine ---- */

int cv_config_cores(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* The smallest limit in `file` of cgroup dir cg and its ancestors under
 * root+base ("max" and missing files are no limit). */
static uint64_t cgroup_walk(const char *root, const char *base, const char *cg, const char *file) {
  char dir[2048], path[4096 + 64];
  uint64_t lim = UINT64_MAX;
  snprintf(dir, sizeof dir, "%s", strstr(cg, "..") ? "/" : cg);   /* outside our namespace: root only */
  for (;;) {
    snprintf(path, sizeof path, "%s%s%s/%s", root, base, strcmp(dir, "/") == 0 ? "" : dir, file);
    FILE *f = fopen(path, "r");
    if (f) {
      char line[64];
      unsigned long long v;
      if (fgets(line, sizeof line, f) && sscanf(line, "%llu", &v) == 1 && v < lim) lim = v;
      fclose(f);
    }
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
      if (strcmp(dir, "/") == 0 || !slash) break;
      dir[1] = '\0';   /* "/a" → "/" */
      continue;
    }
    *slash = '\0';
  }
  return lim;
}

uint64_t cv_config_memory_bytes(const char *root) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  uint64_t ram = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 4 * CV_GIB;
  char path[4096], line[4096];
  snprintf(path, sizeof path, "%s/proc/self/cgroup", root ? root : "");
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f)) {   /* "id:controllers:path" */
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c1 = *c2 = '\0';
    const char *ctl = c1 + 1, *cg = c2 + 1;
    uint64_t lim = UINT64_MAX, l2;
    if (strcmp(line, "0") == 0 && !*ctl) {   /* v2, plain or hybrid mount */
      lim = cgroup_walk(root, "/sys/fs/cgroup", cg, "memory.max");
      l2 = cgroup_walk(root, "/sys/fs/cgroup/unified", cg, "memory.max");
      lim = l2 < lim ? l2 : lim;
    } else {
      char *save = NULL;
      for (char *t = strtok_r((char *)ctl, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (strcmp(t, "memory") == 0) lim = cgroup_walk(root, "/sys/fs/cgroup/memory", cg, "memory.limit_in_bytes");
    }
    if (lim < ram) ram = lim;
  }
  if (f) fclose(f);
  return ram;
}
