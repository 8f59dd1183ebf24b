/* transport/transport.c: every HTTP exchange of a run, on one libcurl multi loop.
 *
 * Retry policy.  An attempt that got no complete response (connection
 * refused, host not resolved, timeout, reset, empty or cut-off reply) or that
 * got status 408, 409, 429 or 5xx is retried, up to `retries` extra attempts.
 * Nothing else is retried: other 4xx, a 429 whose body says the quota is
 * exhausted, a reply larger than max_reply, a malformed URL, a TLS
 * verification failure.  Before retry n (1, 2, ...) the request waits a random
 * time in [0, min(backoff_max_ms, backoff_base_ms * 2^(n-1))] (full jitter);
 * when the reply carried Retry-After it waits at least that long, but never
 * more than backoff_max_ms.  A waiting retry holds no concurrency slot; when
 * it is due it goes to the front of its pool's queue.  The result of the last
 * attempt is what done() sees: a response of any status is ok, even a 503
 * after the retries ran out, but for a 3xx: redirects are not followed, and
 * one ends the request as a failure that says where it points.
 */
#include "transport/transport.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "provider.h"
#include "sse.h"
#include "util.h"
#include "version.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define MAX_HEADER_VALUE 4096   /* bytes kept of the captured header */
#define MAX_RETRY_AFTER 128     /* bytes kept of Retry-After */
#define MAX_POLL_MS 100         /* how often a signal-set stop flag is noticed */

/* One request through all its attempts. */
struct tjob {
	struct tjob *prev, *next;
	struct http_request *req;
	CURL *easy;                 /* while in flight */
	struct curl_slist *headers; /* built once, reused by every attempt */
	struct buf body;
	char *header_value;
	char *retry_after;
	bool too_big;
	bool encoded;               /* the reply had a Content-Encoding */
	bool body_seen;             /* the attempt's first body bytes came */
	bool streaming;             /* the body is an event stream, parsed into sse */
	struct sse sse;
	size_t stream_bytes;
	char *stream_error;         /* why the stream failed */
	char detail[CURL_ERROR_SIZE]; /* libcurl's error buffer for the attempt */
	bool interrupted;           /* ended by a stop, not by its own outcome */
	int attempts;
	double started_ms;          /* of the current attempt */
	double due_ms;              /* when a waiting retry may start */
};

struct tlist {
	struct tjob *head, *tail;
	size_t len;
};

struct transport {
	struct transport_options o;
	CURLM *multi;
	CURLSH *share;
	struct tlist queue[POOL__COUNT];
	struct tlist waiting;
	struct tlist inflight;
	int busy[POOL__COUNT];
	CURL **spare;               /* reset easy handles, ready for reuse */
	size_t nspare, spare_max;
	bool stopping;
	double next_start[POOL__COUNT]; /* with a rate: when the pool may start again */
	struct transport_stats stats;
};

static bool global_ready;

void transport_options_default(struct transport_options *o)
{
	o->concurrency[POOL_TARGET] = 16;
	o->concurrency[POOL_JUDGE] = 8;
	o->retries = 2;
	o->max_reply = (size_t)8 << 20;
	o->backoff_base_ms = 250;
	o->backoff_max_ms = 30000;
	o->grace_ms = 2000;
	o->wall_ms = util_wall_ms;
	for (int p = 0; p < POOL__COUNT; p++)
		o->rate[p] = 0;
}

static void tlist_append(struct tlist *l, struct tjob *j)
{
	j->next = NULL;
	j->prev = l->tail;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->len++;
}

static void tlist_prepend(struct tlist *l, struct tjob *j)
{
	j->prev = NULL;
	j->next = l->head;
	if (l->head)
		l->head->prev = j;
	else
		l->tail = j;
	l->head = j;
	l->len++;
}

static void tlist_remove(struct tlist *l, struct tjob *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
	j->prev = j->next = NULL;
	l->len--;
}

void http_request_free(struct http_request *req)
{
	if (!req)
		return;
	free(req->url);
	for (size_t i = 0; i < req->nheaders; i++)
		free(req->headers[i]);
	free(req->headers);
	free(req->body);
	free(req);
}

