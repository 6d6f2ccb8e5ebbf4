/* musl has no <gshadow.h>: the wrapper of glibc's putsgent() needs only
 * the name of the structure (musl programs cannot call it). */
#ifndef RG_MUSL_GSHADOW_H
#define RG_MUSL_GSHADOW_H
#include <stdio.h>
struct sgrp;
int putsgent(const struct sgrp *ent, FILE *fp);
#endif
