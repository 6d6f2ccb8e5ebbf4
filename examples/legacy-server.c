/*
 * legacy-server: accept uploads, refuse the big ones early.
 *
 * Usage: legacy-server [--once] PORT [LIMIT]
 *
 * A fork-per-connection server of the classic kind.  When a client
 * announces a body larger than LIMIT the child answers "413 too large"
 * and closes at once, without reading the body, as many real servers do.
 * Closing with unread data makes Linux send RST instead of FIN, and that
 * reset is what kills a legacy client still busy writing its request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_LIMIT (1024UL * 1024)

static unsigned long parse_num(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		fprintf(stderr, "legacy-server: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static void write_str(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;	/* the client is gone; nothing left to tell it */
		}
		s += n;
		len -= (size_t)n;
	}
}

static void serve(int fd, unsigned long limit)
{
	char buf[64 * 1024], reply[64];
	unsigned long size, have = 0;
	size_t used = 0;
	char *nl = NULL;
	ssize_t n;

	/*
	 * Read until the request line is complete.  Whatever arrives with it
	 * is already the start of the body, so count it as such.
	 */
	while (nl == NULL && used < sizeof buf - 1) {
		n = read(fd, buf + used, sizeof buf - 1 - used);
		if (n <= 0)
			return;
		used += (size_t)n;
		buf[used] = '\0';
		nl = strchr(buf, '\n');
	}
	if (nl == NULL || sscanf(buf, "UPLOAD %lu", &size) != 1) {
		write_str(fd, "400 bad request\n");
		return;
	}
	have = (unsigned long)(used - (size_t)(nl + 1 - buf));

	if (size > limit) {
		/* Deliberately rude: answer, then close with the body unread. */
		write_str(fd, "413 too large\n");
		return;
	}
	while (have < size) {
		n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (unsigned long)n;
	}
	snprintf(reply, sizeof reply, "200 ok %lu bytes\n", have);
	write_str(fd, reply);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;
	unsigned long port, limit = DEFAULT_LIMIT;
	int once = 0, lfd, on = 1;

	if (argc > 1 && strcmp(argv[1], "--once") == 0) {
		once = 1;
		argv++;
		argc--;
	}
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: legacy-server [--once] PORT [LIMIT]\n");
		return 2;
	}
	port = parse_num(argv[1], "port");
	if (port > 65535) {
		fprintf(stderr, "legacy-server: bad port: %s\n", argv[1]);
		return 2;
	}
	if (argc == 3)
		limit = parse_num(argv[2], "limit");

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0) {
		perror("legacy-server: socket");
		return 1;
	}
	/* Scripts restart us on the same port; TIME_WAIT must not stop that. */
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) < 0) {
		perror("legacy-server");
		return 1;
	}
	/* Scripts wait for this line, so it must not sit in a stdio buffer. */
	printf("listening on %u\n", (unsigned)ntohs(sin.sin_port));
	fflush(stdout);

	for (;;) {
		pid_t pid;
		int cfd = accept(lfd, NULL, NULL);

		/*
		 * Reap finished children here rather than in a SIGCHLD handler:
		 * no async-signal-safety to worry about, and a zombie lives at
		 * most until the next connection.
		 */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("legacy-server: accept");
			return 1;
		}
		pid = fork();
		if (pid < 0) {
			perror("legacy-server: fork");
			close(cfd);
			continue;
		}
		if (pid == 0) {
			close(lfd);
			serve(cfd, limit);
			close(cfd);
			_exit(0);
		}
		/* The child owns the connection now; our copy would keep it open. */
		close(cfd);
		if (once) {
			waitpid(pid, NULL, 0);
			return 0;
		}
	}
}
