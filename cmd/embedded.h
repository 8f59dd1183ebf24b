/* embedded.h: files compiled into the binary (the demo's suite and agents). */
#ifndef CANARY_EMBEDDED_H
#define CANARY_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *name;
	const char *data;
	size_t len;
};

/* embedded_files: ends with a NULL name. */
extern const struct embedded_file embedded_files[];

/* embedded_find: the file with this base name, or NULL. */
const struct embedded_file *embedded_find(const char *name);

#endif