static void job_free(struct tjob *j)
{
	http_request_free(j->req);
	curl_slist_free_all(j->headers);
	buf_release(&j->body);
	free(j->header_value);
	free(j->retry_after);
	if (j->streaming)
		sse_release(&j->sse);
	free(j->stream_error);
	free(j);
}

static void job_clear_reply(struct tjob *j)
{
	buf_reset(&j->body);
	free(j->header_value);
	j->header_value = NULL;
	free(j->retry_after);
	j->retry_after = NULL;
	j->too_big = false;
	j->encoded = false;
	j->body_seen = false;
	if (j->streaming)
		sse_release(&j->sse);
	j->streaming = false;
	j->stream_bytes = 0;
	free(j->stream_error);
	j->stream_error = NULL;
}

static bool header_named(const struct http_request *req, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < req->nheaders; i++) {
		const char *h = req->headers[i];
		if (h && strncasecmp(h, name, n) == 0 && (h[n] == ':' || h[n] == ';'))
			return true;
	}
	return false;
}

/* The header list curl sends: the caller's lines, then the defaults the caller
 * did not set. */
static struct curl_slist *build_headers(const struct http_request *req)
{
	struct curl_slist *l = NULL;
	for (size_t i = 0; i < req->nheaders; i++) {
		if (req->headers[i])
			l = curl_slist_append(l, req->headers[i]);
	}
	if (req->body && !header_named(req, "Content-Type"))
		l = curl_slist_append(l, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip for large bodies. */
	if (req->body && !header_named(req, "Expect"))
		l = curl_slist_append(l, "Expect:");
	return l;
}

static bool status_retryable(long status)
{
	return status == 408 || status == 409 || status == 429 ||
	       (status >= 500 && status <= 599);
}

static bool code_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
		return true;
	default:
		return false;
	}
}

/* Short lowercase texts for the errors a user meets most: the first entry
 * of the code whose needle is NULL or in libcurl's error buffer, with the
 * buffer's text after a colon when detail is set.  The rest come from
 * curl_easy_strerror(); neither names the URL. */
static const struct {
	CURLcode code;
	const char *needle;
	const char *text;
	bool detail;
} error_table[] = {
	{CURLE_COULDNT_CONNECT, NULL, "connection refused", false},
	{CURLE_COULDNT_RESOLVE_HOST, NULL, "could not resolve host", false},
	{CURLE_COULDNT_RESOLVE_PROXY, NULL, "could not resolve proxy", false},
	{CURLE_GOT_NOTHING, NULL, "empty reply from server", false},
	{CURLE_RECV_ERROR, "chunked-encoding", "malformed chunked encoding in the reply", false},
	{CURLE_RECV_ERROR, "reset by peer", "connection reset while receiving", false},
	{CURLE_RECV_ERROR, NULL, "cannot receive the reply", true},
	{CURLE_SEND_ERROR, "reset by peer", "connection reset while sending", false},
	{CURLE_SEND_ERROR, NULL, "cannot send the request", true},
	{CURLE_PARTIAL_FILE, NULL, "reply cut off before its end", false},
	{CURLE_URL_MALFORMAT, NULL, "malformed url", false},
	{CURLE_UNSUPPORTED_PROTOCOL, "HTTP/0.9", "reply is not http (no status line)", false},
	{CURLE_UNSUPPORTED_PROTOCOL, NULL, "unsupported protocol (http and https only)", false},
	{CURLE_PEER_FAILED_VERIFICATION, NULL, "tls certificate verification failed", false},
	{CURLE_SSL_CONNECT_ERROR, NULL, "tls handshake failed", false},
	{CURLE_WEIRD_SERVER_REPLY, NULL, "reply is not valid http", true},
};

/* "Failure when receiving" -> "failure ...", but keep "SSL ...". */
static void lower_first(char *s)
{
	if (isupper((unsigned char)s[0]) && islower((unsigned char)s[1]))
		s[0] = (char)tolower((unsigned char)s[0]);
}

static char *error_text(CURLcode rc, const char *detail)
{
	for (size_t i = 0; i < ARRAY_SIZE(error_table); i++) {
		if (error_table[i].code != rc ||
		    (error_table[i].needle && !strstr(detail, error_table[i].needle)))
			continue;
		if (!error_table[i].detail || !*detail)
			return xstrdup(error_table[i].text);
		char *s = xasprintf("%s: %s", error_table[i].text, detail);
		lower_first(s + strlen(error_table[i].text) + 2);
		return s;
	}
	char *s = xstrdup(curl_easy_strerror(rc));
	lower_first(s);
	return s;
}

