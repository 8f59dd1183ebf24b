/* test_report.c: placeholder. */
int main(void) { return 0; }
