/*
 * The process's own figures for /metrics, read from /proc/self the way
 * Prometheus client libraries do: resident memory from statm, CPU time
 * (user and system) from stat, open descriptors by counting fd/. A figure
 * that cannot be read stays 0 rather than failing the page.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

static uint64_t resident_bytes(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* utime and stime are fields 14 and 15 of /proc/self/stat, counted after
 * the command name, which is in parentheses and may hold spaces. */
static double cpu_seconds(void)
{
    char line[1024];
    unsigned long long utime = 0, stime = 0;
    FILE *f = fopen("/proc/self/stat", "re");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')');
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &utime, &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static uint64_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    uint64_t n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n > 0 ? n - 1 : 0; /* not the descriptor reading the folder */
}

void gw__proc_read(struct gw_proc *p)
{
    p->rss_bytes = resident_bytes();
    p->cpu_seconds = cpu_seconds();
    p->open_fds = open_fds();
}
