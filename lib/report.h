/* report.h: renderings of a finished run.
 *
 * Ownership: renderers borrow the run; report_json() returns a string the
 * caller frees.  Renderers write only to the FILE they are given.
 */
#ifndef CANARY_REPORT_H
#define CANARY_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct run;

struct report_text_options {
	bool color;     /* ANSI colour */
	bool verbose;   /* every failing sample, not only the first reason */
};

/* report_text: the human report: header (suite, counts, targets), the
 * per-stratum table, one line per case that did not pass with each target's
 * reason, and the verdict line. */
void report_text(FILE *out, const struct run *r, const struct report_text_options *o);

/* report_verdict_line: only the final verdict line (for --quiet). */
void report_verdict_line(FILE *out, const struct run *r, bool color);

/* report_json: the JSON report (DESIGN.md fields and more; every field is
 * described in docs/report-json.md). */
char *report_json(const struct run *r);

/* report_utf8_len: the length of the valid UTF-8 sequence that starts at s
 * (n bytes readable, n > 0); 0 when it is truncated, overlong or a
 * surrogate.  Shared by the renderers to keep invalid bytes out of output. */
size_t report_utf8_len(const unsigned char *s, size_t n);

#endif
