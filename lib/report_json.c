/* report_json.c: placeholder until written. */
