/* test_template.c: placeholder. */
int main(void) { return 0; }
