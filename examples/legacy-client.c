/*
 * legacy-client: upload a body, then read the answer.
 *
 * Usage: legacy-client HOST PORT [BYTES]
 *
 * Written the way countless clients were written in the 1990s: blocking
 * sockets, plain write(), and no thought given to SIGPIPE.  It reads the
 * server's answer only after it has sent the whole request, so a server
 * that answers early and closes (413, 501, ...) gets the connection reset
 * under it, and the second write after the reset raises SIGPIPE, which
 * kills this process before it ever looks at the answer.  That is the
 * failure resetguard exists for; do not "fix" it here.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define CHUNK ((size_t)64 * 1024)
#define DEFAULT_BYTES (8UL * 1024 * 1024)

static int dial(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;	/* "localhost" may well be ::1 first */
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "legacy-client: %s: %s\n", host, gai_strerror(rc));
		return -1;
	}
	/* Try every address, as a resolver may list ones we cannot reach. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		perror("legacy-client: connect");
	freeaddrinfo(res);
	return fd;
}

/*
 * Send all of buf.  A short write is not an error on a socket, just
 * back-pressure, so keep going; give up only when write() fails.
 */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char body[CHUNK];
	char line[64], reply[4096];
	unsigned long total = DEFAULT_BYTES, left;
	size_t got = 0;
	ssize_t n;
	int fd, len, failed = 0;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: legacy-client HOST PORT [BYTES]\n");
		return 2;
	}
	if (argc == 4) {
		char *end;

		errno = 0;
		total = strtoul(argv[3], &end, 10);
		if (errno != 0 || end == argv[3] || *end != '\0') {
			fprintf(stderr, "legacy-client: bad size: %s\n", argv[3]);
			return 2;
		}
	}

	fd = dial(argv[1], argv[2]);
	if (fd < 0)
		return 1;

	memset(body, 'x', sizeof body);
	len = snprintf(line, sizeof line, "UPLOAD %lu\n", total);
	if (write_all(fd, line, (size_t)len) < 0) {
		perror("legacy-client: write");
		goto answer;
	}
	for (left = total; left > 0;) {
		size_t chunk = left < CHUNK ? (size_t)left : CHUNK;

		/*
		 * Legacy optimism: one failed chunk might be a hiccup, so try
		 * the next; a second failure ends the upload.  After a reset the
		 * first failure is usually ECONNRESET, which raises no signal,
		 * and the retry is EPIPE: with SIGPIPE at its default, that
		 * write never returns and the answer is never read.
		 */
		if (write_all(fd, body, chunk) < 0) {
			perror("legacy-client: write");
			if (failed++)
				break;
		}
		left -= chunk;
	}

answer:
	/* Request first, answer after: only now does a client like this look. */
	while ((n = read(fd, reply, sizeof reply)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("legacy-client: read");
			break;
		}
		fwrite(reply, 1, (size_t)n, stdout);
		got += (size_t)n;
	}
	fflush(stdout);
	close(fd);
	return got > 0 ? 0 : 1;
}
