/* forkexec: a fork+exec server whose parent closes its copy of each
 * connection only after the service it exec'd has exited: the order in
 * which fork+exec servers (inetd, tcpserver) lose the race with a quick
 * service, made certain.
 *
 * usage: forkexec COUNT PROGRAM [ARGS...]
 * Prints "listening PORT", serves COUNT connections one at a time, each
 * by PROGRAM with the socket on fds 0 and 1, and exits. */
#include <sys/wait.h>

#include "common.h"

int main(int argc, char **argv)
{
	unsigned short port;
	int lfd, count;

	if (argc < 3)
		errx(2, "usage: forkexec COUNT PROGRAM [ARGS...]");
	count = atoi(argv[1]);
	lfd = listen_loopback(&port);
	printf("listening %u\n", port);
	fflush(stdout);
	for (int i = 0; i < count; i++) {
		int conn = accept(lfd, NULL, NULL);
		pid_t pid;

		if (conn < 0)
			err(2, "accept");
		pid = fork();
		if (pid < 0)
			err(2, "fork");
		if (pid == 0) {
			if (dup2(conn, 0) < 0 || dup2(conn, 1) < 0)
				err(2, "dup2");
			close(conn);
			close(lfd);
			execvp(argv[2], argv + 2);
			err(127, "%s", argv[2]);
		}
		if (waitpid(pid, NULL, 0) < 0)
			err(2, "waitpid");
		close(conn);
	}
	return 0;
}