/* A 3xx reply as an error: canary sends each request to the URL the
 * suite names, so a redirect is a misconfigured URL, shown with where it
 * points (without userinfo, query and fragment). */
static char *redirect_text(CURL *easy, long status)
{
	char *location = NULL;
	curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &location);
	char *shown = location ? transport_display_url(location) : NULL;
	char *s = shown ? xasprintf("redirect (HTTP %ld) to '%s'; canary does not follow "
				    "redirects: give the final URL", status, shown)
			: xasprintf("redirect (HTTP %ld) without a location; canary does not "
				    "follow redirects", status);
	free(shown);
	return s;
}

char *transport_display_url(const char *url)
{
	char *shown = NULL, *text = NULL;
	CURLU *u = curl_url();
	if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
		curl_url_set(u, CURLUPART_USER, NULL, 0);
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
		curl_url_set(u, CURLUPART_QUERY, NULL, 0);
		curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
		if (curl_url_get(u, CURLUPART_URL, &text, 0) == CURLUE_OK)
			shown = xstrdup(text);
		curl_free(text);
	}
	curl_url_cleanup(u);
	return shown;
}

static long request_timeout(const struct http_request *req)
{
	return req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
}

static long request_connect_timeout(const struct http_request *req)
{
	return req->connect_timeout_ms > 0 ? req->connect_timeout_ms :
		DEFAULT_CONNECT_TIMEOUT_MS;
}

/* Which limit fired: the connect one when it is shorter and the attempt
 * ended before the whole-exchange limit. */
static char *timeout_text(const struct http_request *req, double elapsed_ms)
{
	long total = request_timeout(req);
	long connect = request_connect_timeout(req);
	long limit = connect < total && elapsed_ms < (double)total ? connect : total;
	return xasprintf("timed out after %ld ms", limit);
}

/* job_event: one event of a streamed reply, for the request's on_event, at
 * the time so far on the clock latency_ms is read from. */
static int job_event(void *user, const struct sse_event *ev, char **err)
{
	struct tjob *j = user;
	double elapsed = util_now_ms() - j->started_ms;
	curl_off_t us = 0;

	if (curl_easy_getinfo(j->easy, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK && us > 0)
		elapsed = (double)us / 1000.0;
	return j->req->on_event(j->req->user, ev, elapsed, err);
}

/* stream_start: whether the attempt's reply is an event stream the
 * request takes (2xx, text/event-stream); then its parser is ready. */
static bool stream_start(struct tjob *j)
{
	const char *type = NULL;
	long status = 0;

	if (!j->req->on_event || !j->easy)
		return false;
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(j->easy, CURLINFO_CONTENT_TYPE, &type);
	if (status < 200 || status > 299 || !type ||
	    strncasecmp(type, "text/event-stream", 17) != 0)
		return false;
	sse_init(&j->sse, j->body.max, job_event, j);
	return true;
}

/* stream_feed: parse the next bytes of an event stream; false ends it. */
static bool stream_feed(struct tjob *j, const char *p, size_t len)
{
	if (sse_feed(&j->sse, p, len, &j->stream_error) < 0)
		return false;
	j->stream_bytes += len;
	if (j->stream_bytes > j->body.max) {
		j->stream_error = xasprintf("event stream larger than %zu bytes, at event %lu",
					    j->body.max, j->sse.events + 1);
		return false;
	}
	return true;
}

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
	struct tjob *j = user;
	size_t len = size * n;
	if (!j->body_seen) {
		j->body_seen = true;
		j->streaming = stream_start(j);
	}
	if (j->streaming)
		return stream_feed(j, p, len) ? len : 0;
	if (!j->encoded && j->body.len == 0 && j->easy) {
		curl_off_t cl = -1;
		if (curl_easy_getinfo(j->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
				      &cl) == CURLE_OK && cl > 0 &&
		    (unsigned long long)cl > (unsigned long long)j->body.max) {
			j->too_big = true;
			return 0;
		}
	}
	if (buf_add(&j->body, p, len) < 0) {
		j->too_big = true;
		return 0;
	}
	return len;
}

