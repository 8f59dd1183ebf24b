/* max_latency.c: placeholder until written. */
