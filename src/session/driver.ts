/**
 * The program a session's guest runs (`python -c DRIVER_SOURCE LIMIT`): it reads requests from
 * its stdin and answers in frames on its real stdout. Python 2.7 and 3 alike (the sandboxed
 * PyPy 2.7 build runs it too), standard library only, no signal module needed.
 *
 * Requests (host to guest): a 4-byte big-endian length, then JSON: `run` (code), `call`
 * (function, JSON args), `mark` (the interrupt the host sent for request `id`).
 * Frames (guest to host): `PBX`, a kind byte, a 4-byte big-endian length, the payload:
 * `R` ready (JSON), `O`/`E` a piece of the snippet's stdout/stderr (UTF-8), `o`/`e` a piece of what
 * other threads wrote while no request ran (sent as the next request starts), `D` done (JSON).
 *
 * What a snippet prints goes through stand-in sys.stdout/sys.stderr objects into O/E frames; its
 * sys.stdin reads nothing. Snippets run in the namespace of a fresh `__main__` module, not in
 * the driver's own globals. The driver keeps its own references to os.read/os.write, so a
 * snippet that rebinds them does not change how the driver talks to the host.
 */
/** How deep a call's return value may nest (its outermost value at depth 0): checked here and by the host. */
export const MAX_VALUE_DEPTH = 100;