static char *trimmed_dup(const char *p, size_t n, size_t max)
{
	while (n && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	return xstrndup(p, n < max ? n : max);
}

static bool name_is(const char *line, size_t name_len, const char *name)
{
	return strlen(name) == name_len && strncasecmp(line, name, name_len) == 0;
}

/* Keep the captured header and Retry-After of the final response; a status
 * line starts a new response (after a 1xx), so it forgets earlier ones. */
static size_t on_header(char *p, size_t size, size_t n, void *user)
{
	struct tjob *j = user;
	size_t len = size * n;
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		job_clear_reply(j);
		return len;
	}
	const char *colon = memchr(p, ':', len);
	if (!colon)
		return len;
	size_t name_len = (size_t)(colon - p);
	const char *v = colon + 1;
	size_t vlen = len - name_len - 1;
	const char *want = j->req->capture_header;
	if (want && !j->header_value && name_is(p, name_len, want))
		j->header_value = trimmed_dup(v, vlen, MAX_HEADER_VALUE);
	if (!j->retry_after && name_is(p, name_len, "Retry-After"))
		j->retry_after = trimmed_dup(v, vlen, MAX_RETRY_AFTER);
	if (name_is(p, name_len, "Content-Encoding"))
		j->encoded = true;
	return len;
}

static CURL *easy_get(struct transport *t)
{
	if (t->nspare)
		return t->spare[--t->nspare];
	CURL *e = curl_easy_init();
	if (e && t->share)
		curl_easy_setopt(e, CURLOPT_SHARE, t->share);
	return e;
}

static void easy_put(struct transport *t, CURL *e)
{
	if (t->nspare < t->spare_max) {
		curl_easy_reset(e);
		t->spare[t->nspare++] = e;
	} else {
		curl_easy_cleanup(e);
	}
}

static void configure(CURL *e, struct tjob *j)
{
	const struct http_request *req = j->req;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, request_timeout(req));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, request_connect_timeout(req));
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "canary/" CANARY_VERSION);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
	if (req->body) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	j->detail[0] = '\0';
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->detail);
}

/* Hand the result to done() and free the request.  body is NULL when the
 * reply is not kept; error is taken over. */
static void job_finish(struct transport *t, struct tjob *j, bool ok, long status,
		       char *error, double latency_ms)
{
	struct http_result res = {
		.ok = ok,
		.status = ok ? status : 0,
		.error = error,
		.latency_ms = latency_ms,
		.attempts = j->attempts,
		.interrupted = j->interrupted,
	};
	if (ok) {
		res.streamed = j->streaming;
		res.body = buf_detach(&j->body, &res.body_len);
		res.header_value = j->header_value;
		j->header_value = NULL;
	} else {
		res.body = xstrdup("");
	}
	t->stats.requests++;
	if (j->req->done)
		j->req->done(&res, j->req->user);
	free(res.body);
	free(res.header_value);
	free(res.error);
	job_free(j);
}

/* Start one attempt of j now; a handle that cannot be created or added ends
 * the request. */
static void job_start(struct transport *t, struct tjob *j)
{
	enum transport_pool pool = j->req->pool;
	CURL *e = easy_get(t);
	j->attempts++;
	t->stats.attempts++;
	j->started_ms = util_now_ms();
	job_clear_reply(j);
	if (!e) {
		job_finish(t, j, false, 0, xstrdup("cannot create a curl handle"), 0);
		return;
	}
	configure(e, j);
	j->easy = e;
	CURLMcode mc = curl_multi_add_handle(t->multi, e);
	if (mc != CURLM_OK) {
		j->easy = NULL;
		easy_put(t, e);
		job_finish(t, j, false, 0, xstrdup(curl_multi_strerror(mc)), 0);
		return;
	}
	t->busy[pool]++;
	tlist_append(&t->inflight, j);
}

