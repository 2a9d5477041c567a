// What keeping the replaced session file as a spare costs, and what it would
// cost with one exchanging rename: the measurement behind "What a rewrite's
// calls cost" in docs/design/storage.md. Node has no call for
// renameat2(RENAME_EXCHANGE), so this is C, without Node's own cost a call.
//
// Build and run (Linux):
//   gcc -O2 -o /tmp/rename-exchange docs/design/rename-exchange.c
//   /tmp/rename-exchange <new directory on the data's file system> [files] [rewrites]
//
// Makes `files` session-sized files (100,000) and a pool of 4,000 spares, syncs,
// then rewrites `rewrites` files (30,000) chosen at random, four rounds
// alternating between:
//   - the checkpoint's way (src/store/file/spare-files.ts): the oldest spare
//     written, the file it replaces stat'ed and linked into spare/, then the
//     spare renamed over it;
//   - the oldest spare written, then exchanged with the file it replaces in
//     one renameat2(RENAME_EXCHANGE): the spare's name then holds the
//     replaced file, the next spare.
// Prints the process's CPU time (user + system) a rewrite. The directory is
// left behind.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

enum { POOL = 4000, NAME = 64 };

static double cpu_us(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec * 1e6 + usage.ru_utime.tv_usec + usage.ru_stime.tv_sec * 1e6 +
         usage.ru_stime.tv_usec;
}

static int write_new(const char *path, const char *content, size_t length) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, content, length) != (ssize_t)length || close(fd) != 0) {
    perror(path);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <new directory> [files] [rewrites]\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  int files = argc > 2 ? atoi(argv[2]) : 100000;
  int rewrites = argc > 3 ? atoi(argv[3]) : 30000;
  char content[300];
  memset(content, 'x', sizeof content);
  content[sizeof content - 1] = '\n';
  char path[512], spare[512], kept[512];

  if (mkdir(dir, 0755) != 0) {
    perror(dir);
    return 1;
  }
  snprintf(path, sizeof path, "%s/sessions", dir);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/spare", dir);
  mkdir(path, 0755);
  for (int i = 0; i < files; i++) {
    snprintf(path, sizeof path, "%s/sessions/%08d-0000-4000-8000-000000000000.json", dir, i);
    if (write_new(path, content, sizeof content) != 0) return 1;
  }
  // The spares' names, oldest first: a queue that never wraps.
  char (*names)[NAME] = malloc((size_t)(POOL + 4L * rewrites) * NAME);
  long head = 0, tail = 0;
  for (int i = 0; i < POOL; i++) {
    snprintf(names[tail++], NAME, "s%d", i);
    snprintf(path, sizeof path, "%s/spare/%s", dir, names[tail - 1]);
    if (write_new(path, content, sizeof content) != 0) return 1;
  }
  sync();

  for (int round = 0; round < 4; round++) {
    int exchange = round % 2;
    double before = cpu_us();
    for (int i = 0; i < rewrites; i++) {
      snprintf(path, sizeof path, "%s/sessions/%08d-0000-4000-8000-000000000000.json", dir,
               rand() % files);
      snprintf(spare, sizeof spare, "%s/spare/%s", dir, names[head]);
      int fd = open(spare, O_RDWR);
      if (fd < 0 || pwrite(fd, content, sizeof content, 0) != (ssize_t)sizeof content) {
        perror(spare);
        return 1;
      }
      close(fd);
      if (exchange) {
        if (renameat2(AT_FDCWD, spare, AT_FDCWD, path, RENAME_EXCHANGE) != 0) {
          perror("renameat2");
          return 1;
        }
        snprintf(names[tail++], NAME, "%s", names[head]);
      } else {
        struct stat stats;
        snprintf(names[tail], NAME, "s%ld", POOL + tail);
        snprintf(kept, sizeof kept, "%s/spare/%s", dir, names[tail++]);
        if (stat(path, &stats) != 0 || link(path, kept) != 0 || rename(spare, path) != 0) {
          perror(path);
          return 1;
        }
      }
      head++;
    }
    printf("%s: %.1f µs CPU a rewrite\n",
           exchange ? "spare written, exchanged (renameat2)" : "spare written, stat, link, rename",
           (cpu_us() - before) / rewrites);
  }
  return 0;
}