export const DRIVER_SOURCE = String.raw`
import sys, os, _ast
# The builtin halves of signal and ast: their Python wrappers (enum, contextlib, ...) cost a cold
# start much more than the session needs of them.
try:
    import _signal as signal
except ImportError:
    try:
        import signal
    except ImportError:
        signal = None
PY2 = sys.version_info[0] == 2
if PY2:
    import __builtin__ as builtins
    TEXT = unicode
    INTS = (int, long)
    STRS = (str, unicode)
else:
    import builtins
    TEXT = str
    INTS = (int,)
    STRS = (str,)
MASK = getattr(signal, 'pthread_sigmask', None)
INTERRUPT = [signal.SIGINT] if signal is not None else []
LIMIT = int(sys.argv[1])
CHUNK = 65536
REPR_CHARS = 65536
_read = os.read
_write = os.write
if PY2:
    import struct
    def be32(n):
        return struct.pack('>I', n)
    def from_be32(b):
        return struct.unpack('>I', b)[0]
else:
    def be32(n):
        return n.to_bytes(4, 'big')
    def from_be32(b):
        return int.from_bytes(b, 'big')
# The thread primitives without the threading module (its import costs a cold start dearly).
try:
    import _thread as threads
except ImportError:
    try:
        import thread as threads
    except ImportError:
        threads = None
if threads is not None:
    MAIN_IDENT = threads.get_ident()
    if hasattr(threads, 'RLock'):
        LOCK = threads.RLock()
    else:
        import threading
        LOCK = threading.RLock()
    def is_main():
        return threads.get_ident() == MAIN_IDENT
else:
    class NoLock(object):
        def acquire(self):
            pass
        def release(self):
            pass
    LOCK = NoLock()
    def is_main():
        return True
ST = {'live': False, 'running': False, 'sending': False, 'pending': False, 'sigs': 0, 'marks': 0}

def on_interrupt(signum, frame):
    # A mark read while idle stands for a signal still on its way: that one is stale.
    if ST['marks'] > 0:
        ST['marks'] -= 1
        return
    ST['sigs'] += 1
    if not ST['running']:
        return
    if ST['sending']:
        ST['pending'] = True
        return
    raise KeyboardInterrupt

def masked(fn, *args):
    # On a kernel without killable waits (before Linux 5.19), a signal that interrupts a call the
    # supervisor is answering makes the call start again once the handler has run: a write would
    # go out twice, a read lose its bytes. The driver's own reads and writes therefore hold SIGINT
    # back there too; it comes the moment they are done.
    if MASK is None:
        return fn(*args)
    MASK(signal.SIG_BLOCK, INTERRUPT)
    try:
        return fn(*args)
    finally:
        MASK(signal.SIG_UNBLOCK, INTERRUPT)

def send(kind, payload):
    data = b'PBX' + kind + be32(len(payload)) + payload
    LOCK.acquire()
    ST['sending'] = True
    try:
        while data:
            data = data[masked(_write, 1, data):]
    finally:
        ST['sending'] = False
        LOCK.release()
    if ST['pending'] and ST['running'] and is_main():
        ST['pending'] = False
        raise KeyboardInterrupt

# JSON out without the json module (it brings re with it): the answers hold strings, booleans,
# None and dicts only. Lone surrogates go out as \udcXX escapes, which JSON reads as such.
ESCAPES = dict((i, u'\\u%04x' % i) for i in range(32))
ESCAPES[ord('"')] = u'\\"'
ESCAPES[ord('\\')] = u'\\\\'

def to_json(v):
    if v is None:
        return u'null'
    if v is True:
        return u'true'
    if v is False:
        return u'false'
    if isinstance(v, dict):
        return u'{' + u','.join(to_json(k) + u':' + to_json(x) for k, x in v.items()) + u'}'
    if not isinstance(v, TEXT):
        v = v.decode('utf-8', 'replace') if isinstance(v, bytes) else TEXT(v)
    return u'"' + v.translate(ESCAPES) + u'"'

def json_bytes(obj):
    return to_json(obj).encode('utf-8', 'replace' if PY2 else 'backslashreplace')

def send_json(kind, obj):
    send(kind, json_bytes(obj))

INBUF = [b'']

def read_exact(n):
    buf = INBUF[0]
    while len(buf) < n:
        more = masked(_read, 0, max(CHUNK, n - len(buf)))
        if not more:
            return None
        buf += more
    INBUF[0] = buf[n:]
    return buf[:n]

def next_request():
    head = read_exact(4)
    if head is None:
        return None
    n = from_be32(head)
    body = read_exact(n)
    if body is None:
        return None
    # kind NUL id NUL fresh NUL payload: the code itself, or a call's JSON.
    kind, rid, fresh, payload = body.decode('utf-8').split(u'\x00', 3)
    req = {'t': kind, 'id': rid, 'fresh': fresh == u'1'}
    if kind == u'run':
        req['code'] = payload
    elif kind == u'call':
        import json
        req.update(json.loads(payload))
    return req

class Output(object):
    softspace = 0
    closed = False
    errors = 'strict'
    encoding = 'utf-8'
    newlines = None
    line_buffering = False

    def __init__(self, kind):
        self.kind = kind
        self.parts = []
        self.size = 0
        # What other threads write while no request runs: kept apart, at most LIMIT bytes.
        self.idle = []
        self.idle_size = 0
        self.dropped = 0
        self.buffer = BinaryOutput(self)

    def write(self, s):
        if isinstance(s, TEXT):
            data = s.encode('utf-8', 'backslashreplace' if not PY2 else 'replace')
        elif PY2 and isinstance(s, str):
            data = s
        else:
            raise TypeError('write() argument must be str, not %s' % type(s).__name__)
        self.write_bytes(data)
        return len(s)

    def write_bytes(self, data):
        data = bytes(data)
        LOCK.acquire()
        try:
            if not ST['live']:
                self.keep_idle(data)
                return len(data)
            self.parts.append(data)
            self.size += len(data)
            if self.size >= CHUNK:
                self.flush()
        finally:
            LOCK.release()
        return len(data)

    def keep_idle(self, data):
        # Between requests (a thread that goes on printing) nothing can be sent: the output waits
        # for the next request, bounded; what is past the bound is counted, and the host told.
        room = max(LIMIT - self.idle_size, 0)
        if room < len(data):
            self.dropped += len(data) - room
            data = data[:room]
        if data:
            self.idle.append(data)
            self.idle_size += len(data)

    def flush_idle(self):
        data = b''.join(self.idle)
        self.idle = []
        self.idle_size = 0
        while data:
            send(self.kind.lower(), data[:CHUNK])
            data = data[CHUNK:]
        dropped, self.dropped = self.dropped, 0
        return dropped

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        LOCK.acquire()
        try:
            if not ST['live']:
                return
            data = b''.join(self.parts)
            self.parts = []
            self.size = 0
            while data:
                send(self.kind, data[:CHUNK])
                data = data[CHUNK:]
        finally:
            LOCK.release()

    def isatty(self):
        return False

    def writable(self):
        return True

    def readable(self):
        return False

    def fileno(self):
        raise IOError('the session captures this stream: it has no descriptor')

class BinaryOutput(object):
    def __init__(self, text):
        self.text = text

    def write(self, data):
        return self.text.write_bytes(data)

    def flush(self):
        self.text.flush()

class NoInput(object):
    closed = False
    encoding = 'utf-8'

    def read(self, n=-1):
        return ''

    def readline(self, n=-1):
        return ''

    def readlines(self, n=-1):
        return []

    def isatty(self):
        return False

    def fileno(self):
        raise IOError('a session snippet has no standard input')

    def __iter__(self):
        return iter([])

MAIN = type(sys)('__main__')
MAIN.__dict__['__builtins__'] = builtins
sys.modules['__main__'] = MAIN
NS = MAIN.__dict__
COUNT = [0]

def snippet_name():
    COUNT[0] += 1
    return '<cell-%d>' % COUNT[0]

SOURCES = {}
UNSYNCED = []

def remember_source(name, code):
    SOURCES[name] = (len(code), None, [line + '\n' for line in code.splitlines()], name)
    UNSYNCED.append(name)
    sync_sources()

def sync_sources():
    # The cells' lines go to linecache (tracebacks) once something has imported it: not before, as
    # its import is a large part of a cold start.
    linecache = sys.modules.get('linecache')
    if linecache is None:
        return
    while UNSYNCED:
        name = UNSYNCED.pop()
        linecache.cache[name] = SOURCES[name]

def compile_snippet(code, name):
    tree = compile(code, name, 'exec', _ast.PyCF_ONLY_AST)
    last = None
    if tree.body and isinstance(tree.body[-1], _ast.Expr):
        last = _ast.Expression(body=tree.body.pop().value)
    return compile(tree, name, 'exec'), (compile(last, name, 'eval') if last is not None else None)

def shown(value):
    text = repr(value)
    if PY2 and isinstance(text, unicode):
        text = text.encode('utf-8', 'replace')
    if len(text) > REPR_CHARS:
        text = text[:REPR_CHARS] + '... (%d characters in all)' % len(text)
    return text

def source_line(filename, lineno):
    import linecache
    return linecache.getline(filename, lineno).strip() or None

def user_frames(tb):
    # The driver's own frames (the loop around the code, the interrupt handler) are left out.
    frames = []
    while tb is not None:
        if tb.tb_frame.f_globals is not DRIVER_GLOBALS:
            frames.append(tb)
        tb = tb.tb_next
    return [(t.tb_frame.f_code.co_filename, t.tb_lineno, t.tb_frame.f_code.co_name, source_line(t.tb_frame.f_code.co_filename, t.tb_lineno)) for t in frames]

def error_of(exc_type, exc, tb):
    import traceback, linecache
    sync_sources()
    try:
        message = TEXT(exc) if not PY2 else str(exc)
    except Exception:
        message = '<unprintable %s>' % exc_type.__name__
    try:
        frames = user_frames(tb)
        head = ['Traceback (most recent call last):\n'] + traceback.format_list(frames) if frames else []
        text = ''.join(head + traceback.format_exception_only(exc_type, exc))
    except Exception:
        text = '%s: %s\n' % (exc_type.__name__, message)
    return {'type': exc_type.__name__, 'message': message, 'traceback': text}

def run_code(req):
    code = req['code']
    name = snippet_name()
    remember_source(name, code)
    body, last = compile_snippet(code, name)
    exec(body, NS)
    if last is None:
        return {'value': None}
    value = eval(last, NS)
    if value is None:
        return {'value': None}
    NS['_'] = value
    return {'value': shown(value)}

def find_function(spec):
    if ':' not in spec:
        raise ValueError('expected "module:function", got %r' % spec)
    module, attr = spec.split(':', 1)
    if module in ('', '__main__'):
        target = MAIN
    else:
        __import__(module)
        target = sys.modules[module]
    for part in attr.split('.'):
        target = getattr(target, part)
    return target

def check_json(value, where, depth):
    if depth > ${MAX_VALUE_DEPTH}:
        raise TypeError('the return value nests deeper than ${MAX_VALUE_DEPTH} levels at %s' % where)
    if value is None or isinstance(value, (bool,) + INTS + STRS):
        return
    if isinstance(value, float):
        if value != value or value in (float('inf'), float('-inf')):
            raise TypeError('the return value holds %r at %s, which JSON cannot carry' % (value, where))
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_json(item, '%s[%d]' % (where, i), depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, STRS):
                raise TypeError('the return value has a key of type %s at %s, which JSON cannot carry' % (type(key).__name__, where))
            check_json(item, '%s[%r]' % (where, key), depth + 1)
        return
    raise TypeError('the return value holds a value of type %s at %s, which JSON cannot carry' % (type(value).__name__, where))

def call_function(req):
    fn = find_function(req['fn'])
    args = req.get('args') or []
    kwargs = req.get('kwargs') or {}
    if PY2:
        kwargs = dict((str(k), v) for k, v in kwargs.items())
    value = fn(*args, **kwargs)
    check_json(value, 'result', 0)
    import json
    return {'json': json.dumps(value, allow_nan=False)}

OUT, ERR = Output(b'O'), Output(b'E')

def install_streams():
    sys.stdout = sys.__stdout__ = OUT
    sys.stderr = sys.__stderr__ = ERR
    sys.stdin = sys.__stdin__ = NoInput()

def serve(req):
    answer = {'id': req['id'], 'value': None, 'error': None}
    LOCK.acquire()
    try:
        ST['live'] = True
        install_streams()
        dropped = OUT.flush_idle() + ERR.flush_idle()
        if dropped:
            answer['dropped'] = TEXT(dropped)
    finally:
        LOCK.release()
    try:
        try:
            if req.get('fresh') and not PY2:
                # Files the host changed: the import system's directory caches are out of date.
                import importlib
                importlib.invalidate_caches()
            ST['running'] = True
            answer.update(run_code(req) if req['t'] == 'run' else call_function(req))
        except BaseException:
            ST['running'] = False
            exc_type, exc, tb = sys.exc_info()
            answer['error'] = error_of(exc_type, exc, tb)
            del tb
    except KeyboardInterrupt:
        answer['error'] = {'type': 'KeyboardInterrupt', 'message': '', 'traceback': 'KeyboardInterrupt\n'}
    ST['running'] = False
    try:
        data = json_bytes(answer)
    except Exception:
        data = json_bytes({'id': req['id'], 'value': None, 'error': {'type': 'ValueError', 'message': 'the answer could not be encoded', 'traceback': ''}})
    if len(data) > LIMIT:
        data = json_bytes({'id': req['id'], 'value': None, 'error': {'type': 'ValueError', 'message': 'the answer is %d bytes, more than the session carries (%d)' % (len(data), LIMIT), 'traceback': ''}})
    LOCK.acquire()
    try:
        OUT.flush()
        ERR.flush()
        send(b'D', data)
        ST['live'] = False
    finally:
        LOCK.release()

def main():
    if signal is not None:
        signal.signal(signal.SIGINT, on_interrupt)
    install_streams()
    impl = getattr(sys, 'implementation', None)
    send_json(b'R', {'version': sys.version.split()[0], 'implementation': impl.name if impl else ('pypy' if 'PyPy' in sys.version else 'cpython'), 'interrupts': signal is not None})
    while True:
        req = next_request()
        if req is None:
            return
        if req['t'] == u'mark':
            if ST['sigs'] > 0:
                ST['sigs'] -= 1
            else:
                ST['marks'] += 1
            continue
        serve(req)

DRIVER_GLOBALS = globals()
main()
`;