/* Take j's attempt out of the multi handle; returns the attempt's time. */
static double job_detach(struct transport *t, struct tjob *j)
{
	double latency = util_now_ms() - j->started_ms;
	curl_off_t us = 0;
	if (curl_easy_getinfo(j->easy, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK && us > 0)
		latency = (double)us / 1000.0;
	curl_multi_remove_handle(t->multi, j->easy);
	easy_put(t, j->easy);
	j->easy = NULL;
	t->busy[j->req->pool]--;
	tlist_remove(&t->inflight, j);
	return latency;
}

/* The wait before retry number n (1-based), in ms. */
static long backoff_ms(const struct transport *t, int n, const char *retry_after)
{
	long cap = t->o.backoff_max_ms > 0 ? t->o.backoff_max_ms : 0;
	long ceiling = t->o.backoff_base_ms > 0 ? t->o.backoff_base_ms : 0;
	for (int i = 1; i < n && ceiling < cap; i++)
		ceiling = ceiling > LONG_MAX / 2 ? LONG_MAX : ceiling * 2;
	if (ceiling > cap)
		ceiling = cap;
	long wait = (long)(util_random() * (double)ceiling);
	if (retry_after) {
		long ra = transport_parse_retry_after(retry_after, t->o.wall_ms());
		if (ra > wait)
			wait = ra;
	}
	return wait < cap ? wait : cap;
}

/* stream_complete: how an attempt whose reply was an event stream ended:
 * a failure once an event came is final; before that, retried as any. */
static void stream_complete(struct tjob *j, CURLcode rc, double latency, bool *retry,
			    char **error)
{
	char *why;

	*retry = false;
	if (j->stream_error) {
		*error = j->stream_error;
		j->stream_error = NULL;
		return;
	}
	if (rc == CURLE_OK) {
		if (sse_finish(&j->sse, error) == 0)
			*error = NULL;
		return;
	}
	why = rc == CURLE_OPERATION_TIMEDOUT ? timeout_text(j->req, latency)
					     : error_text(rc, j->detail);
	if (!j->sse.events) {
		*retry = code_retryable(rc);
		*error = why;
		return;
	}
	*error = xasprintf("%s in the event stream, after event %lu", why, j->sse.events);
	free(why);
}

/* An attempt ended with curl code rc: retry it, or finish the request. */
static void job_complete(struct transport *t, struct tjob *j, CURLcode rc)
{
	long status = 0;
	char *redirect = NULL;
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && status >= 300 && status <= 399)
		redirect = redirect_text(j->easy, status);
	double latency = job_detach(t, j);
	bool retry;
	char *error = NULL;
	if (j->streaming) {
		stream_complete(j, rc, latency, &retry, &error);
		free(redirect);
	} else if (j->too_big) {
		retry = false;
		error = xasprintf("reply larger than %zu bytes", j->body.max);
		free(redirect);
	} else if (redirect) {
		retry = false;
		error = redirect;
	} else if (rc == CURLE_OK) {
		retry = status_retryable(status) &&
			!(status == 429 && provider_quota_exhausted(j->body.data, j->body.len));
	} else {
		retry = code_retryable(rc);
		error = rc == CURLE_OPERATION_TIMEDOUT ? timeout_text(j->req, latency) :
			error_text(rc, j->detail);
	}
	if (retry && j->attempts <= t->o.retries && t->stopping) {
		/* It would have been retried: its outcome is not a result. */
		free(error);
		error = xstrdup("interrupted");
		j->interrupted = true;
	} else if (retry && j->attempts <= t->o.retries) {
		free(error);
		j->due_ms = util_now_ms() + (double)backoff_ms(t, j->attempts, j->retry_after);
		t->stats.retries++;
		tlist_append(&t->waiting, j);
		return;
	}
	job_finish(t, j, error == NULL, status, error, latency);
}

struct transport *transport_new(const struct transport_options *o, char **err)
{
	struct transport_options d;
	if (!o) {
		transport_options_default(&d);
		o = &d;
	}
	for (int p = 0; p < POOL__COUNT; p++) {
		if (o->concurrency[p] < 1) {
			*err = xasprintf("concurrency must be at least 1, not %d",
					 o->concurrency[p]);
			return NULL;
		}
	}
	if (o->retries < 0 || o->max_reply == 0 || o->backoff_base_ms < 0 ||
	    o->backoff_max_ms < 0 || o->grace_ms < 0 || !(o->rate[POOL_TARGET] >= 0) ||
	    !(o->rate[POOL_JUDGE] >= 0)) {
		*err = xstrdup("invalid transport options: negative or zero limit");
		return NULL;
	}
	if (!global_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			*err = xstrdup("cannot initialise libcurl");
			return NULL;
		}
		global_ready = true;
	}
	struct transport *t = xcalloc(1, sizeof(*t));
	t->o = *o;
	t->multi = curl_multi_init();
	if (!t->multi) {
		*err = xstrdup("cannot create a libcurl multi handle");
		free(t);
		return NULL;
	}
	long slots = 0;
	for (int p = 0; p < POOL__COUNT; p++)
		slots += o->concurrency[p];
	curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, slots);
	/* TLS sessions are shared between easy handles; DNS and connections
	 * already live in the multi handle.  No locks: one thread. */
	t->share = curl_share_init();
	if (t->share)
		curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	t->spare_max = (size_t)slots;
	t->spare = xcalloc(t->spare_max, sizeof(*t->spare));
	return t;
}

