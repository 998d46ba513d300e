/* SPDX-License-Identifier: MIT */
/*
 * The udd command's parts (tools/udd/): main.c (usage, dispatch), util.c
 * (numbers, names, the context, printing register sets), list.c (list, info),
 * rw.c (read, write), bind.c (bind, unbind), cluster.c (connect, disconnect,
 * add, remove). What they share is declared here.
 */
#ifndef UDD_TOOL_H
#define UDD_TOOL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* readlink, lstat, pread, O_CLOEXEC also outside the CMake build */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <limits.h>
#include <pci/pci.h>

#include <udd/udd.h>

#include "net.h" /* the cluster file and the gateway preamble (src/backend/vfio-user) */

#define EXIT_BAD 1
#define EXIT_USAGE 2

extern const char *prog;
void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void usage(FILE *f);

int parse_u64(const char *s, uint64_t *out);
int parse_fdid(const char *s, udd_fdid_t *out);
int parse_u16_opt(const char *what, const char *s, uint16_t *out);
int parse_class(const char *s, udd_filter_t *f);
void names_init(void);
void names_fini(void);
const char *vendor_name(char *buf, size_t len, uint16_t v);
const char *device_name(char *buf, size_t len, uint16_t v, uint16_t d);
const char *class_name(char *buf, size_t len, uint32_t class_code);
const char *subsys_name(char *buf, size_t len, const udd_dev_info_t *in);
void log_cb(void *user, int level, const char *msg);
udd_ctx_t *open_ctx(void);
const char *rs_kind(uint32_t kind);
void rs_name(char *buf, size_t len, const udd_regset_info_t *r);
void print_regsets(const udd_dev_info_t *in, const char *indent);
void print_irqs(const udd_dev_info_t *in, const char *indent);
int cmd_list(int argc, char **argv);
int borrow(udd_ctx_t *ctx, udd_fdid_t fdid, uint32_t flags, udd_dev_t **dev);
int borrow_to_look(udd_ctx_t *ctx, udd_fdid_t fdid, udd_dev_t **dev);
int cmd_info(int argc, char **argv);
int cmd_rw(int argc, char **argv, int wr);
int cmd_bind(int argc, char **argv, int bind);
int cmd_connect(int argc, char **argv, int connect);
int cmd_lend(int argc, char **argv, int add);

#endif
