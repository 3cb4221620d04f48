/*
 * Linked into the sanitizer build of the supervisor only (scripts/build-native.mjs --sanitize):
 * its sanitizer settings, built in because the supervisor's environment is the guest's and must
 * carry nothing of ours. Leak checks are off: the supervisor ends with _exit and keeps its tables
 * for the whole run on purpose.
 */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *__asan_default_options(void) {
  return "detect_leaks=0:halt_on_error=1:exitcode=99:print_summary=1";
}

const char *__ubsan_default_options(void) {
  return "halt_on_error=1:print_stacktrace=1:exitcode=99";
}
