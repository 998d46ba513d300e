/* SPDX-License-Identifier: MIT */
/*
 * Contexts and the embedded pool's lifetime: the first context starts
 * udd-sim, others join it, it goes away once the last one closes; the log
 * callback gets the library's diagnostics; bad options are refused.
 */
#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

static int nlogs;
static char lastlog[512];
static void logcb(void *user, int level, const char *msg)
{
	(void)level;
	(*(int *)user)++;
	snprintf(lastlog, sizeof(lastlog), "%s", msg);
}

static int control_exists(void)
{
	char p[400];
	struct stat st;
	snprintf(p, sizeof(p), "%s/sim/control.sock", simenv_tmpdir());
	return stat(p, &st) == 0;
}

int main(void)
{
	udd_ctx_t *c1, *c2;
	udd_ctx_opts_t o = { 0 };
	o.runtime_dir = simenv_tmpdir();
	o.flags = 0x80;
	CHECK_EQ(udd_ctx_open(&c1, &o), -EINVAL);
	CHECK_EQ(udd_ctx_open(NULL, NULL), -EINVAL);
	o.flags = 0;
	o.sim_path = "/nonexistent/udd-sim";
	CHECK_EQ(udd_ctx_open(&c1, &o), -ENOENT);
	o.sim_path = NULL;
	/* a runtime directory that is not private is refused */
	char shared[400];
	snprintf(shared, sizeof(shared), "%s/shared", simenv_tmpdir());
	REQUIRE(mkdir(shared, 0777) == 0 && chmod(shared, 0777) == 0);
	udd_ctx_opts_t o2 = o;
	o2.runtime_dir = shared;
	CHECK_EQ(udd_ctx_open(&c1, &o2), -EPERM);
	char link[400];
	snprintf(link, sizeof(link), "%s/link", simenv_tmpdir());
	REQUIRE(symlink(shared, link) == 0);
	o2.runtime_dir = link;
	CHECK_EQ(udd_ctx_open(&c1, &o2), -EPERM);

	CHECK(!control_exists());
	REQUIRE_OK(udd_ctx_open(&c1, &o));
	CHECK(control_exists());
	REQUIRE_OK(udd_ctx_open(&c2, &o)); /* joins the same udd-sim */
	CHECK_EQ(udd_pool_list(c2, NULL, NULL, 0), 4);
	udd_ctx_close(c1);
	usleep(1500 * 1000); /* longer than udd-sim's idle exit: c2 still holds a lease */
	CHECK(control_exists());
	CHECK_EQ(udd_pool_list(c2, NULL, NULL, 0), 4);

	/* the log callback hears about a refused borrow */
	REQUIRE_OK(udd_ctx_set_log(c2, logcb, &nlogs, UDD_LOG_DEBUG));
	udd_fdid_t id = simenv_find(c2, EDU_VENDOR_ID, EDU_DEVICE_ID);
	udd_dev_t *a, *b;
	REQUIRE_OK(udd_dev_borrow(c2, id, UDD_BORROW_EXCLUSIVE, &a));
	int before = nlogs;
	CHECK_EQ(udd_dev_borrow(c2, id, 0, &b), -EBUSY);
	CHECK(nlogs > before);
	CHECK(strstr(lastlog, "busy") != NULL);
	CHECK_EQ(udd_ctx_set_log(NULL, NULL, NULL, 0), -EINVAL);
	REQUIRE_OK(udd_ctx_set_log(c2, NULL, NULL, 0));
	/* closing a context returns what it still has borrowed */
	udd_ctx_close(c2);

	/* the last lease is gone: udd-sim exits and removes its sockets */
	int gone = 0;
	for (int i = 0; i < 100 && !gone; i++) {
		gone = !control_exists();
		if (!gone)
			usleep(100 * 1000);
	}
	CHECK(gone);
	/* and the next context starts it again */
	REQUIRE_OK(udd_ctx_open(&c1, &o));
	CHECK_EQ(udd_pool_list(c1, NULL, NULL, 0), 4);
	udd_ctx_close(c1);
	udd_ctx_close(NULL);
	return t_done("test_ctx_lifecycle");
}
