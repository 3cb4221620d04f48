/* The client's terminal: raw while the worker's run wants it so, restored when the run ends. */
#include <termios.h>
#include <unistd.h>

#include "client.h"

static struct termios saved;
static int is_raw;

/*
 * The same settings as Node's setRawMode (libuv's raw mode): no echo, no canonical lines, no
 * signal characters (the controller's line discipline applies the guest's), eight-bit input.
 */
void terminal_raw(int on) {
  if (on && !is_raw) {
    struct termios t;
    if (tcgetattr(0, &saved) != 0) return;
    t = saved;
    t.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
    t.c_oflag |= ONLCR;
    t.c_cflag |= CS8;
    t.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(0, TCSADRAIN, &t) == 0) is_raw = 1;
  } else if (!on && is_raw) {
    tcsetattr(0, TCSADRAIN, &saved);
    is_raw = 0;
  }
}
