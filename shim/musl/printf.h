/* musl has no <printf.h>: the wrappers of glibc's printf hooks need only
 * the name of the structure (musl programs cannot call them). */
#ifndef RG_MUSL_PRINTF_H
#define RG_MUSL_PRINTF_H
#include <stdio.h>
struct printf_info;
int printf_size(FILE *fp, const struct printf_info *info, const void *const *args);
#endif
