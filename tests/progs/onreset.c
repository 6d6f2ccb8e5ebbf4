/* onreset: run a program whose stdout is a TCP connection the peer has
 * already reset, with the reset's ECONNRESET taken, so that the program's
 * first write to stdout meets EPIPE (and SIGPIPE, without resetguard).
 *
 * usage: onreset PROGRAM [ARG...]   (run resetguard as PROGRAM to preload it
 * into the program only, not into this helper) */
#include "common.h"

int main(int argc, char **argv)
{
	struct conn c;
	char byte;

	if (argc < 2)
		errx(2, "usage: onreset PROGRAM [ARG...]");
	conn_open(&c, "inet", "");
	conn_reset(&c);
	if (read(c.client, &byte, 1) != -1 || errno != ECONNRESET)
		errx(2, "expected ECONNRESET from the reset connection");
	if (dup2(c.client, STDOUT_FILENO) < 0)
		err(2, "dup2");
	close(c.client);
	execvp(argv[1], argv + 1);
	err(127, "%s", argv[1]);
}