/* new_job: a queued job for req. */
static struct tjob *new_job(struct transport *t, struct http_request *req)
{
	struct tjob *j = xcalloc(1, sizeof(*j));
	if ((unsigned)req->pool >= POOL__COUNT)
		req->pool = POOL_TARGET;
	j->req = req;
	j->headers = build_headers(req);
	buf_init(&j->body, t->o.max_reply);
	return j;
}

void transport_submit(struct transport *t, struct http_request *req)
{
	struct tjob *j = new_job(t, req);
	tlist_append(&t->queue[req->pool], j);
}

void transport_submit_front(struct transport *t, struct http_request *req)
{
	struct tjob *j = new_job(t, req);
	tlist_prepend(&t->queue[j->req->pool], j);
}

/* Finish every queued and waiting request as interrupted; done() may queue
 * more, which end the same way. */
static void fail_pending(struct transport *t)
{
	for (;;) {
		struct tjob *j = t->waiting.head;
		struct tlist *l = &t->waiting;
		for (int p = 0; !j && p < POOL__COUNT; p++) {
			l = &t->queue[p];
			j = l->head;
		}
		if (!j)
			return;
		tlist_remove(l, j);
		j->interrupted = true;
		job_finish(t, j, false, 0, xstrdup("interrupted"), 0);
	}
}

static void cut_inflight(struct transport *t)
{
	struct tjob *j;
	while ((j = t->inflight.head)) {
		double latency = util_now_ms() - j->started_ms;
		job_detach(t, j);
		j->interrupted = true;
		job_finish(t, j, false, 0, xstrdup("interrupted"), latency);
	}
}

/* rate_allows: whether pool p's rate lets an attempt start at now. */
static bool rate_allows(const struct transport *t, int p, double now)
{
	return t->o.rate[p] <= 0 || now >= t->next_start[p];
}

/* Move due retries to the front of their queues, then start what fits
 * (with a rate, one attempt per 1/rate seconds). */
static void start_ready(struct transport *t, double now)
{
	struct tjob *j = t->waiting.head;
	while (j) {
		struct tjob *next = j->next;
		if (j->due_ms <= now) {
			tlist_remove(&t->waiting, j);
			tlist_prepend(&t->queue[j->req->pool], j);
		}
		j = next;
	}
	for (int p = 0; p < POOL__COUNT; p++) {
		while (t->busy[p] < t->o.concurrency[p] && t->queue[p].head &&
		       rate_allows(t, p, now)) {
			j = t->queue[p].head;
			tlist_remove(&t->queue[p], j);
			if (t->o.rate[p] > 0)
				t->next_start[p] = (t->next_start[p] > now - 1000.0 / t->o.rate[p]
							    ? t->next_start[p] : now) +
						   1000.0 / t->o.rate[p];
			job_start(t, j);
		}
	}
}

static bool can_start(const struct transport *t, double now)
{
	for (int p = 0; p < POOL__COUNT; p++) {
		if (t->queue[p].head && t->busy[p] < t->o.concurrency[p] && rate_allows(t, p, now))
			return true;
	}
	return false;
}

static bool has_pending(const struct transport *t)
{
	for (int p = 0; p < POOL__COUNT; p++) {
		if (t->queue[p].head)
			return true;
	}
	return t->waiting.head != NULL;
}

/* How long the loop may sleep: until the next due retry or the end of the
 * grace period, and never long enough to miss a stop request. */
