/* SPDX-License-Identifier: MIT */
#include "sockpath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <unistd.h>

int vfu_unix_addr(const char *path, struct sockaddr_un *sa, int *dirfd)
{
	size_t len = strlen(path);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	*dirfd = -1;
	if (len == 0)
		return -EINVAL;
	if (len < sizeof(sa->sun_path)) {
		memcpy(sa->sun_path, path, len + 1);
		return 0;
	}
	const char *slash = strrchr(path, '/');
	if (!slash || !slash[1])
		return -ENAMETOOLONG;
	char dir[4096];
	size_t dl = slash == path ? 1 : (size_t)(slash - path);
	if (dl >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, dl);
	dir[dl] = '\0';
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", fd, slash + 1);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path) || access("/proc/self/fd", F_OK) != 0) {
		close(fd);
		return -ENAMETOOLONG;
	}
	*dirfd = fd;
	return 0;
}

static int unix_op(int sock, const char *path, bool bind_it)
{
	struct sockaddr_un sa;
	int dirfd;
	int rc = vfu_unix_addr(path, &sa, &dirfd);
	if (rc)
		return rc;
	int r;
	do
		r = bind_it ? bind(sock, (struct sockaddr *)&sa, sizeof(sa))
			    : connect(sock, (struct sockaddr *)&sa, sizeof(sa));
	while (r < 0 && errno == EINTR && !bind_it);
	rc = r < 0 ? -errno : 0;
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

int vfu_unix_connect(int sock, const char *path)
{
	return unix_op(sock, path, false);
}

int vfu_unix_bind(int sock, const char *path)
{
	return unix_op(sock, path, true);
}
