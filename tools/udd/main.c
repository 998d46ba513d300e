/* SPDX-License-Identifier: MIT */
/*
 * udd — look at and poke the devices of the udd pool.
 *
 *   udd list [-v] [--json] [--vendor V] [--device D] [--class C[/MASK]]
 *   udd info FDID
 *   udd read FDID SET OFFSET [-w 8|16|32|64]
 *   udd write FDID SET OFFSET VALUE [-w 8|16|32|64]
 *   udd bind [--force] BDF
 *   udd unbind [--force] [--no-probe] BDF
 *   udd add [--group GROUP] BDF     lend BDF through the udd-sim daemon
 *   udd remove [--force] BDF        stop lending it
 *
 * Uses only the public API (udd/udd.h). Device names come from pciutils'
 * pci.ids through libpci; libpci is initialised on an empty dump so that it
 * never looks at this host's bus.
 *
 * bind/unbind change which kernel driver owns a PCI device of this host (only
 * when asked: nothing else in udd ever does). They work on sysfs, under
 * $UDD_SYSFS_ROOT (default /sys) so that tests can use a fake tree.
 *
 * Exit status: 0 success, 1 bad input or a failed operation, 2 usage error.
 */
#include "udd.h"


const char *prog = "udd";

void die_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void usage(FILE *f)
{
	fprintf(f,
		"Usage: udd COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  list [-v] [--json] [--vendor V] [--device D] [--class C[/MASK]]\n"
		"        list the devices of the pool (lspci-like); -v adds subsystem,\n"
		"        register sets and interrupt counts; --json prints JSON\n"
		"  info FDID\n"
		"        ids, register sets, interrupts and decoded capabilities\n"
		"  read FDID SET OFFSET [-w 8|16|32|64]\n"
		"        read a register and print it in hex (default width 32)\n"
		"  write FDID SET OFFSET VALUE [-w 8|16|32|64] [-r]\n"
		"        write a register (borrows the device exclusively); -r: read it\n"
		"        back in the same borrow and print it. A simulated device is\n"
		"        powered on afresh when its last borrower returns it, so a value\n"
		"        written does not outlive the command\n"
		"  bind [--force] BDF\n"
		"        give PCI device BDF (DDDD:BB:DD.F) to vfio-pci so udd can borrow it;\n"
		"        refused while its driver is in use (a mounted block device, a\n"
		"        network interface that is up) unless --force\n"
		"  connect [--key FILE] [--node N] [--insecure] HOST[:PORT]\n"
		"        add the gateway (udd-gw) of another host to the cluster file, after\n"
		"        asking it for its devices; they join `udd list` (docs/cluster.md)\n"
		"  disconnect HOST[:PORT]\n"
		"        remove a gateway from the cluster file\n"
		"  add [--group GROUP] BDF\n"
		"        lend BDF (bound to vfio-pci) to many borrowers through the udd-sim\n"
		"        daemon of the runtime directory (started if none runs); its socket\n"
		"        joins the pool, mode 0600 or 0660 for GROUP\n"
		"  remove [--force] BDF\n"
		"        stop lending BDF; refused while it is borrowed unless --force\n"
		"  unbind [--force] [--no-probe] BDF\n"
		"        take BDF from vfio-pci and give it back to its default driver\n"
		"        (--no-probe: leave it without a driver); refused while a udd\n"
		"        program has it borrowed unless --force\n"
		"\n"
		"FDID, OFFSET, VALUE: decimal or 0x-prefixed hex.\n"
		"SET: an rnumber (0 = config space, then each BAR), bar0..bar5, or cfg.\n"
		"Exit status: 0 ok, 1 bad input or failure, 2 usage error.\n");
}


int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)
		return cmd_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "info") == 0)
		return cmd_info(argc - 1, argv + 1);
	if (strcmp(argv[1], "read") == 0)
		return cmd_rw(argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "write") == 0)
		return cmd_rw(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "bind") == 0)
		return cmd_bind(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "unbind") == 0)
		return cmd_bind(argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "connect") == 0)
		return cmd_connect(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "disconnect") == 0)
		return cmd_connect(argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "add") == 0)
		return cmd_lend(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "remove") == 0)
		return cmd_lend(argc - 1, argv + 1, 0);
	die_msg("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}

