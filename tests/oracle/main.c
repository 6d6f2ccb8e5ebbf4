/* oracle: the seeded differential oracle of resetguard (see oracle.h and
 * tests/oracle/run). */
#include <err.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oracle.h"

const char *oracle_self;

static int show_main(int argc, char **argv)
{
	static struct scenario sc;
	static const char *const disp[] = { "default", "ignored", "handler" };
	char buf[512];

	if (argc < 3)
		errx(2, "usage: oracle show SEED");
	gen_scenario(&sc, strtoull(argv[2], NULL, 10));
	printf("seed %llu: %d steps, SIGPIPE %s\n", (unsigned long long)sc.seed, sc.nsteps,
	       disp[sc.sigpipe]);
	for (int i = 0; i < sc.nsteps; i++) {
		show_step(&sc.s[i], i, buf, sizeof(buf));
		printf("%s\n", buf);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		err(2, "/proc/self/exe");
	self[n] = '\0';
	oracle_self = self;
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return super_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "prog"))
		return prog_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "peer"))
		return peer_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "report"))
		return report_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "show"))
		return show_main(argc, argv);
	fprintf(stderr, "usage: oracle check SEED [--lib PATH | --selfcheck] [-v] [--keep] [--one]\n"
			"       oracle show SEED\n");
	return 2;
}
