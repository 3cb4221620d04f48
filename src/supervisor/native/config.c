/* The configuration on stdin (see config.h). */
#include "config.h"

#include "end.h"
#include "words.h"

void read_configuration(struct local *lc, struct relay_config *rc) {
  struct words cfg;
  enum frame_status s = read_words(0, MAX_FRAME, 1, &cfg);
  if (s == FRAME_NONE || s == FRAME_CUT) controller_gone();
  if (s == FRAME_IO) fatal("read from controller");
  if (s != FRAME_OK) frame_fatal("configuration", s);
  int n = (int)cfg.n; /* at most MAX_FRAME words */
  for (int k = 0; k < n; k++)
    if (local_option(lc, n, cfg.word, &k) != 1 && relay_option(rc, n, cfg.word, &k) != 1)
      word_fatal("bad word in the configuration", cfg.word[k]);
  free_words(&cfg); /* the tables keep copies */
}
