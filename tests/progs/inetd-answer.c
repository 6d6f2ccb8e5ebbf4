/* inetd-answer: an inetd-style service of the classic kind.  Its socket is
 * fd 0 and fd 1; it reads the first line through stdio, prints its answer
 * and just exits, leaving the kernel to close the connection with the rest
 * of the request unread. */
#include <stdio.h>

int main(void)
{
	char line[256];

	if (!fgets(line, sizeof(line), stdin))
		return 1;
	printf("413 too large\n");
	return 0;
}
