/* side.h: the two targets every case is sent to, and their names in
 * suites, reports and histories. */
#ifndef CANARY_SIDE_H
#define CANARY_SIDE_H

enum side {
	SIDE_EVAL,
	SIDE_PROD,
	SIDE__COUNT,
};

/* side_name: "eval" or "prod" ("?" for a value out of range). */
const char *side_name(enum side s);

#endif