static long poll_timeout(const struct transport *t, double now, double deadline)
{
	if (t->stopping ? has_pending(t) : can_start(t, now))
		return 0;
	double wait = MAX_POLL_MS;
	if (t->stopping && deadline - now < wait)
		wait = deadline - now;
	for (int p = 0; p < POOL__COUNT && !t->stopping; p++) {
		if (t->queue[p].head && t->busy[p] < t->o.concurrency[p] &&
		    t->next_start[p] - now < wait)
			wait = t->next_start[p] - now;
	}
	for (const struct tjob *j = t->waiting.head; j; j = j->next) {
		if (j->due_ms - now < wait)
			wait = j->due_ms - now;
	}
	return wait <= 0 ? 0 : (long)wait + 1;
}

int transport_run(struct transport *t, volatile sig_atomic_t *stop, char **err)
{
	int rc = 0;
	double deadline = 0;
	t->stopping = false;
	for (;;) {
		double now = util_now_ms();
		if (!t->stopping && stop && *stop) {
			t->stopping = true;
			deadline = now + (double)t->o.grace_ms;
		}
		if (t->stopping && *stop > 1)
			deadline = now; /* a second signal: no more grace */
		if (t->stopping) {
			fail_pending(t);
			if (now >= deadline)
				cut_inflight(t);
		} else {
			start_ready(t, now);
		}
		if (!t->inflight.head && !has_pending(t))
			break;
		int running = 0;
		CURLMcode mc = curl_multi_perform(t->multi, &running);
		if (mc != CURLM_OK) {
			*err = xasprintf("libcurl: %s", curl_multi_strerror(mc));
			rc = -1;
			goto out;
		}
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(t->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *e = msg->easy_handle;
			CURLcode res = msg->data.result;
			char *priv = NULL;
			curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
			job_complete(t, (struct tjob *)priv, res);
		}
		long timeout = poll_timeout(t, util_now_ms(), deadline);
		if (timeout > 0) {
			mc = curl_multi_poll(t->multi, NULL, 0, (int)timeout, NULL);
			if (mc != CURLM_OK) {
				*err = xasprintf("libcurl: %s", curl_multi_strerror(mc));
				rc = -1;
				goto out;
			}
		}
	}
out:
	t->stopping = false;
	return rc;
}

void transport_get_stats(const struct transport *t, struct transport_stats *out)
{
	*out = t->stats;
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	struct tjob *j;
	while ((j = t->inflight.head)) {
		job_detach(t, j);
		job_free(j);
	}
	for (int p = 0; p < POOL__COUNT; p++) {
		while ((j = t->queue[p].head)) {
			tlist_remove(&t->queue[p], j);
			job_free(j);
		}
	}
	while ((j = t->waiting.head)) {
		tlist_remove(&t->waiting, j);
		job_free(j);
	}
	for (size_t i = 0; i < t->nspare; i++)
		curl_easy_cleanup(t->spare[i]);
	free(t->spare);
	curl_multi_cleanup(t->multi);
	if (t->share)
		curl_share_cleanup(t->share);
	free(t);
}

long transport_parse_retry_after(const char *value, long long now_wall_ms)
{
	if (!value)
		return -1;
	while (isspace((unsigned char)*value))
		value++;
	size_t n = strlen(value);
	while (n && isspace((unsigned char)value[n - 1]))
		n--;
	if (n == 0 || n > 64)
		return -1;
	char s[65];
	memcpy(s, value, n);
	s[n] = '\0';
	if (isdigit((unsigned char)s[0])) {
		/* delay-seconds: digits only. */
		for (size_t i = 0; i < n; i++) {
			if (!isdigit((unsigned char)s[i]))
				return -1;
		}
		errno = 0;
		unsigned long long secs = strtoull(s, NULL, 10);
		if (errno == ERANGE || secs > (unsigned long long)(LONG_MAX / 1000))
			return LONG_MAX / 1000 * 1000;
		return (long)secs * 1000;
	}
	/* An HTTP date always starts with a day name. */
	time_t when = curl_getdate(s, NULL);
	if (when == (time_t)-1)
		return -1;
	long long ms = (long long)when * 1000 - now_wall_ms;
	if (ms < 0)
		return 0;
	return ms > LONG_MAX ? LONG_MAX : (long)ms;
}
