/* grade.c: the names of grades. */
#include "grade.h"

#include <string.h>

static const char *const grade_names[GRADE__COUNT] = {
	[GRADE_PASS] = "pass",
	[GRADE_FAIL] = "fail",
	[GRADE_ERROR] = "error",
};

const char *grade_name(enum grade g)
{
	return (unsigned)g < GRADE__COUNT ? grade_names[g] : grade_names[GRADE_ERROR];
}

int grade_parse(const char *name, enum grade *out)
{
	for (int g = 0; name && g < GRADE__COUNT; g++) {
		if (strcmp(name, grade_names[g]) == 0) {
			*out = (enum grade)g;
			return 0;
		}
	}
	return -1;
}
