/* grade.h: what grading a sample comes to (pass, fail or error) and the
 * names reports and histories give it. */
#ifndef CANARY_GRADE_H
#define CANARY_GRADE_H

enum grade {
	GRADE_PASS,
	GRADE_FAIL,
	GRADE_ERROR,  /* the grader could not decide: never a pass or a fail */
	GRADE__COUNT,
};

/* grade_name: "pass", "fail" or "error" ("error" for a value out of range). */
const char *grade_name(enum grade g);
/* grade_parse: the inverse of grade_name; -1 when name is none of them. */
int grade_parse(const char *name, enum grade *out);

#endif
