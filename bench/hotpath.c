/* hotpath: N round trips of one byte through a socketpair (write + read on
 * each end) or N writes to /dev/null, to count what each wrapped call costs.
 *
 * usage: hotpath socket|send|devnull N */
#include <err.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int sv[2];
	char c = 'x';
	long n = argc > 2 ? atol(argv[2]) : 100000;
	const char *mode = argc > 1 ? argv[1] : "socket";

	if (!strcmp(mode, "devnull")) {
		int fd = open("/dev/null", O_WRONLY);

		for (long i = 0; i < n; i++)
			if (write(fd, &c, 1) != 1)
				err(1, "write");
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		err(1, "socketpair");
	for (long i = 0; i < n; i++) {
		if (!strcmp(mode, "send")) {
			if (send(sv[0], &c, 1, 0) != 1 || recv(sv[1], &c, 1, 0) != 1)
				err(1, "send/recv");
		} else if (write(sv[0], &c, 1) != 1 || read(sv[1], &c, 1) != 1) {
			err(1, "write/read");
		}
	}
	return 0;
}
