/* otlp/otlp.h: a run's report exported as OpenTelemetry traces and logs,
 * OTLP/HTTP with the JSON encoding (docs/telemetry.md).
 *
 * The report, not the run, is what is exported: a run span, a client span
 * per sample (one request) with the GenAI semantic-convention attributes,
 * and one gen_ai.evaluation.result log record per grader per sample,
 * parented to its sample's span.  Requests hold at most OTLP_BATCH_MAX
 * spans or log records each, and are built one at a time as the previous
 * one is answered, so memory holds one request body, whatever the run's
 * size.
 *
 * Ownership: a struct otlp_config owns its strings and pairs until
 * otlp_config_release(); struct otlp_batches borrows its report and config,
 * and the bodies otlp_batches_next() returns are the caller's.  Messages
 * (*err) are the caller's to free.
 */
#ifndef CANARY_OTLP_H
#define CANARY_OTLP_H

#include <signal.h>
#include <stddef.h>

struct report;
struct transport_options;

/* The most spans or log records one request carries. */
#define OTLP_BATCH_MAX 4096

/* A key and a value of OTEL_EXPORTER_OTLP_HEADERS or
 * OTEL_RESOURCE_ATTRIBUTES. */
struct otlp_pair {
	char *key;
	char *value;
};

struct otlp_config {
	char *endpoint;             /* the base URL: v1/traces and v1/logs go below it */
	struct otlp_pair *headers;  /* sent with every request */
	size_t nheaders;
	struct otlp_pair *resource; /* resource attributes, over the defaults */
	size_t nresource;
	size_t batch;               /* items per request (0: OTLP_BATCH_MAX) */
	long timeout_ms;            /* per attempt (0: 10 s) */
};

/* otlp_parse_pairs: "key=value,key2=value2" (the W3C baggage form the
 * OpenTelemetry variables use: spaces around keys and values trimmed,
 * values percent-decoded) appended to *pairs; -1 and *err naming what (the
 * variable) when a member has no '=' or an empty key, or a value a bad
 * percent escape.  The message never quotes a value. */
int otlp_parse_pairs(const char *text, const char *what, struct otlp_pair **pairs, size_t *n,
		     char **err);

/* otlp_signal_url: endpoint with "v1/traces" or "v1/logs" (signal) below
 * its path, as the specification joins them (a query stays at the end). */
char *otlp_signal_url(const char *endpoint, const char *signal);

void otlp_config_release(struct otlp_config *c);

/* The requests of one export, built in turn. */
struct otlp_batches;

/* otlp_batches_new: the export of r with c's resource attributes, batch
 * size and fresh random trace and span ids. */
struct otlp_batches *otlp_batches_new(const struct report *r, const struct otlp_config *c);
/* otlp_batches_next: the next request body (OTLP JSON), the signal it is
 * of ("traces", then "logs") and how many spans or records it holds; NULL
 * when every one was returned. */
char *otlp_batches_next(struct otlp_batches *b, const char **signal, size_t *items);
void otlp_batches_free(struct otlp_batches *b);

/* otlp_export: POST every request of r's export to c's endpoint, one at a
 * time, on a transport of its own with o's retries (and concurrency 1),
 * stopping when *stop (may be NULL) becomes non-zero or once a request
 * could not be delivered (after its retries; a collector that rejected
 * part of a request gets the rest).  -1 and *err (the first failure:
 * "HTTP 503 from http://host/v1/traces", "2 of 40 spans rejected: ...")
 * when anything was not delivered.  *err never holds a header value or
 * URL credentials. */
int otlp_export(const struct report *r, const struct otlp_config *c,
		const struct transport_options *o, volatile sig_atomic_t *stop, char **err);

#endif
