/* transport/transport.h: every HTTP exchange of a run, on one libcurl multi loop.
 *
 * Requests wait in a queue and start while their pool has room (targets and
 * the judge have separate limits), so the number in flight stays bounded.
 * Connections are reused.  A connection error, a timeout, 408, 409, 429 and
 * 5xx are retried up to `retries` times with exponential backoff and full
 * jitter; Retry-After (seconds or an HTTP date) is honoured up to
 * backoff_max_ms.  A 429 whose body says the quota is exhausted is not
 * retried.  Redirects are not followed: a 3xx reply is an error naming its
 * Location.  A reply larger than max_reply is cut off and becomes a failure.
 * TLS verification is always on.
 *
 * Ownership: transport_submit() takes the request and everything it points
 * to (url, headers, body) and frees it after calling done().  The result
 * passed to done() is valid only during the call; done() may take
 * result->body by setting it to NULL.  done() may submit new requests.
 */
#ifndef CANARY_TRANSPORT_H
#define CANARY_TRANSPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct sse_event;

enum transport_pool {
	POOL_TARGET,
	POOL_JUDGE,
	POOL__COUNT,
};

struct transport_options {
	int concurrency[POOL__COUNT]; /* requests in flight per pool (16, 8) */
	int retries;                  /* extra attempts (2) */
	size_t max_reply;             /* bytes (8 MiB) */
	long backoff_base_ms;         /* first backoff ceiling (250 ms) */
	long backoff_max_ms;          /* cap on one wait, Retry-After included (30 s) */
	long grace_ms;                /* after a stop, how long in-flight requests may finish (2 s) */
	/* rate: attempts started per second in each pool (0: no limit): the
	 * loop's poll timeout waits for the next start, so nothing sleeps. */
	double rate[POOL__COUNT];
	long long (*wall_ms)(void);   /* the clock a Retry-After date is read against (util_wall_ms) */
};

/* transport_options_default: fill o with the defaults above. */
void transport_options_default(struct transport_options *o);

struct http_result {
	bool ok;             /* a response arrived (any status but 3xx); false: see error */
	long status;         /* HTTP status when ok */
	char *body;          /* NUL-terminated; owned by the transport unless taken */
	size_t body_len;
	char *header_value;  /* the captured header's value, or NULL */
	char *error;         /* when !ok: "connection refused", "timed out after 2000 ms", ... */
	double latency_ms;   /* of the last attempt */
	int attempts;
	bool interrupted;    /* ended by the stop (see transport_run), not by its outcome */
	bool streamed;       /* the body was an event stream, given to on_event: none is kept */
};

struct http_request {
	char *url;
	char **headers;      /* "Name: value" lines */
	size_t nheaders;
	char *body;          /* NULL: GET; otherwise POST */
	size_t body_len;
	long timeout_ms;     /* whole exchange, per attempt (0: 30 s) */
	long connect_timeout_ms; /* (0: 10 s) */
	const char *capture_header; /* borrowed: a response header to keep, or NULL */
	enum transport_pool pool;
	/* on_event: when set, a 2xx reply of Content-Type text/event-stream
	 * is parsed as it arrives (lib/sse.h), each event going to
	 * on_event(user, ev, ms since the attempt started, err), and its body
	 * is not kept.  A negative return, an event over max_reply, a stream
	 * over max_reply, one cut inside an event, or a transfer that fails
	 * after the first event ends the request as a failure naming the
	 * event, never retried. */
	int (*on_event)(void *user, const struct sse_event *ev, double elapsed_ms, char **err);
	void (*done)(struct http_result *res, void *user);
	void *user;
};

/* http_request_free: free req and everything it points to (NULL: nothing),
 * for a request that is never submitted. */
void http_request_free(struct http_request *req);

struct transport_stats {
	long requests;       /* requests finished */
	long attempts;       /* HTTP attempts made, retries included */
	long retries;
};

struct transport;

struct transport *transport_new(const struct transport_options *o, char **err);
/* transport_submit: queue a heap-allocated request (see ownership above). */
void transport_submit(struct transport *t, struct http_request *req);
/* transport_submit_front: queue req before every queued request of its
 * pool (a conversation's next step, which must not wait behind new work). */
void transport_submit_front(struct transport *t, struct http_request *req);
/* transport_run: run until every request, and every request submitted by a
 * done() callback, has finished.  When *stop becomes non-zero, nothing new
 * starts, queued requests finish as failures ("interrupted"), and in-flight
 * ones (target and judge alike) get grace_ms before they are cut off, or
 * none once *stop is 2 or more (a second signal).  -1 and *err only when
 * libcurl itself fails. */
int transport_run(struct transport *t, volatile sig_atomic_t *stop, char **err);
void transport_get_stats(const struct transport *t, struct transport_stats *out);
void transport_free(struct transport *t);

/* transport_display_url: url without userinfo, query and fragment (caller
 * frees); NULL when it does not parse. */
char *transport_display_url(const char *url);

/* transport_parse_retry_after: a Retry-After value (delay-seconds or an
 * HTTP date) in ms from now; -1 when unparsable. */
long transport_parse_retry_after(const char *value, long long now_wall_ms);

#endif
