/* closeerr: a program that closes its stderr before it exits, as coreutils
 * do (close_stdout), and then opens a file that gets number 2, with a
 * connection still open.  Whatever resetguard writes at exit (the
 * connection's graceful close, the summary) must reach the stderr the
 * program was started with, and nothing of it the file now numbered 2.
 *
 * usage: closeerr PORT FILE
 * Connects to 127.0.0.1:PORT, sends "hello\n", closes stderr, creates FILE
 * (as number 2), writes "data\n" to it and exits with the connection open.
 * Prints "ok" on stdout when FILE got number 2. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s, fd;

	if (argc != 3)
		return 2;
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 || write(s, "hello\n", 6) != 6)
		return 3;
	close(STDERR_FILENO);
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd != STDERR_FILENO || write(fd, "data\n", 5) != 5)
		return 4;
	printf("ok\n");
	return 0;
}
