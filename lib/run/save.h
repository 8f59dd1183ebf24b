/* run/save.h: --save-replies: every finished sample's request and reply
 * saved as evidence (evidence/evidence.h), one JSON file per sample, or
 * one log record per line of DIR/replies.jsonl.
 *
 * Ownership: a struct run_saver owns its log file and names until
 * run_saver_close(); a struct run_exchange owns its copies until
 * run_exchange_release().
 */
#ifndef CANARY_RUN_SAVE_H
#define CANARY_RUN_SAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct run;
struct case_result;
struct sample;

enum run_save_format {
	RUN_SAVE_JSON,   /* DIR/STRATUM/CASE/SIDE/INDEX.json */
	RUN_SAVE_JSONL,  /* DIR/replies.jsonl of log records */
};

/* What one sample sent and received, copied for saving. */
struct run_exchange {
	char *request;          /* the body, or NULL when none was built */
	char **headers;         /* "Name: value" as sent */
	size_t nheaders;
	char *body;             /* the reply body, or NULL when none arrived */
	size_t body_len;
	const char *header;     /* borrowed: the reply header kept, or NULL */
	char *header_value;
};

void run_exchange_release(struct run_exchange *x);

struct run_saver {
	const char *dir;        /* borrowed; NULL: saving is off */
	enum run_save_format format;
	FILE *log;              /* RUN_SAVE_JSONL: the temporary file */
	char *log_tmp;
	char *log_path;
	char *error;            /* why saving stopped, or NULL */
};

/* run_saver_open: start saving into dir (created when missing); -1 and
 * *err when it cannot be created or written. */
int run_saver_open(struct run_saver *sv, const char *dir, enum run_save_format format,
		   char **err);

/* run_saver_sample: save finished sample smp of cr, which sent and
 * received x (NULL: nothing was sent), redacted with the run's suite; in
 * JSON format its path goes to smp->reply_file.  A failure stops saving
 * and is kept in sv->error. */
void run_saver_sample(struct run_saver *sv, const struct run *r, const struct case_result *cr,
		      struct sample *smp, const struct run_exchange *x);

/* run_saver_close: finish the log (renamed into place) and free sv. */
void run_saver_close(struct run_saver *sv);

#endif
