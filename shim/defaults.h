/* Defaults that the command needs as well as the library: resetguard
 * --check looks at the sockets the library would write to. */
#ifndef RG_DEFAULTS_H
#define RG_DEFAULTS_H

#define RG_SYSLOG_SOCKET_DEFAULT "/dev/log"
#define RG_JOURNAL_SOCKET_DEFAULT "/run/systemd/journal/socket"
#define RG_CONF_DEFAULT "/etc/resetguard.conf"

#endif
