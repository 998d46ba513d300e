/* SPDX-License-Identifier: MIT */
/*
 * AF_UNIX socket paths of any length. sun_path holds 107 bytes; a socket
 * deeper than that (a runtime directory in a deep checkout, say) is reached
 * through its directory instead: an O_PATH descriptor of the directory and
 * the address "/proc/self/fd/<n>/<name>", which the kernel resolves like any
 * path (the magic link leads to the directory). Shared by the library and
 * udd-sim, for connect and bind alike.
 */
#ifndef UDD_VFIO_USER_SOCKPATH_H
#define UDD_VFIO_USER_SOCKPATH_H

#include <sys/socket.h>
#include <sys/un.h>

/*
 * Fill @sa for @path. *@dirfd is -1, or the directory descriptor the
 * address goes through (the caller closes it once bind/connect is done).
 * Returns 0; -EINVAL empty path; -ENAMETOOLONG the file name alone does not
 * fit (or /proc is not mounted); other -errno opening the directory.
 */
int vfu_unix_addr(const char *path, struct sockaddr_un *sa, int *dirfd);

/* connect(2) / bind(2) of @sock to @path of any length: 0 or -errno. */
int vfu_unix_connect(int sock, const char *path);
int vfu_unix_bind(int sock, const char *path);

#endif
